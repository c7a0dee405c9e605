"""Questions under AppTest: the editor's Questions tab, the answer link's page, the thank-you after signing, the
receipt page and the public results, on the test database."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser

import pytest
from streamlit.testing.v1 import AppTest

from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.questions import answering, asking, free_text, links, results
from campaigns.ui import questions as questions_page
from campaigns.ui.widgets import plain
from tests.app.test_app_staff import staff_app  # noqa: F401  # the fixture, shared
from tests.support.apptest import open_app, point_app_at
from tests.support.factories import future, make_campaign, sign_from
from tests.support.mail import Mailbox, smtp_settings

pytestmark = pytest.mark.apptest
ANSWER_PAGE = "import campaigns.ui.questions as page\npage.render_answer_page()\n"
MY_DATA_PAGE = "import campaigns.ui.my_data as page\npage.render()\n"


def texts(at) -> str:
    return "\n".join(
        str(el.value)
        for el in [*at.markdown, *at.caption, *at.success, *at.info, *at.error, *at.warning, *at.text, *at.subheader]
    )


def ask(engine, campaign_id, **changes):
    values = {
        "prompt": "Which action next?",
        "options": ["March", "Letters"],
        "closes_at": future(7),
        "allow_free_text": True,
    }
    values.update(changes)
    return run_write(engine, lambda s: asking.ask_question(session=s, campaign_id=campaign_id, actor=CLI, **values))


def read(engine, question_id):
    with read_session(engine) as session:
        return results.read_results(session=session, question_id=question_id)


def open_with(script: str, **query: str) -> AppTest:
    at = AppTest.from_string(script, default_timeout=30)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


@pytest.fixture(autouse=True)
def fresh_reads():
    """Results are cached a few seconds per database URL, by design: an earlier test's are forgotten."""
    questions_page.forget_reads()


@pytest.fixture
def asked(engine, default_settings):
    point_app_at(engine, default_settings)
    campaign = make_campaign(engine, slug="libraries")
    question = ask(engine, campaign.id)
    return engine, campaign, question


def test_the_organizer_asks_in_the_editor_and_a_question_with_one_option_is_refused(staff_app, engine):  # noqa: F811
    as_person, _ = staff_app
    as_person(("organizer",))
    campaign = make_campaign(engine, slug="libraries")
    at = AppTest.from_string("import campaigns.ui.organize as page\npage.render_editor()\n", default_timeout=30)
    at.query_params["edit"] = "libraries"
    at = at.run()
    next(w for w in at.text_input if w.label == "Question").set_value("Which action next?")
    next(w for w in at.text_area if w.label.startswith("Options")).set_value("A march")
    at = next(b for b in at.button if b.label == "Ask the signers").click().run()
    assert "Options: Give at least 2 options" in " ".join(e.value for e in at.error)
    next(w for w in at.text_area if w.label.startswith("Options")).set_value("A march\nLetters\nA call-in day")
    next(w for w in at.checkbox if w.label.startswith("Signers may add a written answer")).check()
    at = next(b for b in at.button if b.label == "Ask the signers").click().run()
    assert not at.exception, at.exception
    with read_session(engine) as session:
        [question] = asking.list_questions(session=session, campaign_id=campaign.id)
    assert [label for _, label in question.options] == ["A march", "Letters", "A call-in day"]
    assert "No answers yet" in texts(at)
    signed = sign_from(engine, "libraries", region_code="US-CA")
    run_write(
        engine,
        lambda s: answering.answer(
            session=s,
            question_id=question.id,
            signature_id=signed.signature_id,
            option_id=question.options[1][0],
            free_text="Letters <b>work</b>",
        ),
    )
    questions_page.forget_reads()  # results are cached a few seconds, by design
    at = at.run()
    assert "1 answer · updated at" in texts(at)
    assert "Letters <b>work</b>" in [t.value for t in at.text]  # the queue shows supporter text as text
    assert "Regions with fewer than" not in texts(at)  # organizers see every region exactly
    run_write(  # the signer rewrites it while the organizer reads: same answer, back to pending
        engine,
        lambda s: answering.answer(
            session=s,
            question_id=question.id,
            signature_id=signed.signature_id,
            option_id=question.options[1][0],
            free_text="Something else entirely",
        ),
    )
    at = next(b for b in at.button if b.label == "Approve").click().run()
    assert not at.exception
    assert "This answer changed since you read it: review it again." in [w.value for w in at.warning]
    assert "Something else entirely" in [t.value for t in at.text]
    with read_session(engine) as session:
        assert free_text.count_free_text(session=session, question_id=question.id, status="approved") == 0
    at = next(b for b in at.button if b.label == "Approve").click().run()
    with read_session(engine) as session:
        assert free_text.count_free_text(session=session, question_id=question.id, status="approved") == 1
    at = next(b for b in at.button if b.label == "Close it now").click().run()
    assert not at.exception
    with read_session(engine) as session:
        assert not asking.get_question(session=session, question_id=question.id).is_open


