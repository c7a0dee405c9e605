"""Queueing many messages at once (an update to a campaign's signers): the rows ``outbox.enqueue`` writes, in one
multi-row ``INSERT ... ON CONFLICT DO NOTHING`` per batch, in the caller's transaction.

The same guarantees as :func:`campaigns.core.outbox.enqueue`: nothing is queued when mail is off, every message
is rendered whole when it is queued, and a ``dedupe_key`` queued before is skipped (so a batch run again after a
crash queues only what it had not).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlmodel import Session

from campaigns.core.db import insert_for
from campaigns.core.mail import MailError, OutgoingMail, mail_mode, one_line, render_message
from campaigns.core.models import OutboxMessage, OutboxStatus, utcnow
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
