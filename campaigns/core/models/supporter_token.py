"""One-time links emailed to a person ("My data" links, set-password links): only the token's hash is kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, String
from sqlmodel import Field, SQLModel

from campaigns.core.models.columns import utc_column, utcnow


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
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    expires_at: datetime = Field(sa_column=utc_column())
    used_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