def campaign_title(engine) -> str:
    from campaigns.catalog import listing

    with read_session(engine) as session:
        return listing.get_campaign_by_slug(session=session, slug="libraries").title


def test_the_answer_link_answers_and_changes_the_answer(asked):
    engine, _, question = asked
    signed = sign_from(engine, "libraries", region_code="US-NY")
    token = links.make_token(question_id=question.id, signature_id=signed.signature_id)
    at = open_with(ANSWER_PAGE, t=token)
    assert not at.exception
    assert "t" not in at.query_params  # out of the address bar at once
    assert [t.value for t in at.title] == ["A question from the organizers"]  # not "Your answer" twice over
    assert "Which action next?" in [h.value for h in at.subheader]
    [title] = [m.value for m in at.markdown if m.value.startswith("From the campaign")]  # which campaign asks
    assert title == f"From the campaign [{plain(campaign_title(engine))}](/?campaign=libraries)"
    radio = next(r for r in at.radio if r.label == "Your answer")
    radio.set_value(question.options[0][0])
    at = next(b for b in at.button if b.label == "Send my answer").click().run()
    assert any("your answer “March” counts" in s.value for s in at.success)
    radio = next(r for r in at.radio if r.label == "Your answer")
    assert radio.value == question.options[0][0]
    radio.set_value(question.options[1][0])
    at = next(b for b in at.button if b.label == "Change my answer").click().run()
    assert any("your answer is now “Letters”" in s.value for s in at.success)
    got = read(engine, question.id)
    assert got.total == 1 and got.by_region == {"US-NY": {question.options[1][0]: 1}}


def test_a_tampered_link_shows_nothing_about_any_signature(asked):
    engine, _, question = asked
    signed = sign_from(engine, "libraries")
    run_write(
        engine,
        lambda s: answering.answer(
            session=s, question_id=question.id, signature_id=signed.signature_id, option_id=question.options[0][0]
        ),
    )
    token = links.make_token(question_id=question.id, signature_id=signed.signature_id)
    forged = f"{question.id}.{signed.signature_id + 1}.{token.rsplit('.', 1)[1]}"
    at = open_with(ANSWER_PAGE, t=forged)
    assert any("doesn't work" in e.value for e in at.error)
    assert not at.radio and "Which action next?" not in texts(at)
    assert "Open the link" in texts(open_with(ANSWER_PAGE))


def test_the_thank_you_after_signing_asks_the_open_question_and_a_repeat_sign_on_does_not(asked):
    engine, _, question = asked

    def sign_in_page(email: str) -> AppTest:
        at = open_app(campaign="libraries")
        next(w for w in at.text_input if w.label == "Your name").set_value("Rosa Parks")
        next(w for w in at.text_input if w.label == "Email").set_value(email)
        at.selectbox[0].set_value("US-CA")
        return next(b for b in at.button if b.label == "Sign the campaign").click().run()

    at = sign_in_page("rosa@example.org")
    assert not at.exception
    assert "A question from the organizers" in [c.value for c in at.caption]
    assert "#### Which action next?" in [m.value for m in at.markdown]  # below the thank-you's own headings
    radio = next(r for r in at.radio if r.label == "Your answer")
    radio.set_value(question.options[1][0])
    at = next(b for b in at.button if b.label == "Send my answer").click().run()
    assert any("counts" in s.value for s in at.success)
    assert read(engine, question.id).by_region == {"US-CA": {question.options[1][0]: 1}}
    again = sign_in_page("Rosa@Example.org")  # someone else typing her address
    assert not again.exception
    assert not again.radio and "Which action next?" not in texts(again)


def test_the_receipt_page_lists_the_open_question_with_its_form(asked):
    engine, _, question = asked
    signed = sign_from(engine, "libraries", region_code="US-TX")
    at = open_with(MY_DATA_PAGE, receipt=signed.receipt_token)
    assert not at.exception
    radio = next(r for r in at.radio if r.label == "Your answer")
    radio.set_value(question.options[0][0])
    next(t for t in at.text_area if t.label.startswith("Anything to add")).set_value("Marches get seen")
    at = next(b for b in at.button if b.label == "Send my answer").click().run()
    assert any("counts" in s.value for s in at.success)
    with read_session(engine) as session:
        [pending] = free_text.list_free_text(session=session, question_id=question.id)
    assert pending.text == "Marches get seen" and pending.region_name == "Texas"


