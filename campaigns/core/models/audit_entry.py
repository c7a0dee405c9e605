"""The audit log: who did what, when, on which campaign."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String, Text
from sqlmodel import Field, SQLModel

from campaigns.core.models.columns import utc_column, utcnow


class AuditEntry(SQLModel, table=True):
    """Who did what, when, on which campaign: every staff action on campaigns or personal data."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column(index=True))
    user_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    actor: str = Field(sa_column=Column(String(320), nullable=False))  # email at the time, or "cli"
    action: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True, ondelete="SET NULL")
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))  # JSON
