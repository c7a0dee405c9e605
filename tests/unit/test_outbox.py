"""The mail outbox on SQLite and PostgreSQL, sending to a real SMTP server (aiosmtpd) started by the tests.

Workers run as real processes (``python -m campaigns worker``, or a script that kills itself with SIGKILL in
the middle of a batch): every message goes out once, and a message whose sender died mid-send is left
uncertain, visible, and never resent by Rally.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from datetime import timedelta
from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy import select

from campaigns.core import outbox, outbox_worker
from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import NotFound
from campaigns.core.mail import MailError, OutgoingMail
from campaigns.core.models import OutboxMessage, OutboxStatus, utcnow
from campaigns.core.settings import ENV_NAMES, get_settings, override_settings
from tests.support.mail import CollectMail, smtp_settings
from tests.support.servers import REPO, free_port

SENDER = "Rally <rally@rally.example.org>"


def mail(n: int = 0, to: str | None = None) -> OutgoingMail:
    return OutgoingMail(
        to_address=to or f"person{n}@example.org",
        to_name=f"Person {n}",
        reply_to_address="",
        reply_to_name="",
        subject=f"Message {n}",
        body=f"Hello number {n}.",
    )


def queue(engine, count: int, **kwargs) -> list[int]:
    def work(session):
        return [outbox.enqueue(session=session, kind="test", mail=mail(n), **kwargs) for n in range(count)]

    return run_write(engine, work)


def rows(engine) -> list[OutboxMessage]:
    with read_session(engine) as session:
        return list(session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


def subjects(handler) -> Counter[str]:
    return Counter(str(BytesParser(policy=policy.default).parsebytes(e.content)["Subject"]) for e in handler.envelopes)


@pytest.fixture
def smtp(smtp_server):
    controller, handler = smtp_server
    with override_settings(**smtp_settings(controller, SENDER)):
        yield controller, handler


def test_a_message_is_queued_with_its_change_and_sent_once(engine, smtp):
    _, handler = smtp
    [message_id] = queue(engine, 1)
    assert handler.envelopes == []  # nothing leaves until a worker sends it
    first = outbox_worker.drain(engine=engine)
    again = outbox_worker.drain(engine=engine)
    assert (first.sent, again.sent) == (1, 0)
    assert subjects(handler) == {"Message 0": 1}
    [row] = rows(engine)
    assert (row.id, row.status, row.attempts, row.sent_at is not None) == (message_id, "sent", 1, True)


def test_a_rolled_back_change_sends_nothing(engine, smtp):
    _, handler = smtp

    def work(session):
        outbox.enqueue(session=session, kind="test", mail=mail())
        raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        run_write(engine, work)
    assert rows(engine) == [] and outbox_worker.drain(engine=engine).sent == 0 and handler.envelopes == []


def test_the_same_dedupe_key_is_queued_once(engine, smtp):
    _, handler = smtp
    first = run_write(engine, lambda s: outbox.enqueue(session=s, kind="test", mail=mail(), dedupe_key="confirm:1"))
    second = run_write(engine, lambda s: outbox.enqueue(session=s, kind="test", mail=mail(), dedupe_key="confirm:1"))
    assert first is not None and second is None
    outbox_worker.drain(engine=engine)
    assert len(handler.envelopes) == 1


def test_without_mail_nothing_can_be_queued(engine):
    with override_settings(smtp_host="", mail_outbox=""), pytest.raises(MailError, match="not configured"):
        queue(engine, 1)
    assert rows(engine) == []


def test_an_unreachable_server_is_retried_with_backoff_then_fails_with_its_answer(engine):
    with override_settings(
        smtp_host="127.0.0.1", smtp_port=free_port(), smtp_security="none", mail_from=SENDER, mail_max_attempts=3
    ):
        queue(engine, 1)
        stats = outbox_worker.run_once(engine=engine)
        [row] = rows(engine)
        assert stats.retried == 1 and row.status == "queued" and row.attempts == 1
        assert "could not be reached" in row.last_error
        assert row.next_attempt_at - utcnow() > timedelta(seconds=outbox.BACKOFF_SECONDS - 5)
        assert outbox_worker.run_once(engine=engine).handled == 0  # not due yet
        for attempt in (2, 3):
            run_write(engine, lambda s: s.execute(OutboxMessage.__table__.update().values(next_attempt_at=utcnow())))
            outbox_worker.run_once(engine=engine)
            [row] = rows(engine)
            assert row.attempts == attempt
        assert row.status == "failed" and "could not be reached" in row.last_error


def test_backoff_doubles_up_to_an_hour():
    assert [outbox.backoff_seconds(n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert outbox.backoff_seconds(50) == outbox.BACKOFF_CAP_SECONDS


class Answering(CollectMail):
    """Answers RCPT for some addresses with a given SMTP code."""

    def __init__(self, answers: dict[str, str]) -> None:
        super().__init__()
        self.answers = answers

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address in self.answers:
            return self.answers[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def answering():
    from aiosmtpd.controller import Controller

    handler = Answering(
        {"nobody@example.org": "550 5.1.1 No such mailbox here", "busy@example.org": "451 4.3.2 Try again later"}
    )
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        with override_settings(**smtp_settings(controller, SENDER)):
            yield handler
    finally:
        controller.stop()


def test_a_permanent_refusal_fails_at_once_and_a_temporary_one_is_retried(engine, answering):
    run_write(
        engine,
        lambda s: [
            outbox.enqueue(session=s, kind="test", mail=mail(1, "nobody@example.org")),
            outbox.enqueue(session=s, kind="test", mail=mail(2, "busy@example.org")),
            outbox.enqueue(session=s, kind="test", mail=mail(3, "fine@example.org")),
        ],
    )
    stats = outbox_worker.run_once(engine=engine)
    assert (stats.sent, stats.failed, stats.retried) == (1, 1, 1)
    nobody, busy, fine = rows(engine)
    assert nobody.status == "failed" and "550" in nobody.last_error and "No such mailbox" in nobody.last_error
    assert busy.status == "queued" and "451" in busy.last_error
    assert fine.status == "sent"
    assert [e.rcpt_tos for e in answering.envelopes] == [["fine@example.org"]]


def test_the_rate_limit_holds_messages_for_the_next_minute(engine, smtp):
    _, handler = smtp
    queue(engine, 12)
    with override_settings(mail_per_minute=5):
        assert outbox_worker.drain(engine=engine).sent == 5
        assert outbox_worker.run_once(engine=engine).handled == 0
    assert len(handler.envelopes) == 5
    with read_session(engine) as session:
        assert outbox_worker.summarize(session=session).counts["queued"] == 7


def test_an_expired_lease_makes_a_message_uncertain_never_resent_until_a_person_says_so(engine, smtp):
    _, handler = smtp
    queue(engine, 1)
    claimed = run_write(engine, lambda s: outbox.claim(session=s, worker="gone"))  # a worker took it, then died
    assert len(claimed) == 1
    later = utcnow() + timedelta(seconds=outbox.LEASE_SECONDS + 1)
    assert run_write(engine, lambda s: outbox.recover_expired_leases(session=s, now=later)) == 1
    assert outbox_worker.drain(engine=engine).sent == 0 and handler.envelopes == []
    with read_session(engine) as session:
        [problem] = outbox_worker.list_problems(session=session)
    assert problem.status == "uncertain" and "may or may not" in problem.last_error
    run_write(engine, lambda s: outbox.resend(session=s, message_id=problem.id, actor=CLI))
    assert outbox_worker.drain(engine=engine).sent == 1 and len(handler.envelopes) == 1
    with pytest.raises(NotFound):  # sent now: nothing to resend
        run_write(engine, lambda s: outbox.resend(session=s, message_id=problem.id, actor=CLI))


def _env(engine, controller) -> dict[str, str]:
    settings = {**smtp_settings(controller, SENDER), "database_url": engine.url.render_as_string(hide_password=False)}
    return {**os.environ, **{ENV_NAMES[k]: str(v) for k, v in settings.items()}}


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from campaigns.core import outbox_worker
    from campaigns.core.db import get_engine
    sent = []
    def after_send(message_id):
        sent.append(message_id)
        if len(sent) == int(sys.argv[1]):
            os.kill(os.getpid(), signal.SIGKILL)  # handed over, not yet marked: the worst moment
    outbox_worker.run_once(engine=get_engine(), limit=50, after_send=after_send)
    """
)


