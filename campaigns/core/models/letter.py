"""Letters: a signer's words to one target, as stored and delivered."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict
from sqlalchemy import Column, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from campaigns.core.models.columns import utc_column, utcnow
from campaigns.core.models.outreach import DeliveryView


class Letter(SQLModel, table=True):
    """A signer's letter to one target, in their own words: what is stored is what is delivered."""

    __table_args__ = (UniqueConstraint("signature_id", "target_id", name="uq_letter_signature_target"),)
    id: int | None = Field(default=None, primary_key=True)
    signature_id: int = Field(foreign_key="signature.id", ondelete="CASCADE")
    target_id: int | None = Field(default=None, foreign_key="target.id", ondelete="SET NULL")
    subject: str = Field(sa_column=Column(String(300), nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    edited: bool = False  # the signer changed the text we suggested
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class LetterView(SQLModel):
    """A letter sent in a supporter's name, as "your data" shows it (frozen: plain values)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)  # type: ignore[assignment]  # SQLModel types model_config as its own config

    letter_id: int = Field(validation_alias="id")
    signature_id: int
    campaign_title: str
    target_name: str
    target_title: str
    subject: str
    body: str
    created_at: datetime
    deliveries: tuple[DeliveryView, ...]
