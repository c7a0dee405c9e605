"""Asking signers a question, answering once each, results from the aggregate rows, written-answer moderation and
the signed answer link, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import InvalidInput, NotFound
from campaigns.core.models import Answer, AnswerCount, AuditEntry, Signature, utcnow
from campaigns.people import supporter_data
from campaigns.questions import answering, asking, free_text, links, results, tally
from tests.support.factories import future, make_campaign, sign_from


def ask(engine, campaign_id, **overrides):
    values = {
        "prompt": "Which action next?",
        "options": ["March", "Letters", "Call-in day"],
        "closes_at": future(7),
        "allow_free_text": True,
    }
    values.update(overrides)
    return run_write(engine, lambda s: asking.ask_question(session=s, campaign_id=campaign_id, actor=CLI, **values))


def answer(engine, question, signature_id, option_index=0, text=None, option_id=None, now=None):
    chosen = option_id if option_id is not None else question.options[option_index][0]
    return run_write(
        engine,
        lambda s: answering.answer(
            session=s, question_id=question.id, signature_id=signature_id, option_id=chosen, free_text=text, now=now
        ),
    )


def read(engine, question):
    with read_session(engine) as session:
        return results.read_results(session=session, question_id=question.id)


def naive(engine, question):
    """What the aggregate rows must equal: the answers themselves, grouped."""
    with read_session(engine) as session:
        rows = session.execute(
            select(Answer.option_id, Answer.region_code, func.count())
            .where(Answer.question_id == question.id, Answer.counted)  # a held signature's answer waits
            .group_by(Answer.option_id, Answer.region_code)
        ).all()
    return {(int(o), r): int(n) for o, r, n in rows}


def aggregated(result):
    return {(o, r): n for r, options in result.by_region.items() for o, n in options.items()}


@pytest.fixture
def campaign(engine):
    return make_campaign(engine, slug="libraries")


# --- asking --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"options": ["Only one"]}, "options", "at least 2"),
        ({"options": [f"Option {i}" for i in range(30)]}, "options", "at most 6"),
        ({"options": ["March", "march ", "Letters"]}, "options", "same thing"),
        ({"options": ["March", "x" * 121]}, "options", "at most 120"),
        ({"prompt": "   "}, "prompt", "missing"),
        ({"prompt": "x" * 301}, "prompt", "at most 300"),
        ({"closes_at": utcnow() - timedelta(minutes=1)}, "closes_at", "already passed"),
        ({"closes_at": None}, "closes_at", "Choose when"),
    ],
)
def test_a_bad_question_is_refused_with_one_clear_message(engine, campaign, changes, field, words):
    with pytest.raises(InvalidInput) as caught:
        ask(engine, campaign.id, **changes)
    assert words in caught.value.errors[field]
    with read_session(engine) as session:
        assert asking.list_questions(session=session, campaign_id=campaign.id) == []


def test_blank_option_lines_are_dropped_and_the_question_is_audited(engine, campaign):
    question = ask(engine, campaign.id, options=["  March ", "", "Letters", "  "])
    assert [label for _, label in question.options] == ["March", "Letters"]
    assert question.is_open
    with read_session(engine) as session:
        actions = session.execute(select(AuditEntry.action)).scalars().all()
        assert "question.ask" in actions
        assert asking.open_question(session=session, campaign_id=campaign.id).id == question.id


# --- answering -----------------------------------------------------------------------------------


def test_an_answer_counts_once_and_a_later_one_replaces_it(engine, campaign):
    question = ask(engine, campaign.id)
    signed = sign_from(engine, "libraries", region_code="US-CA")
    first = answer(engine, question, signed.signature_id, 0)
    assert not first.replaced
    again = answer(engine, question, signed.signature_id, 2, text="Both, really")
    assert again.replaced
    got = read(engine, question)
    assert got.total == 1
    assert [o.count for o in got.options] == [0, 0, 1]
    assert got.by_region == {"US-CA": {question.options[2][0]: 1}}
    with read_session(engine) as session:
        mine = answering.get_my_answer(session=session, question_id=question.id, signature_id=signed.signature_id)
    assert mine is not None and mine.option_id == question.options[2][0] and mine.free_text == "Both, really"
    assert mine.free_text_status == "pending"


def test_answers_after_closing_are_refused(engine, campaign):
    question = ask(engine, campaign.id, closes_at=future(1))
    signed = sign_from(engine, "libraries")
    with pytest.raises(answering.AnswerRefused, match="closed"):
        answer(engine, question, signed.signature_id, now=utcnow() + timedelta(days=2))
    run_write(engine, lambda s: asking.close_question(session=s, question_id=question.id, actor=CLI))
    with pytest.raises(answering.AnswerRefused, match="closed"):
        answer(engine, question, signed.signature_id)
    assert read(engine, question).total == 0


def test_a_withdrawn_signature_cannot_answer_and_a_withdrawal_takes_its_answer_out(engine, campaign):
    question = ask(engine, campaign.id)
    stays = sign_from(engine, "libraries", region_code="US-NY")
    leaves = sign_from(engine, "libraries", region_code="US-CA", email="leaves@example.org")
    answer(engine, question, stays.signature_id, 1)
    answer(engine, question, leaves.signature_id, 1)
    run_write(
        engine,
        lambda s: supporter_data.withdraw_signature(
            session=s, email_canonical="leaves@example.org", signature_id=leaves.signature_id
        ),
    )
    with pytest.raises(answering.AnswerRefused, match="withdrawn"):
        answer(engine, question, leaves.signature_id, 0)
    got = read(engine, question)
    assert got.total == 1 and got.by_region == {"US-NY": {question.options[1][0]: 1}}
    with read_session(engine) as session:
        assert answering.answerable_question(session=session, signature_id=leaves.signature_id) is None
        assert answering.answerable_question(session=session, signature_id=stays.signature_id).id == question.id


def test_an_option_of_another_question_or_a_signature_of_another_campaign_is_refused(engine, campaign):
    question = ask(engine, campaign.id)
    other = ask(engine, campaign.id, prompt="Where?", options=["Here", "There"])
    signed = sign_from(engine, "libraries")
    with pytest.raises(InvalidInput, match="another question"):
        answer(engine, question, signed.signature_id, option_id=other.options[0][0])
    make_campaign(engine, slug="parks")
    stranger = sign_from(engine, "parks")
    with pytest.raises(NotFound):
        answer(engine, question, stranger.signature_id)
    no_text = ask(engine, campaign.id, prompt="Yes or no?", options=["Yes", "No"], allow_free_text=False)
    with pytest.raises(InvalidInput, match="no written answer"):
        answer(engine, no_text, signed.signature_id, text="Maybe")
    assert read(engine, question).total == 0


def test_counts_stay_exact_under_many_concurrent_changes(engine, campaign):
    """Real threads: several signers change their answers at once, each also racing with themselves."""
    question = ask(engine, campaign.id, options=["A", "B", "C", "D"])
    regions = ["US-CA", "US-NY", "US-TX"]
    signatures = [
        sign_from(engine, "libraries", region_code=regions[i % 3], email=f"racer{i}@example.org").signature_id
        for i in range(6)
    ]
    jobs = [(sid, (sid + k) % 4) for sid in signatures for k in range(8)]
    barrier = threading.Barrier(8)

    def one(job):
        sid, index = job
        if jobs.index(job) < 8:
            barrier.wait()
        return answer(engine, question, sid, index)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, jobs))
    got = read(engine, question)
    assert got.total == len(signatures)
    assert aggregated(got) == naive(engine, question)
    with read_session(engine) as session:
        assert session.execute(select(func.count()).select_from(Answer)).scalar_one() == len(signatures)


def test_rebuilt_counts_equal_the_kept_ones(engine, campaign):
    question = ask(engine, campaign.id)
    for i in range(4):
        signed = sign_from(engine, "libraries", region_code=["US-CA", "US-VT"][i % 2])
        answer(engine, question, signed.signature_id, i % 3)
    kept = aggregated(read(engine, question))
    assert run_write(engine, lambda s: tally.rebuild_counts(session=s, question_id=question.id)) == 4
    assert aggregated(read(engine, question)) == kept
    with read_session(engine) as session:
        assert session.execute(select(func.sum(AnswerCount.count))).scalar_one() == 4


def test_results_by_region_feed_the_dashboard_frame(engine, campaign):
    question = ask(engine, campaign.id)
    for region, index in [("US-CA", 0), ("US-CA", 0), ("US-NY", 1)]:
        answer(engine, question, sign_from(engine, "libraries", region_code=region).signature_id, index)
    got = read(engine, question)
    assert [round(o.share, 2) for o in got.options] == [0.67, 0.33, 0.0]
    assert results.leading_by_region(got) == {"US-CA": question.options[0][0], "US-NY": question.options[1][0]}
    with read_session(engine) as session:
        everyone = results.region_frame(session=session, results=got)
        first = results.region_frame(session=session, results=got, option_id=question.options[0][0])
    assert {"code", "name", "count", "shape_id", "per_100k", "rank"} <= set(everyone.columns)
    assert dict(zip(everyone["code"], everyone["count"], strict=True))["US-NY"] == 1
    assert first.iloc[0]["code"] == "US-CA" and int(first.iloc[0]["count"]) == 2
    assert int(first["count"].sum()) == 2


# --- written answers -------------------------------------------------------------------------------


def test_written_answers_are_public_only_once_approved_and_when_results_are_shown(engine, campaign):
    question = ask(engine, campaign.id)
    one = sign_from(engine, "libraries", region_code="US-CA").signature_id
    two = sign_from(engine, "libraries", region_code="US-NY").signature_id
    answer(engine, question, one, 0, text="<b>Marches</b> work")
    answer(engine, question, two, 1, text="Letters land on desks")
    with read_session(engine) as session:
        queue = free_text.list_free_text(session=session, question_id=question.id)
        assert [q.text for q in queue] == ["<b>Marches</b> work", "Letters land on desks"]
        assert free_text.public_free_text(session=session, question_id=question.id) == []
    run_write(
        engine,
        lambda s: free_text.approve_free_text(
            session=s, question_id=question.id, seen={queue[0].answer_id: queue[0].version}, actor=CLI
        ),
    )
    run_write(
        engine,
        lambda s: free_text.hide_free_text(
            session=s, question_id=question.id, seen={queue[1].answer_id: queue[1].version}, actor=CLI
        ),
    )
    with read_session(engine) as session:
        assert free_text.public_free_text(session=session, question_id=question.id) == []  # results not shown
    run_write(engine, lambda s: asking.set_results_public(session=s, question_id=question.id, public=True, actor=CLI))
    with read_session(engine) as session:
        shown = free_text.public_free_text(session=session, question_id=question.id)
        assert [(p.text, p.region_name) for p in shown] == [("<b>Marches</b> work", "California")]
        assert free_text.count_free_text(session=session, question_id=question.id) == 0
    answer(engine, question, one, 0, text="Marches, and more")  # rewritten: back to the queue
    with read_session(engine) as session:
        assert free_text.public_free_text(session=session, question_id=question.id) == []
        assert free_text.count_free_text(session=session, question_id=question.id) == 1
    assert run_write(engine, lambda s: answering.erase_free_text(session=s, signature_ids=[one, two])) == 2
    assert read(engine, question).total == 2  # the options stay counted, anonymous


def test_an_organizer_decides_only_on_the_words_they_read(engine, campaign):
    question = ask(engine, campaign.id)
    one = sign_from(engine, "libraries", region_code="US-CA").signature_id
    answer(engine, question, one, 0, text="Marches work")
    with read_session(engine) as session:
        [read_then] = free_text.list_free_text(session=session, question_id=question.id)
    answer(engine, question, one, 0, text="Something the organizer never read")  # same answer id, back to pending
    for decide in (free_text.approve_free_text, free_text.hide_free_text):
        with pytest.raises(free_text.AnswerChanged, match="changed since you read it: review it again"):
            run_write(
                engine,
                lambda s, decide=decide: decide(
                    session=s, question_id=question.id, seen={read_then.answer_id: read_then.version}, actor=CLI
                ),
            )
    with read_session(engine) as session:
        [now_] = free_text.list_free_text(session=session, question_id=question.id)
        assert now_.answer_id == read_then.answer_id and now_.status == "pending"
        assert session.execute(select(func.count()).where(AuditEntry.action == "answer_text.approve")).scalar_one() == 0
    seen = {now_.answer_id: now_.version}
    assert (
        run_write(
            engine, lambda s: free_text.approve_free_text(session=s, question_id=question.id, seen=seen, actor=CLI)
        )
        == 1
    )
    assert (
        run_write(
            engine, lambda s: free_text.approve_free_text(session=s, question_id=question.id, seen=seen, actor=CLI)
        )
        == 0
    )
    run_write(engine, lambda s: answering.erase_free_text(session=s, signature_ids=[one]))  # no words left to decide on
    with pytest.raises(free_text.AnswerChanged):
        run_write(engine, lambda s: free_text.hide_free_text(session=s, question_id=question.id, seen=seen, actor=CLI))


def test_public_results_leave_out_regions_too_small_to_hide_an_answer(engine, campaign):
    question = ask(engine, campaign.id)
    plan = [("US-CA", 0)] * 4 + [("US-CA", 1)] * 2 + [("US-NY", 1)] * 5 + [("US-TX", 2)] * 2 + [("US-WA", 0)]
    for region, index in plan:
        answer(engine, question, sign_from(engine, "libraries", region_code=region).signature_id, index)
    exact = read(engine, question)
    assert set(exact.by_region) == {"US-CA", "US-NY", "US-TX", "US-WA"} and exact.withheld_regions == 0
    with read_session(engine) as session:
        public = results.public_results(session=session, question_id=question.id)
        frame = results.region_frame(session=session, results=public)
    # TX (2) and WA (1) are under 5; together 3, still under 5, so the next smallest (NY, 5) goes too: the totals
    # minus what is shown must not give a small region's answers away
    assert set(public.by_region) == {"US-CA"} and public.withheld_regions == 3 and public.min_region == 5
    assert public.total == exact.total == 14 and public.options == exact.options  # the totals keep every answer
    shown = dict(zip(frame["code"], frame["count"], strict=True))
    assert shown["US-CA"] == 6 and shown["US-TX"] == 0 and shown["US-WA"] == 0
    assert results.leading_by_region(public) == {"US-CA": question.options[0][0]}
    for region, index in [("US-TX", 2)] * 3:  # TX reaches 5: now it shows, and WA (1) alone would be given away
        answer(engine, question, sign_from(engine, "libraries", region_code=region).signature_id, index)
    with read_session(engine) as session:
        public = results.public_results(session=session, question_id=question.id)
    assert set(public.by_region) == {"US-CA", "US-TX"} and public.withheld_regions == 2  # WA, and NY with it


# --- the link ---------------------------------------------------------------------------------------


def test_the_answer_link_names_its_question_and_signature_and_refuses_tampering(default_settings):
    url = links.answer_link(question_id=12, signature_id=345, base="https://rally.example.org")
    assert url.startswith("https://rally.example.org/answer?t=12.345.")
    token = url.split("t=", 1)[1]
    assert links.read_token(token) == links.AnswerGrant(question_id=12, signature_id=345)
    question, signature, mac = token.split(".")
    for forged in (
        f"{question}.346.{mac}",
        f"13.{signature}.{mac}",
        f"{question}.{signature}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
        token[:-2],
        "",
        None,
        "1.2.3",
        f"{token}.x",
    ):
        with pytest.raises(links.AnswerLinkInvalid):
            links.read_token(forged)


# --- where signatures stop counting or lose their personal data ----------------------------------------


def test_an_invalidated_signature_leaves_the_results_and_an_erased_one_keeps_its_option_only(engine, campaign):
    from campaigns.people import supporter_erasure
    from campaigns.signatures import review

    question = ask(engine, campaign.id)
    bot = sign_from(engine, "libraries", address="203.0.113.9", email="bot@burner.example", region_code="US-TX")
    person = sign_from(engine, "libraries", email="rosa@example.org", region_code="US-CA")
    answer(engine, question, bot.signature_id, 0, text="Spam spam")
    answer(engine, question, person.signature_id, 1, text="My own words")
    run_write(
        engine,
        lambda s: review.apply(
            session=s,
            review=review.ReviewFilter(campaign_id=campaign.id, statuses=("counted",), client_address="203.0.113.9"),
            action="invalidate",
            actor=CLI,
        ),
    )
    assert read(engine, question).by_region == {"US-CA": {question.options[1][0]: 1}}
    run_write(engine, lambda s: supporter_erasure.erase_my_data(session=s, email_canonical="rosa@example.org"))
    got = read(engine, question)
    assert got.total == 1 and aggregated(got) == naive(engine, question)
    with read_session(engine) as session:
        assert free_text.list_free_text(session=session, question_id=question.id) == []
        kept = session.execute(select(Answer).where(Answer.signature_id == person.signature_id)).scalar_one()
        assert kept.free_text is None  # the option stays counted, anonymously
        # and nothing of it is anybody's answer any more: an answer link of the erased signature shows nothing
        assert (
            answering.get_my_answer(session=session, question_id=question.id, signature_id=person.signature_id) is None
        )
        assert answering.answers_of(session=session, signature_ids=[person.signature_id])[0].free_text is None


def test_a_held_signature_is_asked_like_any_its_answer_waits_uncounted_and_counts_once_validated(engine):
    """Flood control flags, never tells: a flagged signer is offered the question and answers as anyone does; the
    answer (and its words) stay out of the results until a review validates the signature, or leave with it."""
    from campaigns.signatures import review

    campaign = make_campaign(engine)
    question = ask(engine, campaign.id)
    ids = [
        sign_from(engine, campaign.slug, address="203.0.113.9", email=f"bot{n}@burner.example", region_code="US-TX")
        for n in range(8)
    ]
    with read_session(engine) as session:
        statuses = dict(session.execute(select(Signature.id, Signature.status)).all())
        offered = {
            s.signature_id: answering.answerable_question(session=session, signature_id=s.signature_id) for s in ids
        }
    held = [s.signature_id for s in ids if statuses[s.signature_id] == "flagged"]
    counted = [s.signature_id for s in ids if statuses[s.signature_id] == "counted"]
    assert len(held) >= 2 and counted
    assert all(offered[sid] is not None and offered[sid].id == question.id for sid in held)  # told nothing
    for sid in counted + held:
        answer(engine, question, sid, 0, text="Marches work")
    answer(engine, question, held[0], 1)  # a held one changes its mind: still nothing counted
    got = read(engine, question)
    assert got.total == len(counted) and aggregated(got) == naive(engine, question)
    with read_session(engine) as session:
        queue = free_text.list_free_text(session=session, question_id=question.id)
    assert len(queue) == len(counted)  # held words wait with their signature
    leaving = held[-1]
    with read_session(engine) as session:
        mailbox = session.get(Signature, leaving).email_canonical
    run_write(  # one held signer withdraws: its uncounted answer leaves, no count moves
        engine,
        lambda s: supporter_data.withdraw_signature(session=s, email_canonical=mailbox, signature_id=leaving),
    )
    assert read(engine, question).total == len(counted)
    flood = review.ReviewFilter(campaign_id=campaign.id, statuses=("flagged",))
    run_write(engine, lambda s: review.apply(session=s, review=flood, action="validate", actor=CLI))
    got = read(engine, question)
    assert got.total == len(counted) + len(held) - 1  # every held answer counts now, the withdrawn one aside
    assert aggregated(got) == naive(engine, question)
    march, letters = question.options[0][0], question.options[1][0]
    assert got.by_region["US-TX"] == {march: len(counted) + len(held) - 2, letters: 1}
    with read_session(engine) as session:
        tally.rebuild_counts(session=session, question_id=question.id)
        rebuilt = results.read_results(session=session, question_id=question.id)
        session.rollback()
    assert aggregated(rebuilt) == aggregated(got)  # the repair agrees


def test_invalidating_a_held_signature_drops_its_waiting_answer(engine):
    from campaigns.signatures import review

    campaign = make_campaign(engine)
    question = ask(engine, campaign.id)
    ids = [
        sign_from(engine, campaign.slug, address="203.0.113.9", email=f"bot{n}@burner.example").signature_id
        for n in range(8)
    ]
    for sid in ids:
        answer(engine, question, sid, 0)
    with read_session(engine) as session:
        waiting = session.execute(select(func.count()).where(Answer.counted.is_(False))).scalar_one()
    assert waiting > 0
    everyone = review.ReviewFilter(campaign_id=campaign.id, statuses=("counted", "flagged"))
    run_write(engine, lambda s: review.apply(session=s, review=everyone, action="invalidate", actor=CLI))
    with read_session(engine) as session:
        assert session.execute(select(func.count()).select_from(Answer)).scalar_one() == 0
    assert read(engine, question).total == 0
    run_write(engine, lambda s: review.apply(session=s, review=everyone, action="validate", actor=CLI))
    assert read(engine, question).total == 0  # validating later does not bring an answer back
