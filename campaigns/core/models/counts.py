"""The aggregate rows counts are read from, so no reader ever scans the signatures.

Public counts come from ``RegionCount`` rows: each signature adds 1 to one of ``count_shards`` rows of its
(campaign, region), in the same transaction, so counts are exact and concurrent signers rarely wait on the
same row. Readers sum a few hundred rows at most, whatever the number of signatures. ``HourlyCount`` and
``RegionDayCount`` are sharded the same way: the dashboard's time series and each region's trend.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from campaigns.core.models.columns import UTCDateTime, utc_column, utcnow


class RegionCount(SQLModel, table=True):
    """One shard of the signature count of one region of one campaign."""

    __tablename__ = "region_count"
    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True, ondelete="CASCADE")
    region_code: str = Field(sa_column=Column(String(32), primary_key=True))
    shard: int = Field(primary_key=True)
    count: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class HourlyCount(SQLModel, table=True):
    """One shard of a campaign's signatures in one UTC hour: the dashboard's time series, without a scan."""

    __tablename__ = "hourly_count"
    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True, ondelete="CASCADE")
    hour: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    shard: int = Field(primary_key=True)
    count: int = 0


class RegionDayCount(SQLModel, table=True):
    """One shard of a campaign's signatures from one region on one UTC day: each region's trend."""

    __tablename__ = "region_day_count"
    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True, ondelete="CASCADE")
    region_code: str = Field(sa_column=Column(String(32), primary_key=True))
    day: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    shard: int = Field(primary_key=True)
    count: int = 0
