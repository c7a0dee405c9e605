"""Outreach: one delivery of one letter to one target through one channel."""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import ConfigDict
from sqlalchemy import Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from campaigns.core.models.columns import utc_column, utcnow


class OutreachChannel(enum.StrEnum):
    email = "email"
    pdf = "pdf"
    text = "text"
    mailto = "mailto"


class OutreachStatus(enum.StrEnum):
    pending = "pending"  # queued in the outbox (or waiting for its signature to count)
    sent = "sent"
    failed = "failed"  # the outbox gave up; visible to organizers with the server's answer
    uncertain = "uncertain"  # the sender stopped mid-send: maybe delivered; an organizer may resend it


class Outreach(SQLModel, table=True):
    """One delivery of one letter to one target through one channel: never twice the same."""

    __table_args__ = (
        UniqueConstraint("letter_id", "target_id", "channel", name="uq_outreach_letter_target_channel"),
        Index("ix_outreach_status", "status", "channel"),
        Index("ix_outreach_target_status", "target_id", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letter.id", ondelete="CASCADE")
    target_id: int | None = Field(default=None, foreign_key="target.id", ondelete="SET NULL")
    channel: str = Field(sa_column=Column(String(16), nullable=False))
    status: str = Field(default=OutreachStatus.pending.value, sa_column=Column(String(16), nullable=False))
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    sent_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class DeliveryView(SQLModel):
    """One delivery of a supporter's letter, as "your data" shows it (frozen: plain values)."""

    model_config = ConfigDict(frozen=True)  # type: ignore[assignment]  # SQLModel types model_config as its own config

    channel: str
    status: str
    sent_at: datetime | None  # when Rally's email was sent, or when the signer downloaded or opened it
    what_happened: str  # deliveries.DeliveryKind: sent (by Rally), waiting, failed, uncertain, downloaded, opened
