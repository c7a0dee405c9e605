"""The campaign family, as in SQLModel's own templates: ``CampaignBase`` holds what organizers write;
``CampaignCreate`` and ``CampaignUpdate`` are what creating and editing take; ``Campaign`` is the table;
``CampaignPublic`` (one campaign's page) and ``CampaignSummary`` (a row of the list) are what the public sees.
The exact wordings signers agree to (``ConsentWording``) belong to the family too.
"""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import ConfigDict
from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Text, false
from sqlmodel import Field, SQLModel

from campaigns.core.models.columns import utc_column, utcnow

DEFAULT_CONSENT_TEXT = (
    "Yes, the organizers of this campaign may email me about it and about related actions. "
    "I can unsubscribe at any time."
)


class CampaignStatus(enum.StrEnum):
    draft = "draft"
    published = "published"
    closed = "closed"
    archived = "archived"  # kept for the record, hidden from every public list


class CampaignOutcome(enum.StrEnum):
    """What came of a campaign, as its organizers record it (``campaigns.outcomes.results``); NULL is ongoing."""

    won = "won"
    partly_won = "partly_won"
    lost = "lost"
    ongoing = "ongoing"


class CampaignBase(SQLModel):
    """What organizers write, checked by ``campaigns.catalog.listing`` on create and on every edit."""

    slug: str = Field(sa_column=Column(String(80), nullable=False, unique=True))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    purpose: str = Field(sa_column=Column(Text, nullable=False))
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    goal: int
    deadline: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    region_scheme: str = Field(sa_column=Column(String(64), nullable=False))
    # "The target is expected to answer at 10,000 signatures" (None: no such expectation), shown with progress.
    response_threshold: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))


class CampaignCreate(CampaignBase):
    consent_text: str = DEFAULT_CONSENT_TEXT
    # Count a signature once its signer confirms their email. None: on when an SMTP server is configured
    # (the development outbox does not turn it on, so a fresh `make run` counts a signature at once).
    require_confirmation: bool | None = None


class CampaignUpdate(CampaignBase):
    """The fields to change; those left unset stay as they are (set ``deadline=None`` to remove a deadline)."""

    slug: str | None = None  # type: ignore[assignment]  # optional here: a field left out stays as it is
    title: str | None = None  # type: ignore[assignment]  # optional here: a field left out stays as it is
    purpose: str | None = None  # type: ignore[assignment]  # optional here: a field left out stays as it is
    body: str | None = None  # type: ignore[assignment]  # optional here: a field left out stays as it is
    goal: int | None = None  # type: ignore[assignment]  # optional here: a field left out stays as it is
    deadline: datetime | None = None
    region_scheme: str | None = None  # type: ignore[assignment]  # optional here: a field left out stays as it is
    response_threshold: int | None = None  # set None to remove it, as a deadline
    consent_text: str | None = None
    require_confirmation: bool | None = None


class Campaign(CampaignBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default=CampaignStatus.draft.value, sa_column=Column(String(16), nullable=False, index=True))
    consent_hash: str = Field(sa_column=Column(String(64), ForeignKey("consent_wording.hash"), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    published_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_by: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    # The letter signers send to their targets: Jinja2 source checked by campaigns.letters.templates (None: no letter).
    letter_subject: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    letter_template: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Count a signature only once its signer followed the link in the confirmation email (double opt-in).
    require_confirmation: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    # What came of it (a CampaignOutcome value other than ongoing; NULL: ongoing), the organizer's note, and when.
    outcome: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    outcome_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    outcome_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # Spike mode: the share link is the light sign page (/s/<slug>), not the full campaign page.
    light_share_link: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))

    def accepts_signatures(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        return self.status == CampaignStatus.published and (self.deadline is None or now < self.deadline)


class CampaignPublic(CampaignBase):
    """Everything the public campaign page shows, as plain values (frozen: safe to cache and share)."""

    model_config = ConfigDict(frozen=True)  # type: ignore[assignment]  # SQLModel types model_config as its own config

    total: int
    status: str  # "published" (open) or "closed"
    consent_text: str
    light_share_link: bool = False  # spike mode: the share link is the light page (sharing/links.share_url)
    # Whether the campaign has a letter for signers to send (False: the thank-you needs no letters query).
    has_letter: bool = True

    @property
    def is_open(self) -> bool:
        return self.status == CampaignStatus.published.value


class CampaignSummary(SQLModel):
    """What the public sees of a campaign in lists and the JSON API (frozen: safe to cache and share)."""

    model_config = ConfigDict(frozen=True)  # type: ignore[assignment]  # SQLModel types model_config as its own config

    slug: str
    title: str
    purpose: str
    goal: int
    total: int
    status: str  # "published" (accepting signatures) or "closed"
    deadline: datetime | None


class ConsentWording(SQLModel, table=True):
    """The exact text a signer agreed to, kept forever under its SHA-256."""

    __tablename__ = "consent_wording"
    hash: str = Field(sa_column=Column(String(64), primary_key=True))
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
