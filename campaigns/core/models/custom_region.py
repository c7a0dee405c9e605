"""Region schemes uploaded by organizers, and their regions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Text
from sqlmodel import Field, SQLModel

from campaigns.core.models.columns import utc_column, utcnow


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
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class CustomRegion(SQLModel, table=True):
    __tablename__ = "custom_region"
    scheme_id: str = Field(
        sa_column=Column(String(64), ForeignKey("custom_region_scheme.id", ondelete="CASCADE"), primary_key=True)
    )
    code: str = Field(sa_column=Column(String(32), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    population: int | None = None
