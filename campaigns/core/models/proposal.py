"""Campaigns members propose: the proposal, its co-sponsors (one per mailbox) and the thread with organizers.

A proposal's text is plain text everywhere (never markdown). Only tokens' SHA-256 are kept: the proposer's own
link (``manage_hash``) and each co-sponsor's confirmation link (``confirm_hash``); ``public_id`` is the share
link's random part, public by design (it names the proposal, not a person).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from campaigns.core.models.columns import utc_column, utcnow


class ProposalStatus(enum.StrEnum):
    unconfirmed = "unconfirmed"  # the proposer has not opened their emailed link yet
    gathering = "gathering"  # collecting co-sponsors
    in_review = "in_review"  # in the organizers' queue
    changes_requested = "changes_requested"  # the proposer edits through their link
    published = "published"  # an ordinary campaign now (campaign_id)
    declined = "declined"
    expired = "expired"  # never reached its co-sponsors in time


class Proposal(SQLModel, table=True):
    __tablename__ = "proposal"
    __table_args__ = (
        Index("ix_proposal_status", "status", "updated_at"),
        Index("ix_proposal_proposer", "proposer_canonical", "created_at"),  # the per-mailbox limit, erasure
        Index("ix_proposal_address", "client_address", "created_at"),  # the per-address limit
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    manage_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    purpose: str = Field(sa_column=Column(Text, nullable=False))
    ask: str = Field(sa_column=Column(Text, nullable=False))
    target: str = Field(sa_column=Column(String(300), nullable=False))  # of whom: the decision-maker(s)
    region_scheme: str = Field(sa_column=Column(String(64), nullable=False))
    proposer_name: str = Field(sa_column=Column(String(200), nullable=False))
    proposer_email: str = Field(sa_column=Column(String(320), nullable=False))
    proposer_canonical: str = Field(sa_column=Column(String(320), nullable=False))
    proposer_credit: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    status: str = Field(default=ProposalStatus.unconfirmed.value, sa_column=Column(String(24), nullable=False))
    sponsors_needed: int = Field(sa_column=Column(Integer, nullable=False))
    decline_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    decline_public: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    campaign_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("campaign.id", ondelete="SET NULL"), nullable=True, index=True),
    )  # indexed: every campaign page looks up its credits by it
    # Where it was proposed from (``core.client_address``), for the per-address limit; None when unknown or erased.
    client_address: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    confirmed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    expires_at: datetime = Field(sa_column=utc_column())
    decided_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class ProposalSponsor(SQLModel, table=True):
    """One co-sponsor: one per mailbox and proposal (the canonical email, so case, Gmail dots and +tags are one)."""

    __tablename__ = "proposal_sponsor"
    __table_args__ = (
        UniqueConstraint("proposal_id", "email_canonical", name="uq_proposal_sponsor_mailbox"),
        Index("ix_proposal_sponsor_offers", "proposal_id", "created_at"),  # the offers a proposal took this hour
        Index("ix_proposal_sponsor_email_canonical", "email_canonical"),  # erasure, what Rally holds about a mailbox
        Index("ix_proposal_sponsor_address", "client_address", "created_at"),  # the per-address limit
    )

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(sa_column=Column(Integer, ForeignKey("proposal.id", ondelete="CASCADE"), nullable=False))
    full_name: str = Field(sa_column=Column(String(200), nullable=False))
    email: str = Field(sa_column=Column(String(320), nullable=False))
    email_canonical: str = Field(sa_column=Column(String(320), nullable=False))
    credit: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    confirm_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    confirm_sent_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    confirm_expires_at: datetime = Field(sa_column=utc_column())
    confirm_sends: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    confirmed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # Where the offer came from (``core.client_address``), for the per-address limit; None when unknown or erased.
    client_address: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class ProposalMessage(SQLModel, table=True):
    """The thread between organizers and the proposer (plain text): requests for changes, replies, decisions."""

    __tablename__ = "proposal_message"

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(
        sa_column=Column(Integer, ForeignKey("proposal.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    author: str = Field(sa_column=Column(String(200), nullable=False))  # an organizer's email, or "proposer"
    from_organizer: bool = Field(sa_column=Column(Boolean, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
