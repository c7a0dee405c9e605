"""The mail outbox: every message Rally sends is a row here first, then claimed, sent and marked by a worker.

**Queued with the change it reports.** :func:`enqueue` runs in the caller's write transaction: a
confirmation email exists exactly when its signature does, a letter's email exactly when its delivery
was claimed. ``dedupe_key`` (unique) makes queueing the same message twice a no-op.

**Sent once and only once.** A worker (``outbox_worker``: inside the app process, or ``python -m
campaigns worker``) claims a batch in one statement (:func:`claim`: ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several workers never take the same row; SQLite has one writer at a time), under a
lease, then hands each message to SMTP and marks it sent right after (:func:`mark_sent`). A message
whose lease ran out while it was being sent (the worker died mid-send) may or may not have left: it
becomes *uncertain*, is never resent automatically, and is shown to organizers, who may resend it
(:func:`resend`).

**Failures.** A server that cannot be reached, or answers 4xx, is retried with exponential backoff
(:data:`BACKOFF_SECONDS` doubling, at most :data:`BACKOFF_CAP_SECONDS`) up to ``RALLY_MAIL_MAX_ATTEMPTS``
attempts; a 5xx answer fails at once (:func:`mark_failed`). Failed messages keep the server's answer.

**Person-by-person mail first.** Each message has a priority: :data:`PERSONAL` (0: a confirmation, a "Your
data" or password link, a letter: one person waiting for it) or :data:`BULK` (1: an update's messages, queued
by the thousand by ``outbox_bulk``). A claim takes every due personal message before any bulk one (then the
oldest due first), so a link asked for while a 100,000-signer update is going out leaves within the minute.

**Rate.** At most ``RALLY_MAIL_PER_MINUTE`` messages are handed over per rolling minute, across every
worker on the database (a claim counts what was sent in the last minute and what is being sent).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import and_, bindparam, func, or_, select, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from campaigns.core import audit
from campaigns.core.audit import Actor
from campaigns.core.db import HotStatement, insert_for, run_write
from campaigns.core.errors import NotFound
from campaigns.core.mail import MailError, MailRefused, MailUncertain, OutgoingMail, mail_mode, one_line, render_message
from campaigns.core.models import OutboxMessage, OutboxStatus, Outreach, OutreachStatus, utcnow
from campaigns.core.settings import Settings, get_settings

log = logging.getLogger(__name__)

LEASE_SECONDS = 300  # a claimed batch must be handed over within this (each SMTP step times out in 15 s)
BATCH = 50
UPDATE_KIND = "update"  # the kind of updates to signers: dropped when a signer opts out, withdraws or is invalidated
BACKOFF_SECONDS = 30
BACKOFF_CAP_SECONDS = 3600
PERSONAL = 0  # mail to one person about what they just did
BULK = 1  # an update's fan-out: goes after every due personal message
_PG_CLAIM_LOCK = 0x7261_6C6C_7930  # one claim at a time across PostgreSQL workers: the rate budget holds

_T = OutboxMessage.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_OUTREACH = Outreach.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it


def enqueue(
    *,
    session: Session,
    kind: str,
    mail: OutgoingMail,
    recipient_canonical: str | None = None,
    campaign_id: int | None = None,
    signature_id: int | None = None,
    outreach_id: int | None = None,
    update_id: int | None = None,
    dedupe_key: str | None = None,
    held: bool = False,
    priority: int = PERSONAL,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> int | None:
    """Queue one message in the caller's transaction; returns its id, or None if ``dedupe_key`` was queued before.

    ``priority``: :data:`PERSONAL` (sent before any bulk message that is due) or :data:`BULK`.
    ``held``: stored but not sent until :func:`release_held` (a letter from a signature that does not count yet).
    Raises ``MailError`` when mail is off or an address is not valid (nothing is queued then).
    """
    settings = settings or get_settings()
    if mail_mode(settings) is None:
        raise MailError("Email is not configured (set RALLY_SMTP_HOST, or RALLY_MAIL_OUTBOX for development).")
    message = render_message(mail, settings)
    now = now or utcnow()
    row = _insert(session.connection().dialect.name).fetchone(
        session,
        {
            "kind": kind,
            "status": OutboxStatus.held.value if held else OutboxStatus.queued.value,
            "to_address": mail.to_address,
            "recipient_canonical": recipient_canonical,
            "subject": one_line(mail.subject),
            "message": message,
            "dedupe_key": dedupe_key,
            "campaign_id": campaign_id,
            "signature_id": signature_id,
            "outreach_id": outreach_id,
            "update_id": update_id,
            "priority": priority,
            "attempts": 0,
            "next_attempt_at": min(now, utcnow()),  # due at once (``now`` may be a test's later moment)
            "created_at": now,
        },
    )
    return int(row[0]) if row else None


_INSERT_KEYS = (
    "kind",
    "status",
    "to_address",
    "recipient_canonical",
    "subject",
    "message",
    "dedupe_key",
    "campaign_id",
    "signature_id",
    "outreach_id",
    "update_id",
    "priority",
    "attempts",
    "next_attempt_at",
    "created_at",
)


@cache
def _insert(dialect_name: str) -> HotStatement:
    """Queueing is on the sign-on path (a confirmation email per signature): the statement is built once per
    dialect and run on the driver's cursor, as the sign service's own statements are (``db.HotStatement``)."""
    statement = insert_for(dialect_name, _T).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(_T.c.id)
    return HotStatement(statement, _INSERT_KEYS)


def release_held(*, session: Session, signature_ids: list[int], now: datetime | None = None) -> int:
    """These signatures now count: their held messages (letters) are queued. Returns how many."""
    if not signature_ids:
        return 0
    result = session.execute(
        update(_T)
        .where(_T.c.signature_id.in_(signature_ids), _T.c.status == OutboxStatus.held.value)
        .values(status=OutboxStatus.queued.value, next_attempt_at=now or utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # SQLModel types execute() as Result; DML gives a CursorResult


def drop_held(*, session: Session, signature_ids: list[int]) -> int:
    """These signatures will never count (invalidated, withdrawn): their held messages are dropped unsent, and the
    deliveries they stood for with them (the letters stay, as their signers wrote them)."""
    if not signature_ids:
        return 0
    rows = session.execute(
        select(_T.c.id, _T.c.outreach_id).where(
            _T.c.signature_id.in_(signature_ids), _T.c.status == OutboxStatus.held.value
        )
    ).all()
    outreach_ids = [o for _, o in rows if o is not None]
    if outreach_ids:
        session.execute(_OUTREACH.delete().where(_OUTREACH.c.id.in_(outreach_ids)))  # cascades to the messages
    session.execute(_T.delete().where(_T.c.id.in_([i for i, _ in rows])))
    return len(rows)


def drop_queued(*, session: Session, signature_ids: list[int], kind: str) -> int:
    """Messages of ``kind`` about these signatures that have not been handed over yet are deleted (a signer who
    stopped agreeing to be contacted gets no update still queued for them). Returns how many."""
    if not signature_ids:
        return 0
    result = session.execute(
        _T.delete().where(
            _T.c.signature_id.in_(signature_ids),
            _T.c.kind == kind,
            _T.c.status.in_([OutboxStatus.queued.value, OutboxStatus.held.value]),
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # SQLModel types execute() as Result; DML gives a CursorResult


def forget_signatures(*, session: Session, signature_ids: list[int], recipient_canonical: str | None = None) -> int:
    """Erasure: every message about these signatures, or addressed to this supporter, is deleted (sent or not)."""
    conditions = [_T.c.signature_id.in_(signature_ids)] if signature_ids else []
    if recipient_canonical:
        conditions.append(_T.c.recipient_canonical == recipient_canonical)
    if not conditions:
        return 0
    return int(session.execute(_T.delete().where(or_(*conditions))).rowcount or 0)  # type: ignore[attr-defined]  # SQLModel types execute() as Result; DML gives a CursorResult


# --- claiming, sending, marking: the worker's steps ------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A message taken by a worker under a lease: what it needs to send and mark it."""

    id: int
    message: str
    outreach_id: int | None
    attempts: int
    to_address: str


