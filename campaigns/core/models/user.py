"""Staff accounts and what logging in keeps: ``User`` (with ``UserBase`` and ``UserPublic``, what staff pages
show of an account), roles, log-in sessions and log-in attempts."""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import ConfigDict
from sqlalchemy import Column, Index, String
from sqlmodel import Field, SQLModel

from campaigns.core.models.columns import utc_column, utcnow


class Role(enum.StrEnum):
    admin = "admin"  # manages people
    organizer = "organizer"  # creates and runs campaigns
    coordinator = "coordinator"  # sees dashboards, exports signer lists


class UserBase(SQLModel):
    email: str = Field(sa_column=Column(String(320), nullable=False, unique=True))  # canonical, lower-case
    display_name: str = Field(default="", sa_column=Column(String(200), nullable=False))


class User(UserBase, table=True):
    """A person who logs in: an admin, organizer or coordinator. Supporters have no accounts."""

    __tablename__ = "app_user"
    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(sa_column=Column(String(200), nullable=False))
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    deactivated_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class UserPublic(UserBase):
    """An account as admins and the command line see it: never its password hash (frozen: plain values)."""

    model_config = ConfigDict(frozen=True)  # type: ignore[assignment]  # SQLModel types model_config as its own config

    id: int
    roles: tuple[str, ...]
    is_active: bool
    created_at: datetime


class UserRole(SQLModel, table=True):
    __tablename__ = "user_role"
    user_id: int = Field(foreign_key="app_user.id", primary_key=True, ondelete="CASCADE")
    role: str = Field(sa_column=Column(String(16), primary_key=True))


class AuthSession(SQLModel, table=True):
    """A log-in, kept server-side: the cookie carries a random token, this row its SHA-256."""

    __tablename__ = "auth_session"
    token_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    expires_at: datetime = Field(sa_column=utc_column(index=True))
    last_seen_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
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
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
