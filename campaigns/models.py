"""Tables and their schemas.

Signatures are unique per (campaign, canonical email): the database, not the code,
guarantees one signature per person. Public counts come from ``RegionCount`` rows:
each signature adds 1 to one of ``count_shards`` rows of its (campaign, region), in
the same transaction, so counts are exact and concurrent signers rarely wait on the
same row. Readers sum a few hundred rows at most, whatever the number of signatures.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, ForeignKey, Index, String, Text, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store timezone-aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if getattr(dialect, "name", "") == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(nullable: bool = False, index: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(UTCDateTime(), nullable=nullable, index=index)


class CampaignStatus(enum.StrEnum):
    draft = "draft"
    published = "published"
    closed = "closed"


class SignatureStatus(enum.StrEnum):
    counted = "counted"
    pending = "pending"  # awaiting a confirmation (later issue); not in any count


class CommentStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    hidden = "hidden"


class Campaign(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(sa_column=Column(String(80), nullable=False, unique=True))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    purpose: str = Field(sa_column=Column(Text, nullable=False))
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    goal: int
    deadline: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    status: str = Field(default=CampaignStatus.draft.value, sa_column=Column(String(16), nullable=False, index=True))
    region_scheme: str = Field(sa_column=Column(String(64), nullable=False))
    consent_hash: str = Field(sa_column=Column(String(64), ForeignKey("consent_wording.hash"), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    published_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))

    def accepts_signatures(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        return self.status == CampaignStatus.published and (self.deadline is None or now < self.deadline)


class ConsentWording(SQLModel, table=True):
    """The exact text a signer agreed to, kept forever under its SHA-256."""

    __tablename__ = "consent_wording"
    hash: str = Field(sa_column=Column(String(64), primary_key=True))
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Signature(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("campaign_id", "email_canonical", name="uq_signature_campaign_email"),
        Index("ix_signature_campaign_created", "campaign_id", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE")
    full_name: str = Field(sa_column=Column(String(200), nullable=False))
    email: str = Field(sa_column=Column(String(320), nullable=False))
    email_canonical: str = Field(sa_column=Column(String(320), nullable=False))
    region_code: str = Field(sa_column=Column(String(32), nullable=False))
    postal_code: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    comment_status: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    contact_consent: bool = False
    consent_hash: str | None = Field(
        default=None, sa_column=Column(String(64), ForeignKey("consent_wording.hash"), nullable=True)
    )
    consent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    utm_source: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    utm_medium: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    utm_campaign: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    referrer: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    status: str = Field(default=SignatureStatus.counted.value, sa_column=Column(String(16), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class RegionCount(SQLModel, table=True):
    """One shard of the signature count of one region of one campaign."""

    __tablename__ = "region_count"
    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True, ondelete="CASCADE")
    region_code: str = Field(sa_column=Column(String(32), primary_key=True))
    shard: int = Field(primary_key=True)
    count: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