def recover_expired_leases(*, session: Session, now: datetime | None = None) -> int:
    """Messages whose worker's lease ran out mid-send become uncertain: maybe delivered, never resent by Rally."""
    now = now or utcnow()
    expired = session.execute(
        select(_T.c.id, _T.c.outreach_id).where(_T.c.status == OutboxStatus.sending.value, _T.c.lease_until < now)
    ).all()
    if not expired:
        return 0
    ids = [i for i, _ in expired]
    session.execute(
        update(_T)
        .where(_T.c.id.in_(ids), _T.c.status == OutboxStatus.sending.value)
        .values(
            status=OutboxStatus.uncertain.value,
            lease_until=None,
            last_error="The sender stopped while handing this message over: it may or may not have been delivered.",
        )
    )
    outreach_ids = [o for _, o in expired if o is not None]
    if outreach_ids:
        session.execute(
            update(_OUTREACH)
            .where(_OUTREACH.c.id.in_(outreach_ids))
            .values(status=OutreachStatus.uncertain.value, last_error="Maybe delivered: an organizer may resend it.")
        )
    log.warning("%d outbox message(s) left uncertain by a worker that stopped mid-send", len(ids))
    return len(ids)


def _budget(session: Session, now: datetime, settings: Settings) -> int:
    """How many messages may be claimed now under the per-minute rate (sent in the last minute, or being sent)."""
    limit = settings.mail_per_minute
    recent = select(_T.c.id).where(
        or_(
            and_(_T.c.status == OutboxStatus.sent.value, _T.c.sent_at > now - timedelta(minutes=1)),
            _T.c.status == OutboxStatus.sending.value,
        )
    )
    used = session.execute(select(func.count()).select_from(recent.limit(limit).subquery())).scalar_one()
    return max(0, limit - int(used))