def test_the_public_page_shows_results_and_approved_answers_only_when_chosen(asked):
    engine, _, question = asked
    for region, index, words in [("US-CA", 0, "Seen <i>and</i> heard"), ("US-NY", 1, "Not this one")]:
        signed = sign_from(engine, "libraries", region_code=region)
        run_write(
            engine,
            lambda s, sid=signed.signature_id, i=index, w=words: answering.answer(
                session=s, question_id=question.id, signature_id=sid, option_id=question.options[i][0], free_text=w
            ),
        )
    at = open_app(campaign="libraries")
    assert "What signers answered" not in texts(at)
    with read_session(engine) as session:
        queue = free_text.list_free_text(session=session, question_id=question.id)
    run_write(
        engine,
        lambda s: free_text.approve_free_text(
            session=s, question_id=question.id, seen={queue[0].answer_id: queue[0].version}, actor=CLI
        ),
    )
    run_write(engine, lambda s: asking.set_results_public(session=s, question_id=question.id, public=True, actor=CLI))
    questions_page.forget_reads()  # the organizer's toggle does this; the page's reads are cached a few seconds
    at = open_app(campaign="libraries")
    assert not at.exception
    shown = texts(at)
    assert "What signers answered" in shown and "2 answers" in shown
    assert "Seen <i>and</i> heard" in [t.value for t in at.text]
    assert "Not this one" not in shown
    # two answers, from two regions: neither region is shown, so nobody's answer can be picked out
    assert "Regions with fewer than 5 answers are not shown, so nobody's answer can be picked out" in shown
    assert at.dataframe[0].value.empty


def test_a_signature_waiting_for_its_email_is_asked_only_once_confirmed(engine, default_settings, smtp_server):
    controller, handler = smtp_server
    point_app_at(engine, default_settings, **smtp_settings(controller, "Rally <r@rally.example.org>"))
    campaign = make_campaign(engine, slug="river", require_confirmation=True)
    question = ask(engine, campaign.id)
    at = open_app(campaign="river")
    next(w for w in at.text_input if w.label == "Your name").set_value("Rosa Parks")
    next(w for w in at.text_input if w.label == "Email").set_value("rosa@example.org")
    at.selectbox[0].set_value("US-AL")
    at = next(b for b in at.button if b.label == "Sign the campaign").click().run()
    assert "check your inbox" in at.success[0].value
    assert not at.radio  # not counted yet: no question
    [envelope] = Mailbox(engine, handler)
    body = BytesParser(policy=policy.default).parsebytes(envelope.content).get_content()
    token = re.search(r"/confirm\?token=([\w-]+)", body).group(1)
    page = open_with("import campaigns.ui.confirm as page\npage.render()\n", token=token)
    assert any("Your email is confirmed" in s.value for s in page.success)
    next(r for r in page.radio if r.label == "Your answer").set_value(question.options[0][0])
    page = next(b for b in page.button if b.label == "Send my answer").click().run()
    assert any("counts" in s.value for s in page.success)
    assert read(engine, question.id).by_region == {"US-AL": {question.options[0][0]: 1}}


def test_the_answer_link_never_shows_the_written_answer_back_and_an_erased_one_shows_nothing(asked):
    from campaigns.people import supporter_erasure

    engine, _, question = asked
    signed = sign_from(engine, "libraries", email="rosa@example.org", region_code="US-NY")
    run_write(
        engine,
        lambda s: answering.answer(
            session=s,
            question_id=question.id,
            signature_id=signed.signature_id,
            option_id=question.options[0][0],
            free_text="Rosa's own words, for the organizers",
        ),
    )
    token = links.make_token(question_id=question.id, signature_id=signed.signature_id)
    at = open_with(ANSWER_PAGE, t=token)  # anyone the email was forwarded to
    assert not at.exception
    [written] = [t for t in at.text_area if t.label.startswith("Anything to add")]
    assert written.value == ""  # not pre-filled
    assert "Rosa's own words" not in texts(at)
    assert "You already wrote an answer" in texts(at) and "replaces it" in texts(at)
    run_write(engine, lambda s: asking.close_question(session=s, question_id=question.id, actor=CLI))
    closed = open_with(ANSWER_PAGE, t=token)
    assert "This question has closed. Your answer: March." in texts(closed)
    run_write(engine, lambda s: supporter_erasure.erase_my_data(session=s, email_canonical="rosa@example.org"))
    erased = open_with(ANSWER_PAGE, t=token)
    assert not erased.exception
    assert "This question has closed." in texts(erased) and "Your answer" not in texts(erased)
    assert "March" not in texts(erased)
