"""Updates to signers on SQLite and PostgreSQL: drafts, recipients and regions, the rate limit, the start that
happens once, the fan-out through the outbox to a real SMTP server (aiosmtpd), a crash mid-fan-out followed by a
restart (a real process killed with SIGKILL), and the one-click unsubscribe's signed links."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy import select

from campaigns.core import outbox
from campaigns.core.audit import Actor
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import InvalidInput, RallyError
from campaigns.core.models import AuditEntry, OutboxMessage, Signature, SignerUpdate, utcnow
from campaigns.core.settings import ENV_NAMES, override_settings
from campaigns.people import supporter_data
from campaigns.questions import answering, asking, links, results
from campaigns.sharing import links as sharing_links
from campaigns.updates import fanout, unsubscribe, updates
from tests.support.factories import future, make_campaign, sign_from
from tests.support.mail import Mailbox, smtp_settings
from tests.support.servers import REPO

PUBLIC = "https://rally.example.org"
SENDER = "Rally <news@rally.example.org>"
ORGANIZER = Actor(user_id=None, email="organizer@rally.example.org", roles=frozenset({"organizer"}))
UNSUBSCRIBE = re.compile(re.escape(PUBLIC) + r"/unsubscribe\?t=([0-9A-Za-z._%-]+)")


@pytest.fixture
def mailbox(engine, smtp_server):
    controller, handler = smtp_server
    with override_settings(**smtp_settings(controller, SENDER), public_url=PUBLIC):
        yield Mailbox(engine, handler)


def parsed(envelope):
    return BytesParser(policy=policy.default).parsebytes(envelope.content)


def signers(engine, slug: str, consenting: int, *, region: str = "US-CA", others: int = 0) -> list[int]:
    ids = [sign_from(engine, slug, contact_consent=True, region_code=region).signature_id for _ in range(consenting)]
    for _ in range(others):
        sign_from(engine, slug, contact_consent=False, region_code=region)
    return ids


def draft(engine, campaign_id: int, **kwargs) -> int:
    values = {"subject": "We delivered the petition", "body": "## Thank you\nRead [the letter](https://x.example/l)."}
    values.update(kwargs)
    return run_write(
        engine, lambda s: updates.draft_update(session=s, campaign_id=campaign_id, actor=ORGANIZER, **values)
    )


def start(engine, update_id: int, **kwargs):
    return run_write(engine, lambda s: updates.start_sending(session=s, update_id=update_id, actor=ORGANIZER, **kwargs))


def test_a_draft_is_checked_previewed_and_edited_until_it_starts(engine):
    campaign = make_campaign(engine)
    with pytest.raises(InvalidInput) as missing:
        draft(engine, campaign.id, subject="  ")
    assert missing.value.field == "subject"
    with pytest.raises(InvalidInput) as region:
        draft(engine, campaign.id, region_codes=["US-CA", "XX-NOPE"])
    assert "XX-NOPE" in region.value.user_message
    update_id = draft(engine, campaign.id, body="<b>bold</b> and **strong** [site](https://x.example)")
    with read_session(engine) as session:
        text = updates.preview_text(session=session, update_id=update_id)
    assert "<b>bold</b> and strong site (https://x.example)" in text  # plain text: HTML stays as typed, inert
    assert "/unsubscribe?t=" in text and "The campaign: " in text
    run_write(
        engine,
        lambda s: updates.edit_update(session=s, update_id=update_id, subject="New", body="Text", region_codes="us-ca"),
    )
    with read_session(engine) as session:
        row = updates.get_update(session=session, update_id=update_id)
    assert (row.subject, row.body, row.region_codes, row.status) == ("New", "Text", "US-CA", "draft")


def test_recipients_are_the_counted_signers_who_agreed_in_the_chosen_regions(engine):
    campaign = make_campaign(engine)
    california = signers(engine, campaign.slug, 3, others=2)
    signers(engine, campaign.slug, 2, region="US-NY")
    withdrawn = california[0]
    canonical = run_write(engine, lambda s: s.get(Signature, withdrawn).email_canonical)
    run_write(
        engine,
        lambda s: supporter_data.withdraw_signature(session=s, email_canonical=canonical, signature_id=withdrawn),
    )
    with read_session(engine) as session:
        everyone = updates.count_recipients(session=session, campaign_id=campaign.id)
        west = updates.count_recipients(session=session, campaign_id=campaign.id, region_codes=["US-CA"])
        nobody = updates.count_recipients(session=session, campaign_id=campaign.id, region_codes=["US-TX"])
    assert (everyone, west, nobody) == (4, 2, 0)
    update_id = draft(engine, campaign.id, region_codes=["US-TX"])
    with pytest.raises(updates.NoRecipients):
        start(engine, update_id)
    unpublished = make_campaign(engine, status="draft")
    with pytest.raises(updates.CampaignNotPublic):
        start(engine, draft(engine, unpublished.id))


def test_one_update_every_few_days_and_the_refusal_says_when_the_next_may_go(engine):
    campaign = make_campaign(engine)
    signers(engine, campaign.slug, 2)
    first, second = draft(engine, campaign.id), draft(engine, campaign.id)
    start(engine, first)
    with pytest.raises(updates.UpdateTooSoon) as soon:
        start(engine, second)
    assert "RALLY_UPDATE_MIN_DAYS" in soon.value.user_message and "next may go from" in soon.value.user_message
    assert start(engine, second, now=utcnow() + timedelta(days=3, minutes=1)).status == "sending"
    third = draft(engine, campaign.id)
    with override_settings(update_min_days=0):
        assert start(engine, third).status == "sending"


def test_a_double_click_or_two_tabs_start_an_update_once(engine):
    campaign = make_campaign(engine)
    signers(engine, campaign.slug, 2)
    update_id = draft(engine, campaign.id)
    barrier = threading.Barrier(4)

    def click(_: int) -> str:
        barrier.wait()
        try:
            return start(engine, update_id).status
        except RallyError as exc:
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = Counter(pool.map(click, range(4)))
    assert outcomes == {"sending": 1, "UpdateAlreadyStarted": 3}
    with read_session(engine) as session:
        actions = [e.action for e in session.execute(select(AuditEntry)).scalars()]
    assert actions.count("update.send") == 1
    with pytest.raises(updates.UpdateAlreadyStarted):  # and a started update is never edited
        run_write(engine, lambda s: updates.edit_update(session=s, update_id=update_id, subject="x", body="y"))


def test_each_recipient_gets_one_message_with_one_click_unsubscribe_that_works(engine, mailbox):
    campaign = make_campaign(engine, title="Fund the libraries")
    ids = signers(engine, campaign.slug, 5, others=2)
    mailbox.handler.envelopes.clear()  # (signing sent nothing, but be sure)
    update_id = draft(engine, campaign.id)
    run_write(engine, lambda s: updates.send_test(session=s, update_id=update_id, actor=ORGANIZER))
    [test] = list(mailbox)
    assert parsed(test)["Subject"] == "[Test] We delivered the petition"
    assert test.rcpt_tos == [ORGANIZER.email]
    mailbox.handler.envelopes.clear()
    start(engine, update_id)
    assert fanout.fan_out(engine=engine, update_id=update_id, batch=2) == 5
    assert fanout.fan_out(engine=engine, update_id=update_id) == 0  # run again: nothing more
    received = list(mailbox)
    with read_session(engine) as session:
        progress = updates.get_progress(session=session, update_id=update_id)
        emails = dict(session.execute(select(Signature.id, Signature.email).where(Signature.id.in_(ids))).all())
    assert (progress.status, progress.recipients, progress.queued, progress.sent, progress.done) == (
        "sent",
        5,
        5,
        5,
        True,
    )
    assert sorted(e.rcpt_tos[0] for e in received) == sorted(emails.values())  # each once, nobody else
    tokens = []
    for envelope in received:
        message = parsed(envelope)
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        [header_token] = UNSUBSCRIBE.findall(message["List-Unsubscribe"])
        assert message["List-Unsubscribe"] == f"<{PUBLIC}/unsubscribe?t={header_token}>"
        assert UNSUBSCRIBE.findall(message.get_content()) == [header_token]  # and in the body
        assert "Thank you" in message.get_content() and "the letter (https://x.example/l)" in message.get_content()
        tokens.append(header_token)
    grant = unsubscribe.read_token(tokens[0])
    assert emails[grant.signature_id] == received[0].rcpt_tos[0]  # each link is its recipient's own
    with read_session(engine) as session:
        shown = unsubscribe.look_up(session=session, token=tokens[0])  # a GET changes nothing
        assert (shown.campaign_title, shown.subscribed) == ("Fund the libraries", True)
    for _ in range(2):  # idempotent
        done = run_write(engine, lambda s: unsubscribe.unsubscribe(session=s, token=tokens[0]))
        assert done.subscribed is False
    with read_session(engine) as session:
        row = session.get(Signature, grant.signature_id)
        audits = [e for e in session.execute(select(AuditEntry)).scalars() if e.action == "supporter.consent"]
        assert updates.count_recipients(session=session, campaign_id=campaign.id) == 4
    assert (row.contact_consent, row.consent_hash, row.consent_at) == (False, None, None)
    assert len(audits) == 1 and '"consent": false' in audits[0].detail and audits[0].at is not None


def test_tampered_forged_and_malformed_unsubscribe_links_are_refused_and_change_nothing(engine):
    campaign = make_campaign(engine)
    [sid] = signers(engine, campaign.slug, 1)
    good = unsubscribe.make_token(signature_id=sid, campaign_id=campaign.id)
    payload, mac = good.rsplit(".", 1)
    other = unsubscribe.make_token(signature_id=sid + 1, campaign_id=campaign.id)
    bad = [
        None,
        "",
        "garbage",
        f"{sid + 1}.{campaign.id}.{mac}",  # another signature, this one's MAC
        f"{payload}.{other.rsplit('.', 1)[1]}",  # this signature, another's MAC
        f"{payload}.{mac[:-1]}",
        f"{payload}.{mac}A",
        f"{sid}.{campaign.id}",
        f"-{sid}.{campaign.id}.{mac}",
        f"{sid}.{campaign.id}.{mac}.x",
        "٣." + f"{campaign.id}.{mac}",  # a digit, but not ASCII
        "1" * 300,
    ]
    for token in bad:
        with pytest.raises(unsubscribe.UnsubscribeLinkInvalid):
            run_write(engine, lambda s, t=token: unsubscribe.unsubscribe(session=s, token=t))
    with override_settings(secret_key="another-key-entirely-0123456789abcdef"):
        forged = unsubscribe.make_token(signature_id=sid, campaign_id=campaign.id)
    assert forged != good
    with pytest.raises(unsubscribe.UnsubscribeLinkInvalid):
        unsubscribe.read_token(forged)
    with read_session(engine) as session:
        assert session.get(Signature, sid).contact_consent is True


def test_the_public_timeline_shows_started_updates_newest_first_a_page_at_a_time(engine):
    campaign = make_campaign(engine)
    signers(engine, campaign.slug, 1)
    ids = [draft(engine, campaign.id, subject=f"Update {n}") for n in range(4)]
    with override_settings(update_min_days=0):
        for n, update_id in enumerate(ids[:3]):
            start(engine, update_id, now=utcnow() + timedelta(hours=n))
    with read_session(engine) as session:
        first = updates.list_public_updates(session=session, campaign_id=campaign.id, limit=2)
        rest = updates.list_public_updates(session=session, campaign_id=campaign.id, limit=2, offset=2)
    assert [u.subject for u in first + rest] == ["Update 2", "Update 1", "Update 0"]  # the draft is not public


def _env(engine, controller) -> dict[str, str]:
    settings = {**smtp_settings(controller, SENDER), "database_url": engine.url.render_as_string(hide_password=False)}
    return {**os.environ, **{ENV_NAMES[k]: str(v) for k, v in settings.items()}, ENV_NAMES["public_url"]: PUBLIC}


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from campaigns.core.db import get_engine
    from campaigns.updates import fanout
    batches = []
    def after_batch(queued):
        batches.append(queued)
        if len(batches) == 2:
            os.kill(os.getpid(), signal.SIGKILL)  # two batches committed, the rest not queued yet
    fanout.fan_out(engine=get_engine(), update_id=int(sys.argv[1]), batch=3, after_batch=after_batch)
    """
)