def test_a_worker_killed_mid_batch_then_restarted_sends_each_message_exactly_once(engine, smtp):
    controller, handler = smtp
    queue(engine, 20)
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, "7"], cwd=REPO, env=_env(engine, controller), capture_output=True, timeout=60
    )
    assert killed.returncode == -9, killed.stderr.decode()
    assert len(handler.envelopes) == 7
    by_status = Counter(row.status for row in rows(engine))
    assert by_status == {"sent": 6, "sending": 14}  # the 7th was handed over; the kill came before its mark
    # Restarted after its lease ran out: the in-flight message is uncertain, the rest go out once.
    later = utcnow() + timedelta(seconds=outbox.LEASE_SECONDS + 1)
    assert run_write(engine, lambda s: outbox.recover_expired_leases(session=s, now=later)) == 14
    assert outbox_worker.drain(engine=engine).sent == 0  # uncertain ones are never resent by themselves
    with read_session(engine) as session:
        problems = outbox_worker.list_problems(session=session)
    assert len(problems) == 14
    # Only the one really in flight is in doubt; a person resends the 13 that had not gone yet.
    in_flight = {f"Message {n}" for n in range(20)} - {row.subject for row in rows(engine) if row.status == "sent"}
    for problem in problems:
        if problem.subject != sorted(in_flight, key=lambda s: int(s.split()[1]))[0]:
            run_write(engine, lambda s, i=problem.id: outbox.resend(session=s, message_id=i, actor=CLI))
    outbox_worker.drain(engine=engine)
    assert subjects(handler) == {f"Message {n}": 1 for n in range(20)}  # every message exactly once
    assert Counter(row.status for row in rows(engine)) == {"sent": 19, "uncertain": 1}