def claim(
    *, session: Session, worker: str, limit: int = BATCH, now: datetime | None = None, settings: Settings | None = None
) -> list[Claimed]:
    """Take up to ``limit`` due messages for ``worker`` under a lease (one statement; safe with many workers):
    personal messages before bulk ones, then the oldest due first (``ix_outbox_claim`` gives that order)."""
    settings = settings or get_settings()
    now = now or utcnow()
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_CLAIM_LOCK})
    limit = min(limit, _budget(session, now, settings))
    if limit <= 0:
        return []
    due = (
        select(_T.c.id)
        .where(_T.c.status == OutboxStatus.queued.value, _T.c.next_attempt_at <= now)
        .order_by(_T.c.priority, _T.c.next_attempt_at, _T.c.id)
        .limit(limit)
    )
    if postgres:
        due = due.with_for_update(skip_locked=True)
    rows = session.execute(
        update(_T)
        .where(_T.c.id.in_(due.scalar_subquery()))
        .values(
            status=OutboxStatus.sending.value,
            claimed_by=worker,
            lease_until=now + timedelta(seconds=LEASE_SECONDS),
            attempts=_T.c.attempts + 1,
        )
        .returning(_T.c.id, _T.c.message, _T.c.outreach_id, _T.c.attempts, _T.c.to_address)
    ).all()
    return sorted((Claimed(int(i), m, o, int(a), t) for i, m, o, a, t in rows), key=lambda c: c.id)


# Built once: a drain marks every message in its own transaction, where building the statement cost more
# than SQLite's work on it.
_MARK_SENT = (
    update(_T)
    .where(
        _T.c.id == bindparam("message_id"),
        _T.c.claimed_by == bindparam("worker"),
        _T.c.status.in_([OutboxStatus.sending.value, OutboxStatus.uncertain.value]),
    )
    .values(status=OutboxStatus.sent.value, sent_at=bindparam("now"), lease_until=None, last_error=None)
)
_MARK_OUTREACH_SENT = (
    update(_OUTREACH)
    .where(_OUTREACH.c.id == bindparam("outreach_id"))
    .values(status=OutreachStatus.sent.value, sent_at=bindparam("now"), attempts=bindparam("tries"), last_error=None)
)


