"""One-click unsubscribe (RFC 8058): a signed link in every update, working without a log-in.

The token names one signature of one campaign, signed with an HMAC (SHA-256) under a key derived from the app's
secret; it does not expire (an unsubscribe link must work as long as the mail is kept). A token that is
malformed, or whose signature does not match (tampered, forged), is refused and nothing changes. Following the
link (GET) only shows a button: mail scanners open links. The button, or a mail client's one-click ``POST`` with
``List-Unsubscribe=One-Click``, turns that signature's contact consent off through the same rule as "my data"
(``people.supporter_data.set_consent``: consent cleared, audited with its time); doing it again changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from sqlalchemy import select
from sqlmodel import Session

from campaigns.core.errors import RallyError
from campaigns.core.models import Campaign, Signature, utcnow
from campaigns.people import supporter_data
from campaigns.people.logins import secret_key
from campaigns.sharing import links

PATH = "unsubscribe"
ONE_CLICK = "List-Unsubscribe=One-Click"  # the body of an RFC 8058 one-click POST
_PURPOSE = b"rally unsubscribe link v1"
_MAX_TOKEN = 200

_S = Signature.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_C = Campaign.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it


class UnsubscribeLinkInvalid(RallyError):
    def __init__(self) -> None:
        super().__init__(
            "This unsubscribe link is not valid: it may have been cut short or changed. Open the link from the "
            "email again (the whole address), or use “Your data” on the campaign's site to change what you receive."
        )


@dataclass(frozen=True)
class Unsubscribe:
    """What a valid link names: one signature of one campaign."""

    signature_id: int
    campaign_id: int


def _key() -> bytes:
    return _derived(secret_key())


@lru_cache(maxsize=4)
def _derived(secret: bytes) -> bytes:
    return hmac.new(secret, _PURPOSE, hashlib.sha256).digest()


def _mac(payload: str, key: bytes | None = None) -> str:
    digest = hmac.new(key or _key(), payload.encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_token(*, signature_id: int, campaign_id: int, key: bytes | None = None) -> str:
    """``<signature>.<campaign>.<mac>``: short, so the link fits the ``List-Unsubscribe`` header on one line."""
    payload = f"{int(signature_id)}.{int(campaign_id)}"
    return f"{payload}.{_mac(payload, key)}"


@dataclass(frozen=True)
class LinkMaker:
    """Unsubscribe links for many recipients (an update's fan-out): the key and the address found once."""

    base: str
    key: bytes = field(repr=False)

    def url(self, *, signature_id: int, campaign_id: int) -> str:
        token = make_token(signature_id=signature_id, campaign_id=campaign_id, key=self.key)
        return f"{self.base.rstrip('/')}/{PATH}?t={token}"  # the token is URL-safe as it is


def link_maker(base: str | None = None) -> LinkMaker:
    return LinkMaker(base=base or links.public_base(), key=_key())


def unsubscribe_url(*, signature_id: int, campaign_id: int, base: str | None = None) -> str:
    return link_maker(base).url(signature_id=signature_id, campaign_id=campaign_id)


def read_token(token: str | None) -> Unsubscribe:
    """The signature a link names, if its MAC is right (compared in constant time); else UnsubscribeLinkInvalid."""
    if not token or len(token) > _MAX_TOKEN or token.count(".") != 2:
        raise UnsubscribeLinkInvalid()
    signature, campaign, mac = token.split(".")
    if not (signature.isdigit() and campaign.isdigit() and signature.isascii() and campaign.isascii()):
        raise UnsubscribeLinkInvalid()
    if not hmac.compare_digest(mac.encode(), _mac(f"{signature}.{campaign}").encode()):
        raise UnsubscribeLinkInvalid()
    return Unsubscribe(signature_id=int(signature), campaign_id=int(campaign))


@dataclass(frozen=True)
class UnsubscribeTarget:
    """What the unsubscribe page may say: the campaign's title only (never the signer's name or address)."""

    campaign_title: str
    subscribed: bool  # whether the link's signature still agrees to be contacted


def _find(session: Session, grant: Unsubscribe, *, lock: bool) -> tuple[str, str | None, bool] | None:
    stmt = (
        select(_C.c.title, _S.c.email_canonical, _S.c.contact_consent)
        .join(_C, _C.c.id == _S.c.campaign_id)
        .where(_S.c.id == grant.signature_id, _S.c.campaign_id == grant.campaign_id, _S.c.erased_at.is_(None))
    )
    if lock:
        stmt = stmt.with_for_update(of=_S)
    row = session.execute(stmt).first()
    return (str(row[0]), row[1], bool(row[2])) if row else None


def look_up(*, session: Session, token: str | None) -> UnsubscribeTarget:
    """What a GET of the link shows (nothing changes). A signature erased or deleted since: nothing to stop."""
    grant = read_token(token)
    found = _find(session, grant, lock=False)
    return UnsubscribeTarget(campaign_title=found[0], subscribed=found[2]) if found else UnsubscribeTarget("", False)


def unsubscribe(*, session: Session, token: str | None, now: datetime | None = None) -> UnsubscribeTarget:
    """Turn the link's contact consent off, as "my data" does (recorded with its time); idempotent."""
    grant = read_token(token)
    found = _find(session, grant, lock=True)
    if found is None:
        return UnsubscribeTarget("", False)
    title, canonical, subscribed = found
    if subscribed and canonical:
        supporter_data.set_consent(
            session=session,
            email_canonical=canonical,
            signature_id=grant.signature_id,
            consent=False,
            now=now or utcnow(),
        )
    return UnsubscribeTarget(campaign_title=title, subscribed=False)
