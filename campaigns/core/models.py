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

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
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


def _ts(nullable: bool = False, index: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class CampaignStatus(enum.StrEnum):
    draft = "draft"
    published = "published"
    closed = "closed"
    archived = "archived"  # kept for the record, hidden from every public list


class Role(enum.StrEnum):
    admin = "admin"  # manages people
    organizer = "organizer"  # creates and runs campaigns
    coordinator = "coordinator"  # sees dashboards, exports signer lists


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
    created_by: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    # The letter signers send to their targets: Jinja2 source checked by campaigns.letters.templates (None: no letter).
    letter_subject: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    letter_template: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Count a signature only once its signer followed the link in the confirmation email (double opt-in).
    require_confirmation: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))

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
        Index("ix_signature_email_canonical", "email_canonical"),  # a supporter's own data, across campaigns
        Index("ix_signature_campaign_address", "campaign_id", "client_address", "created_at"),  # rate limits
        Index(  # signatures still waiting for their signer's confirmation: the upkeep reads these only
            "ix_signature_unconfirmed",
            "confirm_expires_at",
            sqlite_where=text("confirmed_at IS NULL AND confirm_hash IS NOT NULL"),
            postgresql_where=text("confirmed_at IS NULL AND confirm_hash IS NOT NULL"),
        ),
        Index("ix_signature_receipt_hash", "receipt_hash", unique=True),
        Index("ix_signature_confirm_hash", "confirm_hash", unique=True),
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
    source: str = Field(
        default=SignatureSource.online.value,
        sa_column=Column(String(16), nullable=False, server_default=SignatureSource.online.value),
    )
    withdrawn_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # Personal data removed (on the supporter's request or by retention); the row stays, anonymous, in the counts.
    erased_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # SHA-256 of the receipt token shown to the browser that created this signature ("your data" for it alone).
    receipt_hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    # Where the sign-on came from (campaigns.core.client_address) and the email's domain: flood control and review.
    client_address: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    email_domain: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    flag_reason: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    # Email confirmation: the current link's SHA-256 (single use), when it was sent and expires, how many
    # times it was sent (rate limit), the one reminder, and when the signer confirmed.
    confirm_hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    confirm_sent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    confirm_expires_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    confirm_sends: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    reminded_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    confirmed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class RegionCount(SQLModel, table=True):
    """One shard of the signature count of one region of one campaign."""

    __tablename__ = "region_count"
    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True, ondelete="CASCADE")
    region_code: str = Field(sa_column=Column(String(32), primary_key=True))
    shard: int = Field(primary_key=True)
    count: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


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


class SupporterToken(SQLModel, table=True):
    """A one-time, time-limited link emailed to a supporter: the row keeps only the token's SHA-256."""

    __tablename__ = "supporter_token"
    __table_args__ = (
        Index("ix_supporter_token_email", "email_canonical"),
        Index("ix_supporter_token_expires", "expires_at"),
    )
    token_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    email_canonical: str = Field(sa_column=Column(String(320), nullable=False))
    purpose: str = Field(sa_column=Column(String(32), nullable=False))  # e.g. "my-data"
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts())
    used_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class User(SQLModel, table=True):
    """A person who logs in: an admin, organizer or coordinator. Supporters have no accounts."""

    __tablename__ = "app_user"
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_column=Column(String(320), nullable=False, unique=True))  # canonical, lower-case
    display_name: str = Field(default="", sa_column=Column(String(200), nullable=False))
    password_hash: str = Field(sa_column=Column(String(200), nullable=False))
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    deactivated_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class UserRole(SQLModel, table=True):
    __tablename__ = "user_role"
    user_id: int = Field(foreign_key="app_user.id", primary_key=True, ondelete="CASCADE")
    role: str = Field(sa_column=Column(String(16), primary_key=True))


class AuthSession(SQLModel, table=True):
    """A log-in, kept server-side: the cookie carries a random token, this row its SHA-256."""

    __tablename__ = "auth_session"
    token_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts(index=True))
    last_seen_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    client_address: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    user_agent: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))


class LoginAttempt(SQLModel, table=True):
    """Failed and successful log-ins, for rate limiting per account and per client address."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_email_at", "email", "created_at"),
        Index("ix_login_attempt_address_at", "client_address", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_column=Column(String(320), nullable=False))
    client_address: str = Field(sa_column=Column(String(64), nullable=False))
    succeeded: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class AuditEntry(SQLModel, table=True):
    """Who did what, when, on which campaign: every staff action on campaigns or personal data."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True))
    user_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    actor: str = Field(sa_column=Column(String(320), nullable=False))  # email at the time, or "cli"
    action: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True, ondelete="SET NULL")
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))  # JSON


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
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class CustomRegionScheme(SQLModel, table=True):
    """A region scheme uploaded by an organizer (codes, names, optional population and shapes)."""

    __tablename__ = "custom_region_scheme"
    id: str = Field(sa_column=Column(String(64), primary_key=True))  # "custom-<slug>"
    name: str = Field(sa_column=Column(String(200), nullable=False))
    region_label: str = Field(default="Region", sa_column=Column(String(40), nullable=False))
    shape_kind: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))  # geojson|topojson
    shape_object: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    shapes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # the uploaded JSON, as text
    created_by: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class CustomRegion(SQLModel, table=True):
    __tablename__ = "custom_region"
    scheme_id: str = Field(
        sa_column=Column(String(64), ForeignKey("custom_region_scheme.id", ondelete="CASCADE"), primary_key=True)
    )
    code: str = Field(sa_column=Column(String(32), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    population: int | None = None


class Letter(SQLModel, table=True):
    """A signer's letter to one target, in their own words: what is stored is what is delivered."""

    __table_args__ = (UniqueConstraint("signature_id", "target_id", name="uq_letter_signature_target"),)
    id: int | None = Field(default=None, primary_key=True)
    signature_id: int = Field(foreign_key="signature.id", ondelete="CASCADE")
    target_id: int | None = Field(default=None, foreign_key="target.id", ondelete="SET NULL")
    subject: str = Field(sa_column=Column(String(300), nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    edited: bool = False  # the signer changed the text we suggested
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


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
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    sent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


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
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
        Index("ix_outbox_signature", "signature_id"),
        Index("ix_outbox_recipient", "recipient_canonical"),
        Index("ix_outbox_campaign_status", "campaign_id", "status"),
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
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    lease_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    claimed_by: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    sent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class SignRuleKind(enum.StrEnum):
    email = "email"  # a glob over the whole address or its domain: "*@mailinator.com", "spam*@example.org"
    address = "address"  # a client address range in CIDR notation: "203.0.113.0/24"


class SignRuleAction(enum.StrEnum):
    block = "block"  # signatures matching are flagged (held, not counted; the signer is not told)
    allow = "allow"  # known shared addresses (an office, a university NAT): no per-address rate limit


class SignRule(SQLModel, table=True):
    """A blocklist or allowlist entry, edited by organizers and admins."""

    __tablename__ = "sign_rule"
    __table_args__ = (UniqueConstraint("kind", "action", "pattern", name="uq_sign_rule"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    action: str = Field(sa_column=Column(String(16), nullable=False))
    pattern: str = Field(sa_column=Column(String(200), nullable=False))
    note: str = Field(default="", sa_column=Column(String(200), nullable=False))
    created_by: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