def test_two_worker_processes_never_send_the_same_message(engine, smtp):
    controller, handler = smtp
    queue(engine, 300)
    env = _env(engine, controller)
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "campaigns", "worker", "--once"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    counted = subjects(handler)
    assert len(handler.envelopes) == 300 and set(counted.values()) == {1}
    assert Counter(row.status for row in rows(engine)) == {"sent": 300}
    claimed_by = Counter(row.claimed_by.split(":")[1] for row in rows(engine))
    assert len(claimed_by) >= 1  # (both usually share the work; what matters is that nothing went twice)


def test_a_held_message_waits_for_its_signature_and_a_dropped_one_never_goes(engine, smtp):
    from campaigns.signatures.signing import sign
    from tests.support.factories import make_campaign, signer

    _, handler = smtp
    campaign = make_campaign(engine)
    one = run_write(engine, lambda s: sign(session=s, campaign_slug=campaign.slug, signer=signer()))
    two = run_write(engine, lambda s: sign(session=s, campaign_slug=campaign.slug, signer=signer()))
    run_write(
        engine,
        lambda s: [
            outbox.enqueue(session=s, kind="letter", mail=mail(1), signature_id=one.signature_id, held=True),
            outbox.enqueue(session=s, kind="letter", mail=mail(2), signature_id=two.signature_id, held=True),
        ],
    )
    assert outbox_worker.drain(engine=engine).sent == 0
    assert run_write(engine, lambda s: outbox.release_held(session=s, signature_ids=[one.signature_id])) == 1
    assert run_write(engine, lambda s: outbox.drop_held(session=s, signature_ids=[two.signature_id])) == 1
    assert outbox_worker.drain(engine=engine).sent == 1
    assert subjects(handler) == {"Message 1": 1}


def test_the_dev_outbox_folder_gets_whole_eml_files(engine, tmp_path):
    with override_settings(smtp_host="", mail_outbox=str(tmp_path / "outbox"), mail_from=""):
        queue(engine, 3)
        assert outbox_worker.drain(engine=engine).sent == 3
        assert get_settings().mail_outbox
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 3 and not list((tmp_path / "outbox").glob("*.tmp"))
    assert Counter(row.status for row in rows(engine)) == {OutboxStatus.sent.value: 3}


