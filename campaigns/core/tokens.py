"""Random link tokens (receipts, confirmations, "your data" links): made here, stored only as their SHA-256."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session

from campaigns.core.models import SupporterToken


def new_token() -> str:
    """A random, URL-safe token (192 bits)."""
    return secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    """What the database keeps of a token: its SHA-256, hex."""
    return hashlib.sha256((token or "").strip().encode("utf-8", "surrogatepass")).hexdigest()


_TOKENS = SupporterToken.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it


def claim_once(*, session: Session, token: str, purpose: str, now: datetime) -> str | None:
    """Use a one-time link (a ``supporter_token`` row) once: the address it was made for, or None when it is
    unknown, used or expired. One atomic UPDATE, so two tabs opening it at once can never both get in."""
    claimed = session.execute(
        update(_TOKENS)
        .where(
            _TOKENS.c.token_hash == hash_token(token),
            _TOKENS.c.purpose == purpose,
            _TOKENS.c.used_at.is_(None),
            _TOKENS.c.expires_at > now,
        )
        .values(used_at=now)
        .returning(_TOKENS.c.email_canonical)
    ).first()
    return str(claimed[0]) if claimed is not None else None


def keyed_mac(value: str, *, key: bytes, purpose: bytes) -> str:
    """An HMAC-SHA256 of ``value`` under ``key`` for one ``purpose`` (URL-safe, 43 characters): a value a
    page hands out and checks when it comes back (the light sign page's form token)."""
    digest = hmac.new(key, purpose + b"\x00" + value.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def mac_matches(value: str, mac: str, *, key: bytes, purpose: bytes) -> bool:
    """Whether ``mac`` is :func:`keyed_mac` of ``value`` (compared in constant time)."""
    return hmac.compare_digest(keyed_mac(value, key=key, purpose=purpose).encode(), (mac or "").encode())
