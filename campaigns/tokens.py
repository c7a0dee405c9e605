"""Random link tokens (receipts, confirmations, "your data" links): made here, stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> str:
    """A random, URL-safe token (192 bits)."""
    return secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    """What the database keeps of a token: its SHA-256, hex."""
    return hashlib.sha256((token or "").strip().encode("utf-8", "surrogatepass")).hexdigest()