def test_a_fan_out_killed_midway_then_restarted_delivers_each_message_exactly_once(engine, mailbox, smtp_server):
    controller, handler = smtp_server
    campaign = make_campaign(engine)
    ids = signers(engine, campaign.slug, 10)
    update_id = draft(engine, campaign.id)
    start(engine, update_id)
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, str(update_id)],
        cwd=REPO,
        env=_env(engine, controller),
        capture_output=True,
        timeout=60,
    )
    assert killed.returncode == -9, killed.stderr.decode()
    with read_session(engine) as session:
        row = updates.get_update(session=session, update_id=update_id)
        assert (row.status, row.queued, row.cursor) == ("sending", 6, sorted(ids)[5])
    # The restart: the worker's upkeep resumes the fan-out where it stopped, in another process.
    restarted = subprocess.run(
        [sys.executable, "-m", "campaigns", "worker", "--once"],
        cwd=REPO,
        env=_env(engine, controller),
        capture_output=True,
        timeout=120,
    )
    assert restarted.returncode == 0, restarted.stderr.decode()
    list(mailbox)  # anything still due
    with read_session(engine) as session:
        emails = sorted(session.execute(select(Signature.email).where(Signature.id.in_(ids))).scalars())
        keys = list(session.execute(select(OutboxMessage.dedupe_key).where(OutboxMessage.update_id == update_id)))
    assert sorted(e.rcpt_tos[0] for e in handler.envelopes) == emails  # every recipient exactly once
    assert len(keys) == 10
    with read_session(engine) as session:
        assert updates.get_progress(session=session, update_id=update_id).done


