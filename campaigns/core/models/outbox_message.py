"""The outbox: every email Rally sends, queued in the transaction that decides to send it."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, Index, SmallInteger, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from campaigns.core.models.columns import utc_column, utcnow


class OutboxStatus(enum.StrEnum):
    held = "held"  # a letter from a signature that does not count yet (flagged): queued once it does
    queued = "queued"  # waiting for a worker (also between retries)
    sending = "sending"  # claimed by a worker under a lease
    sent = "sent"
    failed = "failed"  # gave up after the retries, or refused for good: the SMTP answer is kept
    uncertain = "uncertain"  # a worker's lease ran out mid-send: maybe delivered; only a person may resend it


class OutboxMessage(SQLModel, table=True):
    """One email Rally sends, whatever it is: drained by a worker, sent once and only once."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
        # the claim's order: person-by-person mail before bulk updates, then oldest due first
        Index("ix_outbox_claim", "status", "priority", "next_attempt_at", "id"),
        Index("ix_outbox_signature", "signature_id"),
        Index("ix_outbox_recipient", "recipient_canonical"),
        Index("ix_outbox_campaign_status", "campaign_id", "status"),
        Index("ix_outbox_update_status", "update_id", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_column=Column(String(32), nullable=False))  # confirmation, letter, my-data-link, ...
    status: str = Field(default=OutboxStatus.queued.value, sa_column=Column(String(16), nullable=False))
    to_address: str = Field(sa_column=Column(String(320), nullable=False))
    # The supporter this message is addressed to (canonical), so erasing them erases their mail too.
    recipient_canonical: str | None = Field(default=None, sa_column=Column(String(320), nullable=True))
    subject: str = Field(sa_column=Column(String(300), nullable=False))
    message: str = Field(sa_column=Column(Text, nullable=False))  # the whole RFC 5322 message, built when queued
    dedupe_key: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", ondelete="SET NULL")
    signature_id: int | None = Field(default=None, foreign_key="signature.id", ondelete="CASCADE")
    outreach_id: int | None = Field(default=None, foreign_key="outreach.id", ondelete="CASCADE")
    # The signer update this message is part of (its progress is counted from here).
    update_id: int | None = Field(default=None, foreign_key="signer_update.id", ondelete="SET NULL")
    # 0: mail to one person about what they just did (a confirmation, a "Your data" link, a letter); 1: bulk
    # (an update's fan-out). A claim takes every due 0 before any 1, so an update never delays someone's link.
    priority: int = Field(default=0, sa_column=Column(SmallInteger, nullable=False, server_default="0"))
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    lease_until: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    claimed_by: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    sent_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
