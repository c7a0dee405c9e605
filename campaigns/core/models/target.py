"""Targets: the people letters go to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, String, Text
from sqlmodel import Field, SQLModel

from campaigns.core.models.columns import utc_column, utcnow


class Target(SQLModel, table=True):
    """A person letters go to: for one region of the campaign's scheme, or for everyone (region_code NULL)."""

    __table_args__ = (Index("ix_target_campaign_region", "campaign_id", "region_code"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE")
    region_code: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    title: str = Field(default="", sa_column=Column(String(200), nullable=False))
    email: str | None = Field(default=None, sa_column=Column(String(320), nullable=True))
    postal_address: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