def test_a_signer_who_unsubscribes_before_their_message_leaves_does_not_get_it(engine, mailbox):
    campaign = make_campaign(engine)
    ids = signers(engine, campaign.slug, 3)
    update_id = draft(engine, campaign.id)
    start(engine, update_id)
    fanout.fan_out(engine=engine, update_id=update_id)
    token = unsubscribe.make_token(signature_id=ids[0], campaign_id=campaign.id)
    run_write(engine, lambda s: unsubscribe.unsubscribe(session=s, token=token))
    received = [e.rcpt_tos[0] for e in mailbox]
    with read_session(engine) as session:
        gone = session.get(Signature, ids[0]).email
        progress = updates.get_progress(session=session, update_id=update_id)
    assert len(received) == 2 and gone not in received
    assert (progress.queued, progress.sent, progress.waiting, progress.done) == (3, 2, 0, True)  # one dropped unsent


def test_a_signer_who_withdraws_before_their_message_leaves_does_not_get_it(engine, mailbox):
    campaign = make_campaign(engine)
    ids = signers(engine, campaign.slug, 2)
    update_id = draft(engine, campaign.id)
    start(engine, update_id)
    fanout.fan_out(engine=engine, update_id=update_id)
    with read_session(engine) as session:
        leaving = session.get(Signature, ids[0])
    run_write(
        engine,
        lambda s: supporter_data.withdraw_signature(
            session=s, email_canonical=leaving.email_canonical, signature_id=ids[0]
        ),
    )
    with read_session(engine) as session:
        staying = session.get(Signature, ids[1]).email
    assert [e.rcpt_tos[0] for e in mailbox] == [staying]  # the one who withdrew gets nothing