def test_the_worker_runs_the_upkeep_and_keeps_sending_when_an_upkeep_task_fails(engine, smtp, monkeypatch):
    """The worker thread runs ``upkeep.run_all``: a task that fails is logged, the next task and the mail go on."""

    from campaigns.signatures import upkeep

    _, handler = smtp
    ran = threading.Event()

    def broken(engine):
        raise RuntimeError("this task is broken")

    monkeypatch.setattr(upkeep, "TASKS", [broken, lambda engine: ran.set()])
    queue(engine, 3)
    worker = outbox_worker.Worker(engine=engine, idle_seconds=0.05, upkeep=upkeep.run_all)
    worker.start()
    try:
        assert ran.wait(20), "the upkeep's second task never ran"
        deadline = utcnow() + timedelta(seconds=20)
        while len(handler.envelopes) < 3 and utcnow() < deadline:
            ran.wait(0.05)
    finally:
        worker.stop()
    assert subjects(handler) == {"Message 0": 1, "Message 1": 1, "Message 2": 1}


def test_the_worker_starts_an_update_sent_after_its_upkeep_without_waiting_for_the_next_one(engine, smtp):
    """An organizer presses "Send" after the minute's upkeep ran: the quick upkeep (``upkeep.run_frequent``)
    queues the update's messages within seconds, and the worker sends them; the minute's upkeep does not run again."""
    from campaigns.core.audit import Actor
    from campaigns.signatures import upkeep
    from tests.support.factories import make_campaign, sign_from

    _, handler = smtp
    organizer = Actor(email="organizer@example.org", user_id=None)
    campaign = make_campaign(engine)
    for _ in range(2):
        sign_from(engine, campaign.slug, contact_consent=True)
    upkeeps = []
    worker = outbox_worker.Worker(
        engine=engine,
        idle_seconds=0.05,
        upkeep=lambda engine: upkeeps.append(1),
        upkeep_seconds=3600,
        frequent=upkeep.run_frequent,
        frequent_seconds=0.2,
    )
    with override_settings(public_url="https://rally.example.org"):  # links in the update are built on it
        _send_an_update_after_the_upkeep(engine, worker, upkeeps, handler, campaign.id, organizer)
    assert subjects(handler) == {"News": 2}
    assert upkeeps == [1]


def _send_an_update_after_the_upkeep(engine, worker, upkeeps, handler, campaign_id, organizer):
    from campaigns.core.db import run_write
    from campaigns.updates import updates

    worker.start()
    try:
        deadline = utcnow() + timedelta(seconds=20)
        while not upkeeps and utcnow() < deadline:
            threading.Event().wait(0.05)
        update_id = run_write(
            engine,
            lambda s: updates.draft_update(
                session=s, campaign_id=campaign_id, subject="News", body="We met the mayor.", actor=organizer
            ),
        )
        run_write(engine, lambda s: updates.start_sending(session=s, update_id=update_id, actor=organizer))
        while len(handler.envelopes) < 2 and utcnow() < deadline:
            threading.Event().wait(0.05)
    finally:
        worker.stop()


def test_person_by_person_mail_is_claimed_before_an_updates_bulk_messages(engine, smtp):
    from campaigns.core.outbox_bulk import Queued, enqueue_many

    bulk = [Queued(mail(n), None, None, f"bulk:{n}") for n in range(200)]
    run_write(engine, lambda s: enqueue_many(session=s, kind="update", messages=bulk))
    [link] = run_write(
        engine, lambda s: [outbox.enqueue(session=s, kind="my-data-link", mail=mail(999, "me@example.org"))]
    )
    first = run_write(engine, lambda s: outbox.claim(session=s, worker="w", limit=1))
    assert [c.id for c in first] == [link]  # queued after 200 update messages, claimed before any of them
    assert {r.priority for r in rows(engine) if r.kind == "update"} == {outbox.BULK}
    later = run_write(engine, lambda s: outbox.claim(session=s, worker="w", limit=5))
    assert [c.to_address for c in later] == [f"person{n}@example.org" for n in range(5)]  # then oldest first
