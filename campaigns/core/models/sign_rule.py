"""Block and allow lists for signing, edited by organizers and admins."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from campaigns.core.models.columns import utc_column, utcnow


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
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