ANSWER = re.compile(re.escape(PUBLIC) + r"/answer\?t=([0-9A-Za-z._%-]+)")


def test_with_a_question_open_each_signer_gets_their_own_answer_link_and_it_answers(engine, mailbox):
    campaign = make_campaign(engine, title="Fund the libraries")
    ids = signers(engine, campaign.slug, 2, region="US-CA") + signers(engine, campaign.slug, 1, region="US-NY")
    question = run_write(
        engine,
        lambda s: asking.ask_question(
            session=s,
            campaign_id=campaign.id,
            prompt="Which action next?",
            options=["March", "Letters"],
            closes_at=future(7),
            actor=ORGANIZER,
        ),
    )
    update_id = draft(engine, campaign.id)
    with read_session(engine) as session:
        preview = updates.preview_text(session=session, update_id=update_id)
    assert "Answer the question “Which action next?”: (each signer gets their own link here)" in preview
    mailbox.handler.envelopes.clear()
    start(engine, update_id)
    assert fanout.fan_out(engine=engine, update_id=update_id) == 3
    with read_session(engine) as session:
        emails = dict(session.execute(select(Signature.id, Signature.email).where(Signature.id.in_(ids))).all())
    owners = {}
    for envelope in mailbox:
        [token] = ANSWER.findall(parsed(envelope).get_content())
        grant = links.read_token(token)
        assert grant.question_id == question.id
        assert emails[grant.signature_id] == envelope.rcpt_tos[0]  # the link is its recipient's own
        owners[grant.signature_id] = token
    assert sorted(owners) == sorted(ids)
    march, letters = (option_id for option_id, _ in question.options)
    for signature_id in ids:  # every link answers for its own signature
        chosen = letters if signature_id == ids[-1] else march
        run_write(
            engine,
            lambda s, sid=signature_id, opt=chosen: answering.answer(
                session=s, question_id=question.id, signature_id=sid, option_id=opt
            ),
        )
    with read_session(engine) as session:
        read = results.read_results(session=session, question_id=question.id)
    assert read.total == 3
    assert read.by_region == {"US-CA": {march: 2}, "US-NY": {letters: 1}}