def mark_sent(*, engine: Engine, claimed: Claimed, worker: str) -> None:
    """Mark one handed-over message sent, in its own transaction, right after the hand-over.

    On PostgreSQL this transaction commits asynchronously (``synchronous_commit = off``: it does not wait for
    its WAL flush, which was most of a mark's time). That keeps sent-once: the claim that set the message
    *sending* under a lease was committed durably before the hand-over, so a mark lost to a database server
    crash (within a fraction of a second of its commit) leaves the message *sending*, and it becomes
    *uncertain* when the lease runs out, never resent: as when a worker dies between hand-over and mark.
    """

    def work(session: Session) -> None:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SET LOCAL synchronous_commit = off"))
        now = utcnow()
        session.execute(_MARK_SENT, {"message_id": claimed.id, "worker": worker, "now": now})
        if claimed.outreach_id is not None:
            session.execute(
                _MARK_OUTREACH_SENT, {"outreach_id": claimed.outreach_id, "now": now, "tries": claimed.attempts}
            )

    run_write(engine, work)


def backoff_seconds(attempts: int) -> int:
    """Wait before the next try after ``attempts`` tries: 30 s, 60 s, 120 s ... at most an hour."""
    return int(min(BACKOFF_CAP_SECONDS, BACKOFF_SECONDS * 2 ** max(0, attempts - 1)))


def mark_failed(*, engine: Engine, claimed: Claimed, worker: str, error: MailError, settings: Settings) -> str:
    """Retry later, fail for good, or leave uncertain; returns the new status."""
    if isinstance(error, MailUncertain):
        status = OutboxStatus.uncertain.value
    elif isinstance(error, MailRefused) and error.permanent:
        status = OutboxStatus.failed.value
    elif claimed.attempts >= settings.mail_max_attempts:
        status = OutboxStatus.failed.value
    else:
        status = OutboxStatus.queued.value
    message = error.user_message[:500]

    def work(session: Session) -> None:
        now = utcnow()
        session.execute(
            update(_T)
            .where(_T.c.id == claimed.id, _T.c.claimed_by == worker)
            .values(
                status=status,
                lease_until=None,
                last_error=message,
                next_attempt_at=now + timedelta(seconds=backoff_seconds(claimed.attempts)),
            )
        )
        if claimed.outreach_id is not None:
            shown = {
                OutboxStatus.queued.value: OutreachStatus.pending.value,
                OutboxStatus.failed.value: OutreachStatus.failed.value,
                OutboxStatus.uncertain.value: OutreachStatus.uncertain.value,
            }[status]
            session.execute(
                update(_OUTREACH)
                .where(_OUTREACH.c.id == claimed.outreach_id)
                .values(status=shown, attempts=claimed.attempts, last_error=message)
            )

    run_write(engine, work)
    return status


def resend(*, session: Session, message_id: int, actor: Actor, now: datetime | None = None) -> None:
    """A person decided: send a failed or uncertain message again (once more; audited)."""
    now = now or utcnow()
    row = session.execute(
        select(_T.c.status, _T.c.campaign_id, _T.c.outreach_id).where(_T.c.id == message_id).with_for_update()
    ).first()
    if row is None or row.status not in (OutboxStatus.failed.value, OutboxStatus.uncertain.value):
        raise NotFound("That message is not failed or uncertain any more. Reload the page to see it as it is now.")
    session.execute(
        update(_T)
        .where(_T.c.id == message_id)
        .values(status=OutboxStatus.queued.value, attempts=0, next_attempt_at=now, claimed_by=None, last_error=None)
    )
    if row.outreach_id is not None:
        session.execute(
            update(_OUTREACH).where(_OUTREACH.c.id == row.outreach_id).values(status=OutreachStatus.pending.value)
        )
    audit.record(
        session=session,
        actor=actor,
        action="outbox.resend",
        campaign_id=row.campaign_id,
        at=now,
        message_id=message_id,
        was=row.status,
    )
