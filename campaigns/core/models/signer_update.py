"""Updates to a campaign's signers: news written by organizers, emailed to those who agreed to be contacted."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from campaigns.core.models.columns import utc_column, utcnow


class UpdateStatus(enum.StrEnum):
    draft = "draft"  # being written: only organizers see it
    sending = "sending"  # started: its messages are being queued (the fan-out), then sent by the outbox worker
    sent = "sent"  # every message is queued; the public timeline shows it from when it started


class UpdateKind(enum.StrEnum):
    news = "news"
    response = "response"  # the target answered
    outcome = "outcome"  # what came of the campaign (won, partly won, lost)


class SignerUpdate(SQLModel, table=True):
    """One update to a campaign's signers, and the cursor of its fan-out (resumed after a crash, never doubled)."""

    __tablename__ = "signer_update"
    __table_args__ = (Index("ix_signer_update_campaign_status", "campaign_id", "status", "started_at"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE")
    kind: str = Field(default=UpdateKind.news.value, sa_column=Column(String(16), nullable=False))
    subject: str = Field(sa_column=Column(String(200), nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))  # organizer markdown (no raw HTML is ever rendered)
    # Region codes (comma-separated) the update goes to; empty: every opted-in signer of the campaign.
    region_codes: str = Field(default="", sa_column=Column(String(2000), nullable=False, server_default=""))
    status: str = Field(default=UpdateStatus.draft.value, sa_column=Column(String(16), nullable=False))
    created_by: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    started_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))  # every message queued
    recipients: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))  # at start
    queued: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    # The fan-out's cursor: the last signature id whose message is queued (keyset order), committed per batch.
    cursor: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    # The address every link of its messages is built on: the organizer's request address when it started (the
    # fan-out runs in the mail worker, which answers no request). Empty for a draft.
    link_base: str = Field(default="", sa_column=Column(String(300), nullable=False, server_default=""))
    # Once every message has gone (sent, failed or dropped): the counts, written once, read instead of the outbox.
    final_sent: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    final_failed: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    # When the organizer last sent themselves a test; the editor sends only a version tested since its last edit.
    tested_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
