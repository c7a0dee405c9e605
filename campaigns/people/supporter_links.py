"""How a supporter proves an address: an emailed one-time "My data" link, or the receipt of one signature.

A supporter types an email address; Rally mails a link to it. The answer on the page is the same whether or
not the address ever signed anything (no enumeration), and each address gets at most :data:`LINKS_PER_HOUR`
links an hour (counted from ``supporter_token`` rows). The token is random (``secrets.token_urlsafe(32)``),
kept only as its SHA-256, works for ``RALLY_MY_DATA_LINK_MINUTES`` and once: :func:`claim_link` is one atomic
``UPDATE ... WHERE used_at IS NULL AND expires_at > now``, so two tabs opening the same link cannot both get in.
A receipt (:func:`open_receipt`) proves one signature only, as long as it holds personal data.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import getaddresses

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from campaigns.core import outbox
from campaigns.core.db import run_write
from campaigns.core.errors import RallyError
from campaigns.core.locks import advisory_lock
from campaigns.core.mail import MailError, OutgoingMail, mail_mode
from campaigns.core.models import Signature, SupporterToken, utcnow
from campaigns.core.settings import Settings, get_settings
from campaigns.core.tokens import claim_once, hash_token
from campaigns.core.validation import clean_email
from campaigns.sharing import links

PURPOSE = "my-data"
LINKS_PER_HOUR = 3
SESSION_MINUTES = 30  # how long the page trusts a verified address after its link was opened
PAGE_PATH = "my-data"

_TOKENS = SupporterToken.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_SIGNATURES = Signature.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it


class LinkRefused(RallyError):
    """A "My data" link that is unknown, used or expired; the message says how to get a new one."""


class TooManyLinks(RallyError):
    """This address was sent its hourly allowance of links already."""


# --- the link -----------------------------------------------------------------------------------


def _lock_address(session: Session, canonical: str) -> None:
    """One link request per address at a time, so the hourly limit holds under a double click."""
    advisory_lock(session, canonical)


def issue_link(*, session: Session, email: str, now: datetime | None = None, settings: Settings | None = None) -> str:
    """Store a new link's hash for this address and return the token (to be emailed, never stored)."""
    settings = settings or get_settings()
    now = now or utcnow()
    _, canonical = clean_email(email)
    _lock_address(session, canonical)
    recent = session.execute(
        select(func.count())
        .select_from(_TOKENS)
        .where(
            _TOKENS.c.email_canonical == canonical,
            _TOKENS.c.purpose == PURPOSE,
            _TOKENS.c.created_at > now - timedelta(hours=1),
        )
    ).scalar_one()
    if recent >= LINKS_PER_HOUR:
        raise TooManyLinks(
            f"We have already sent {LINKS_PER_HOUR} links to this address in the last hour. "
            "Please use the newest one, or ask again in an hour.",
            field="email",
        )
    token = secrets.token_urlsafe(32)
    session.execute(
        _TOKENS.insert().values(
            token_hash=hash_token(token),
            email_canonical=canonical,
            purpose=PURPOSE,
            created_at=now,
            expires_at=now + timedelta(minutes=settings.my_data_link_minutes),
            used_at=None,
        )
    )
    return token


def receipt_url(token: str) -> str:
    """The receipt link shown to the browser that created a signature: "your data" for that signature alone."""
    return links.page_url(PAGE_PATH, receipt=token)


def link_url(token: str) -> str:
    return links.page_url(PAGE_PATH, token=token)


def _link_mail(address: str, token: str, settings: Settings) -> OutgoingMail:
    sender = getaddresses([settings.mail_from])
    reply_name, reply_address = sender[0] if sender else ("", "")
    minutes = settings.my_data_link_minutes
    body = (
        "Hello,\n\n"
        f"Someone (we hope you) asked to see what {settings.org_name} holds about this email address.\n"
        "Open this link to see the campaigns you signed and your letters (and what happened to each),\n"
        "withdraw a signature, choose whether we may contact you, download your data, or erase it:\n\n"
        f"{link_url(token)}\n\n"
        f"The link works once, within {minutes} minutes. If you did not ask for it, ignore this email:\n"
        "nothing changes.\n"
    )
    return OutgoingMail(
        to_address=address,
        to_name="",
        reply_to_address=reply_address,
        reply_to_name=reply_name,
        subject=f"Your link to your data at {settings.org_name}",
        body=body,
    )


def send_link(*, engine: Engine, email: str, now: datetime | None = None) -> None:
    """Email a one-time link to ``email``. The same for every valid address, whether it signed anything or not.

    The link's row and its email are written in one transaction: the outbox sends it once, shortly.
    """
    settings = get_settings()
    if mail_mode(settings) is None:
        raise MailError(
            "This Rally cannot send email yet, so links to your data can't be sent. "
            "Please write to the organizers instead."
        )
    address, canonical = clean_email(email)

    def work(session: Session) -> None:
        token = issue_link(session=session, email=address, now=now, settings=settings)
        outbox.enqueue(
            session=session,
            kind="my-data-link",
            mail=_link_mail(address, token, settings),
            recipient_canonical=canonical,
            now=now,
            settings=settings,
        )

    run_write(engine, work)


def claim_link(*, session: Session, token: str, now: datetime | None = None) -> str:
    """Use a link once: returns the canonical email it was sent to, or raises ``LinkRefused`` saying why."""
    now = now or utcnow()
    digest = hash_token(token or "")
    claimed = claim_once(session=session, token=token or "", purpose=PURPOSE, now=now)
    if claimed is not None:
        return claimed
    row = session.execute(select(_TOKENS.c.used_at).where(_TOKENS.c.token_hash == digest)).first()
    if row is None:
        raise LinkRefused(
            "This link isn't valid any more: links work once and for a limited time (and a link may have "
            "been cut short when copied). Ask for a new one below."
        )
    if row.used_at is not None:
        raise LinkRefused("This link has already been used: each link works once. Ask for a new one below.")
    raise LinkRefused(
        f"This link has expired: links work for {get_settings().my_data_link_minutes} minutes. Ask for a new one below."
    )


@dataclass(frozen=True)
class ReceiptOwner:
    """What a receipt proves: this one signature (and its address, to find it), nothing else of the mailbox."""

    email_canonical: str
    signature_id: int


def open_receipt(*, session: Session, token: str) -> ReceiptOwner:
    """The signature a receipt link belongs to; ``LinkRefused`` for an unknown one (or one whose signature was
    erased). A receipt is a bookmark: it works as long as its signature exists with its personal data."""
    row = session.execute(
        select(_SIGNATURES.c.id, _SIGNATURES.c.email_canonical).where(
            _SIGNATURES.c.receipt_hash == hash_token(token or ""), _SIGNATURES.c.erased_at.is_(None)
        )
    ).first()
    if row is None:
        raise LinkRefused(
            "This receipt link doesn't work: the signature it belonged to was erased, or the link was cut short "
            "when copied. To see what Rally holds under your email, ask for a link below."
        )
    return ReceiptOwner(email_canonical=str(row.email_canonical), signature_id=int(row.id))