def test_without_an_open_question_the_update_carries_no_answer_link(engine, mailbox):
    campaign = make_campaign(engine)
    signers(engine, campaign.slug, 1)
    update_id = draft(engine, campaign.id)
    mailbox.handler.envelopes.clear()
    start(engine, update_id)
    fanout.fan_out(engine=engine, update_id=update_id)
    [envelope] = list(mailbox)
    assert not ANSWER.findall(parsed(envelope).get_content())


def test_an_outcome_update_reads_as_typed_in_the_email_and_a_long_title_fits_the_subject(engine):
    from campaigns.outcomes import results
    from campaigns.updates import message

    campaign = make_campaign(engine, title="Open the libraries on Sundays " * 6)  # 180 characters
    note = "We'll vote on it (next month). Thanks - Jane! See https://city.example/minutes"
    run_write(
        engine,
        lambda s: results.set_outcome(session=s, campaign_id=campaign.id, outcome="won", note=note, actor=ORGANIZER),
    )
    with read_session(engine) as session:
        subject, body = results.outcome_update(session=session, campaign_id=campaign.id)
    assert "\\" in body  # the note is escaped for the markdown the page previews
    assert note in message.markdown_text(body)  # and reads exactly as typed in the plain-text email
    update_id = draft(engine, campaign.id, subject=subject, body=body)  # a long title still makes a valid subject
    with read_session(engine) as session:
        assert updates.get_update(session=session, update_id=update_id).subject == subject
    assert len(subject) <= updates.SUBJECT_MAX


def test_signatures_invalidated_in_review_before_their_message_leaves_do_not_get_it(engine, mailbox):
    from campaigns.signatures import review

    campaign = make_campaign(engine)
    kept = sign_from(engine, campaign.slug, contact_consent=True, email="kept@example.org")
    for n in range(2):
        sign_from(engine, campaign.slug, contact_consent=True, email=f"bot{n}@flood.example")
    update_id = draft(engine, campaign.id)
    start(engine, update_id)
    assert fanout.fan_out(engine=engine, update_id=update_id) == 3
    flood = review.ReviewFilter(campaign_id=campaign.id, statuses=("counted",), email_domain="flood.example")
    run_write(engine, lambda s: review.apply(session=s, review=flood, action="invalidate", actor=ORGANIZER))
    assert [e.rcpt_tos[0] for e in mailbox] == ["kept@example.org"]
    assert kept.signature_id


def outbox_keys(engine, update_id: int) -> Counter[str]:
    with read_session(engine) as session:
        keys = session.execute(select(OutboxMessage.dedupe_key).where(OutboxMessage.update_id == update_id))
        return Counter(keys.scalars())


def test_the_upkeeps_fan_out_stops_at_its_budget_and_the_next_call_goes_on_exactly_once(engine, mailbox):
    campaign = make_campaign(engine)
    signers(engine, campaign.slug, 7)
    update_id = draft(engine, campaign.id)
    start(engine, update_id)
    fanout.fan_out_started(engine, budget_batches=2, batch=2, budget_seconds=3600)
    with read_session(engine) as session:
        row = updates.get_update(session=session, update_id=update_id)
    assert (row.status, row.queued, sum(outbox_keys(engine, update_id).values())) == ("sending", 4, 4)  # returned
    for _ in range(3):  # the next ticks go on from the cursor, then find nothing more
        fanout.fan_out_started(engine, budget_batches=2, batch=2, budget_seconds=3600)
    keys = outbox_keys(engine, update_id)
    assert len(keys) == 7 and set(keys.values()) == {1}
    assert len(list(mailbox)) == 7  # each signer once
    with read_session(engine) as session:
        assert updates.get_update(session=session, update_id=update_id).status == "sent"


