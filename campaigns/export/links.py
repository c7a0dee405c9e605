"""Signed, short-lived download links for signer exports (the defence against cross-site requests).

The Export page makes a link for the coordinator looking at it: the filter, the format and an
expiry, signed with an HMAC (SHA-256) under a key derived from the app's secret. The download
route serves it only to a request that carries both a valid link *and* the staff session cookie
of that same person, who must still hold the coordinator role. Another site can make a browser
send the cookie, but cannot make a link: it has neither the key nor a way to read one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from campaigns.core.errors import RallyError
from campaigns.core.models import utcnow
from campaigns.core.settings import get_settings
from campaigns.export.filters import ExportFilter
from campaigns.export.formats import FORMATS
from campaigns.people.logins import secret_key

DOWNLOAD_PATH = "/export/download"
_PURPOSE = b"rally export link v1"
MAX_TOKEN = 16_000


class LinkInvalid(RallyError):
    def __init__(self) -> None:
        super().__init__("This download link is not valid. Make a new one on the Export page.")


class LinkExpired(RallyError):
    def __init__(self) -> None:
        super().__init__("This download link has expired. Make a new one on the Export page.")


@dataclass(frozen=True)
class ExportGrant:
    user_id: int
    filter: ExportFilter
    fmt: str
    bom: bool
    expires_at: datetime


def _key() -> bytes:
    return hmac.new(secret_key(), _PURPOSE, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(
    *, user_id: int, export_filter: ExportFilter, fmt: str, bom: bool = False, now: datetime | None = None
) -> str:
    """``payload.mac``: the payload is the grant as URL-safe base64 JSON."""
    expires = (now or utcnow()) + timedelta(minutes=get_settings().export_link_minutes)
    grant: dict[str, Any] = {
        "u": user_id,
        "f": export_filter.as_dict(),
        "x": fmt,
        "b": bool(bom),
        "e": int(expires.timestamp()),
    }
    payload = _b64(json.dumps(grant, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_b64(hmac.new(_key(), payload.encode(), hashlib.sha256).digest())}"


def download_url(token: str) -> str:
    return f"{DOWNLOAD_PATH}?t={token}"


def read_token(token: str | None, *, now: datetime | None = None) -> ExportGrant:
    """The grant inside a link whose signature is right and whose time has not run out."""
    if not token or len(token) > MAX_TOKEN or token.count(".") != 1:
        raise LinkInvalid()
    payload, mac = token.split(".")
    expected = _b64(hmac.new(_key(), payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac, expected):
        raise LinkInvalid()
    try:
        grant = json.loads(_unb64(payload))
        result = ExportGrant(
            user_id=int(grant["u"]),
            filter=ExportFilter.from_dict(grant["f"]),
            fmt=str(grant["x"]),
            bom=bool(grant["b"]),
            expires_at=datetime.fromtimestamp(int(grant["e"]), UTC),
        )
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise LinkInvalid() from None
    if result.fmt not in FORMATS:
        raise LinkInvalid()
    if (now or utcnow()) >= result.expires_at:
        raise LinkExpired()
    return result
