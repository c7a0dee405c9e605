"""Signatures, and what a supporter sees of their own.

Signatures are unique per (campaign, canonical email): the database, not the code, guarantees one signature
per person. Their counts live in the aggregate rows of ``campaigns.core.models.counts``.
"""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import ConfigDict
from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, text
from sqlmodel import Field, SQLModel

from campaigns.core.models.columns import utc_column, utcnow


class SignatureStatus(enum.StrEnum):
    counted = "counted"
    pending = "pending"  # awaiting the signer's email confirmation; not in any count
    flagged = "flagged"  # over a rate limit or on a blocklist: held for review, not counted (the signer isn't told)
    invalidated = "invalidated"  # judged not genuine by staff in review; not counted
    withdrawn = "withdrawn"  # the supporter took their signature back; not in any count


class SignatureSource(enum.StrEnum):
    online = "online"  # the public sign form
    paper = "paper"  # a paper or offline signature typed or uploaded by a coordinator
    import_ = "import"  # a bulk import (CLI)


class CommentStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    hidden = "hidden"


SIGNATURE_FILLFACTOR = 90  # percent of each PostgreSQL page filled by inserts: the rest is for in-page updates


class Signature(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("campaign_id", "email_canonical", name="uq_signature_campaign_email"),
        Index("ix_signature_campaign_created", "campaign_id", "created_at"),
        Index("ix_signature_email_canonical", "email_canonical"),  # a supporter's own data, across campaigns
        Index("ix_signature_campaign_address", "campaign_id", "client_address", "created_at"),  # rate limits
        Index(  # signatures still waiting for their signer's confirmation: the upkeep reads these only
            "ix_signature_unconfirmed",
            "confirm_expires_at",
            sqlite_where=text("confirmed_at IS NULL AND confirm_hash IS NOT NULL"),
            postgresql_where=text("confirmed_at IS NULL AND confirm_hash IS NOT NULL"),
        ),
        # The moderation queue: one campaign's comments, oldest first (counted and paged). Not comment_status:
        # with no index on it, and room left on each page (fillfactor), approving or hiding 10,000 comments is a
        # HOT update on PostgreSQL (each row rewritten in its page, none of the table's indexes touched).
        Index(
            "ix_signature_comment_queue",
            "campaign_id",
            "created_at",
            "id",
            sqlite_where=text("comment IS NOT NULL"),
            postgresql_where=text("comment IS NOT NULL"),
        ),
        # The wall's featured comments (at most a few per campaign): a small index, on a column bulk moderation
        # never writes, so approving or hiding stays a HOT update. The wall's newest-first pages use the queue's.
        Index(
            "ix_signature_comment_featured",
            "campaign_id",
            "comment_featured_at",
            sqlite_where=text("comment_featured_at IS NOT NULL"),
            postgresql_where=text("comment_featured_at IS NOT NULL"),
        ),
        # An update's recipients (``updates.recipients_filter``, as each dialect renders it): the fan-out reads a
        # campaign's in keyset batches by id, and the count at its start reads only these.
        Index(
            "ix_signature_update_recipients",
            "campaign_id",
            "id",
            sqlite_where=text("contact_consent IS 1 AND status = 'counted' AND erased_at IS NULL"),
            postgresql_where=text("contact_consent IS true AND status = 'counted' AND erased_at IS NULL"),
        ),
        Index("ix_signature_receipt_hash", "receipt_hash", unique=True),
        Index("ix_signature_confirm_hash", "confirm_hash", unique=True),
        {"postgresql_with": {"fillfactor": SIGNATURE_FILLFACTOR}},
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
    # The signer agreed to show their first name and region with their comment on the campaign's wall.
    comment_credit: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    # An organizer put this (approved) comment at the top of the wall (campaigns.signatures.wall).
    comment_featured_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    contact_consent: bool = False
    consent_hash: str | None = Field(
        default=None, sa_column=Column(String(64), ForeignKey("consent_wording.hash"), nullable=True)
    )
    consent_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    utm_source: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    utm_medium: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    utm_campaign: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    referrer: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    status: str = Field(default=SignatureStatus.counted.value, sa_column=Column(String(16), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    source: str = Field(
        default=SignatureSource.online.value,
        sa_column=Column(String(16), nullable=False, server_default=SignatureSource.online.value),
    )
    withdrawn_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # Personal data removed (on the supporter's request or by retention); the row stays, anonymous, in the counts.
    erased_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # SHA-256 of the receipt token shown to the browser that created this signature ("your data" for it alone).
    receipt_hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    # Where the sign-on came from (campaigns.core.client_address) and the email's domain: flood control and review.
    client_address: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    email_domain: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    flag_reason: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    # Email confirmation: the current link's SHA-256 (single use), when it was sent and expires, how many
    # times it was sent (rate limit), the one reminder, and when the signer confirmed.
    confirm_hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    confirm_sent_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    confirm_expires_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    confirm_sends: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    reminded_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    confirmed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class SignatureView(SQLModel):
    """What a supporter sees of one of their own signatures on "your data" (frozen: plain values)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)  # type: ignore[assignment]  # SQLModel types model_config as its own config

    signature_id: int = Field(validation_alias="id")
    campaign_slug: str
    campaign_title: str
    campaign_open: bool
    full_name: str
    email: str
    region_name: str
    postal_code: str | None
    comment: str | None
    comment_status: str | None
    comment_credit: bool = False  # shown on the wall with the first name and region
    status: str  # counted | withdrawn | pending
    source: str
    signed_at: datetime = Field(validation_alias="created_at")
    withdrawn_at: datetime | None
    contact_consent: bool
    consent_at: datetime | None
    consent_text: str  # the wording agreed to; when not consenting, the campaign's current wording
