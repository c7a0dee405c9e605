"""Target responses: what a campaign's target answered, as an organizer records it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date, Index, String, Text
from sqlmodel import Field, SQLModel

from campaigns.core.models.columns import utc_column, utcnow


class TargetResponse(SQLModel, table=True):
    """One answer from a campaign's target (or one of its targets): plain text, the day it came, and a link to
    the document itself when there is one (shown as a link, never fetched)."""

    __tablename__ = "target_response"
    __table_args__ = (Index("ix_target_response_campaign", "campaign_id", "responded_on"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE")
    target_id: int | None = Field(default=None, foreign_key="target.id", ondelete="SET NULL")
    text: str = Field(sa_column=Column(Text, nullable=False))
    responded_on: date = Field(sa_column=Column(Date, nullable=False))
    attachment_url: str | None = Field(default=None, sa_column=Column(String(2000), nullable=True))
    recorded_by: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    recorded_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