def test_an_update_whose_fan_out_fails_does_not_stop_the_others(engine, mailbox):
    broken, fine = make_campaign(engine), make_campaign(engine)
    [bad] = signers(engine, broken.slug, 1)
    signers(engine, fine.slug, 3)
    run_write(  # a stored address no mail can be built for (an old import, say): rendering its message fails
        engine, lambda s: s.execute(Signature.__table__.update().where(Signature.id == bad).values(email="a\nb@x"))
    )
    first, second = draft(engine, broken.id), draft(engine, fine.id)
    start(engine, first)
    start(engine, second)
    fanout.fan_out_started(engine)
    assert (sum(outbox_keys(engine, first).values()), sum(outbox_keys(engine, second).values())) == (0, 3)
    with read_session(engine) as session:
        assert updates.get_update(session=session, update_id=first).status == "sending"  # tried again next time
        assert updates.get_update(session=session, update_id=second).status == "sent"
    assert len(list(mailbox)) == 3


def test_an_update_another_worker_is_queueing_is_skipped_not_waited_for(engine, mailbox):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: no row locks to skip")
    campaign = make_campaign(engine)
    signers(engine, campaign.slug, 3)
    update_id = draft(engine, campaign.id)
    start(engine, update_id)
    with engine.connect() as other:  # another worker's batch holds the update's row
        other.execute(select(SignerUpdate.id).where(SignerUpdate.id == update_id).with_for_update())
        fanout.fan_out_started(engine)  # returns at once: the other one goes on
        assert sum(outbox_keys(engine, update_id).values()) == 0
        other.rollback()
    fanout.fan_out_started(engine)
    assert sum(outbox_keys(engine, update_id).values()) == 3


def test_the_fan_outs_links_use_the_address_the_organizer_started_it_on(engine, smtp_server):
    controller, handler = smtp_server
    settings = {**smtp_settings(controller, SENDER), "public_url": "", "allowed_hosts": "localhost, rally.example.net"}
    with override_settings(**settings):
        campaign = make_campaign(engine)
        signers(engine, campaign.slug, 2)
        update_id = draft(engine, campaign.id)
        with sharing_links.answering(host="rally.example.net:8443", scheme="https"):  # the organizer's page request
            start(engine, update_id)
        fanout.fan_out_started(engine)  # the mail worker: no request
        received = list(Mailbox(engine, handler))
    assert len(received) == 2
    for envelope in received:
        message = parsed(envelope)
        assert message["List-Unsubscribe"].startswith("<https://rally.example.net:8443/unsubscribe?t=")
        assert "https://rally.example.net:8443/?campaign=" in message.get_content()
        assert "localhost" not in message.get_content()


def test_a_finished_updates_counts_are_stored_once_and_do_not_drift_when_messages_are_deleted(engine, mailbox):
    campaign = make_campaign(engine)
    ids = signers(engine, campaign.slug, 3)
    update_id = draft(engine, campaign.id)
    start(engine, update_id)
    fanout.fan_out(engine=engine, update_id=update_id)
    assert fanout.settle_finished(engine) == 0  # still waiting to be sent: counted live
    with read_session(engine) as session:
        live = updates.get_progress(session=session, update_id=update_id)
    assert (live.sent, live.waiting, live.done) == (0, 3, False)
    assert len(list(mailbox)) == 3
    assert fanout.settle_finished(engine) == 1
    assert fanout.settle_finished(engine) == 0  # written once
    run_write(engine, lambda s: outbox.forget_signatures(session=s, signature_ids=ids[:2]))  # erasure, say
    with read_session(engine) as session:
        row = updates.get_update(session=session, update_id=update_id)
        progress = updates.get_progress(session=session, update_id=update_id)
    assert (row.final_sent, row.final_failed) == (3, 0)
    assert (progress.sent, progress.failed, progress.waiting, progress.done) == (3, 0, 0, True)
