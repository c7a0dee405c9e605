"""Queueing many messages at once (an update to a campaign's signers): the rows ``outbox.enqueue`` writes, in one
multi-row ``INSERT ... ON CONFLICT DO NOTHING`` per batch, in the caller's transaction.

The same guarantees as :func:`campaigns.core.outbox.enqueue`: nothing is queued when mail is off, every message
is rendered whole when it is queued, and a ``dedupe_key`` queued before is skipped (so a batch run again after a
crash queues only what it had not). Bulk messages have priority ``outbox.BULK``: every due person-by-person
message is claimed before them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from campaigns.core.db import insert_for
from campaigns.core.mail import MailError, OutgoingMail, mail_mode, one_line, render_message
from campaigns.core.models import OutboxMessage, OutboxStatus, utcnow
from campaigns.core.outbox import BULK
from campaigns.core.settings import Settings, get_settings

_T = OutboxMessage.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it


@dataclass(frozen=True)
class Queued:
    """One message of a bulk queueing: the mail, whom it is about, and its dedupe key."""

    mail: OutgoingMail
    recipient_canonical: str | None
    signature_id: int | None
    dedupe_key: str


def enqueue_many(
    *,
    session: Session,
    kind: str,
    messages: list[Queued],
    campaign_id: int | None = None,
    update_id: int | None = None,
    settings: Settings | None = None,
) -> int:
    """Queue ``messages`` in the caller's transaction; returns how many were new (dedupe keys seen before skip)."""
    settings = settings or get_settings()
    if mail_mode(settings) is None:
        raise MailError("Email is not configured (set RALLY_SMTP_HOST, or RALLY_MAIL_OUTBOX for development).")
    if not messages:
        return 0
    now = utcnow()
    if session.connection().dialect.name == "postgresql":
        return _insert_unnest(session, kind, messages, campaign_id, update_id, now, settings)
    rows = [
        {
            "kind": kind,
            "status": OutboxStatus.queued.value,
            "to_address": m.mail.to_address,
            "recipient_canonical": m.recipient_canonical,
            "subject": one_line(m.mail.subject),
            "message": render_message(m.mail, settings),
            "dedupe_key": m.dedupe_key,
            "campaign_id": campaign_id,
            "signature_id": m.signature_id,
            "outreach_id": None,
            "update_id": update_id,
            "priority": BULK,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for m in messages
    ]
    return len(session.execute(_insert(session.connection().dialect.name), rows).all())


@cache
def _insert(dialect_name: str) -> Any:
    return insert_for(dialect_name, _T).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(_T.c.id)


# PostgreSQL: one statement with an array per column. A multi-row VALUES of 1,000 rows has 14,000 placeholders,
# and the driver's conversion of such a statement cost more than rendering the messages.
_UNNEST = text(
    """INSERT INTO outbox (kind, status, to_address, recipient_canonical, subject, message, dedupe_key, campaign_id,
    signature_id, update_id, priority, attempts, next_attempt_at, created_at)
SELECT :kind, :status, m.to_address, m.recipient_canonical, m.subject, m.message, m.dedupe_key,
    CAST(:campaign_id AS integer), m.signature_id, CAST(:update_id AS integer), :priority, 0, :now, :now
FROM unnest(CAST(:to_address AS text[]), CAST(:recipient_canonical AS text[]), CAST(:subject AS text[]),
    CAST(:message AS text[]), CAST(:dedupe_key AS text[]), CAST(:signature_id AS integer[]))
    AS m(to_address, recipient_canonical, subject, message, dedupe_key, signature_id)
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id"""
)


def _insert_unnest(
    session: Session,
    kind: str,
    messages: list[Queued],
    campaign_id: int | None,
    update_id: int | None,
    now: datetime,
    settings: Settings,
) -> int:
    params: dict[str, Any] = {
        "kind": kind,
        "status": OutboxStatus.queued.value,
        "campaign_id": campaign_id,
        "update_id": update_id,
        "priority": BULK,
        "now": now,
        "to_address": [m.mail.to_address for m in messages],
        "recipient_canonical": [m.recipient_canonical for m in messages],
        "subject": [one_line(m.mail.subject) for m in messages],
        "message": [render_message(m.mail, settings) for m in messages],
        "dedupe_key": [m.dedupe_key for m in messages],
        "signature_id": [m.signature_id for m in messages],
    }
    return len(session.execute(_UNNEST, params).all())
