"""Set-password links: how an admin resets another person's password without ever knowing it.

An admin asks for a link for someone (*Admin → People*). The link carries a random token
(``secrets.token_urlsafe(32)``); only its SHA-256 is stored, in ``supporter_token`` with the purpose
``set-password`` and the person's email. It works once, for :data:`LINK_HOURS` hours: using it is one
atomic ``UPDATE ... WHERE used_at IS NULL AND expires_at > now``, so two tabs can't both use it. A newer
link replaces any unused older one. When mail is configured the link is emailed to the person
(:func:`reset_password`, the one place that queues it); otherwise it is shown once to the admin, to pass on
privately. Opening the link (``GET /auth/set-password``) only shows a form: the token is used by the
form's POST, so a mail scanner that fetches every link in a message spends nothing. Setting the new
password ends every log-in of that person. Issuing and using a link are both audited.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import getaddresses

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from campaigns.core import outbox
from campaigns.core.audit import Actor, record
from campaigns.core.db import run_write
from campaigns.core.errors import RallyError
from campaigns.core.mail import OutgoingMail, mail_mode
from campaigns.core.models import SupporterToken, User, utcnow
from campaigns.core.settings import Settings, get_settings
from campaigns.core.tokens import claim_once, hash_token
from campaigns.people import passwords
from campaigns.sharing import links

PURPOSE = "set-password"
LINK_HOURS = 24
PATH = "/auth/set-password"
_TOKENS = SupporterToken.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it


class LinkRefused(RallyError):
    """A set-password link that is unknown, used or expired; the message says what to do."""


@dataclass(frozen=True)
class IssuedLink:
    email: str
    url: str
    emailed: bool  # False: show ``url`` to the admin, once


def link_url(token: str) -> str:
    return links.page_url(PATH, token=token)


def issue_link(*, session: Session, user_id: int, actor: Actor, emailed: bool, now: datetime | None = None) -> str:
    """Store a new link for this person (an unused older one stops working); returns the token."""
    now = now or utcnow()
    user = session.get(User, user_id)
    if user is None:
        raise RallyError("There is no such person.")
    if not user.is_active:
        raise RallyError(f"{user.email} is deactivated: reactivate them first, then reset their password.")
    session.execute(
        delete(_TOKENS).where(
            _TOKENS.c.email_canonical == user.email, _TOKENS.c.purpose == PURPOSE, _TOKENS.c.used_at.is_(None)
        )
    )
    token = secrets.token_urlsafe(32)
    session.execute(
        _TOKENS.insert().values(
            token_hash=hash_token(token),
            email_canonical=user.email,
            purpose=PURPOSE,
            created_at=now,
            expires_at=now + timedelta(hours=LINK_HOURS),
            used_at=None,
        )
    )
    record(session=session, actor=actor, action="user.password_link", target=user.email, emailed=emailed)
    return token


def _link_mail(address: str, url: str, settings: Settings) -> OutgoingMail:
    sender = getaddresses([settings.mail_from])
    reply_name, reply_address = sender[0] if sender else ("", "")
    body = (
        "Hello,\n\n"
        f"An admin of {settings.org_name} has reset the password of your Rally staff account ({address}).\n"
        "Open this link to choose a new one:\n\n"
        f"{url}\n\n"
        f"The link works once, within {LINK_HOURS} hours. Choosing a new password logs you out everywhere.\n"
        "If you did not expect this, tell your admins: your current password keeps working until the link is used.\n"
    )
    return OutgoingMail(
        to_address=address,
        to_name="",
        reply_to_address=reply_address,
        reply_to_name=reply_name,
        subject=f"Set your password for {settings.org_name}",
        body=body,
    )


def reset_password(*, engine: Engine, user_id: int, actor: Actor) -> IssuedLink:
    """An admin resets someone's password: a link emailed to them, or returned to show once when mail is off."""
    settings = get_settings()
    if not actor.has("admin"):
        raise RallyError("Only admins can reset someone's password.")
    if actor.user_id == user_id:
        raise RallyError("To change your own password, use Account → Password.")
    # Only a real mail server reaches the person; the development outbox folder would not, so the admin sees it.
    emailed = mail_mode(settings) == "smtp"

    def work(session: Session) -> tuple[str, str]:
        token = issue_link(session=session, user_id=user_id, actor=actor, emailed=emailed)
        email = session.execute(select(col(User.email)).where(col(User.id) == user_id)).scalar_one()
        url = link_url(token)
        if emailed:  # queued with the link itself: both exist, or neither
            outbox.enqueue(session=session, kind="set-password", mail=_link_mail(email, url, settings))
        return email, url

    email, url = run_write(engine, work)
    return IssuedLink(email=email, url=url, emailed=emailed)


def _refusal(session: Session, digest: str) -> LinkRefused:
    row = session.execute(
        select(_TOKENS.c.used_at).where(_TOKENS.c.token_hash == digest, _TOKENS.c.purpose == PURPOSE)
    ).first()
    if row is None:
        return LinkRefused(
            "This link isn't valid: it may have been cut short when copied, or replaced by a newer one. "
            "Ask an admin for a new link."
        )
    if row.used_at is not None:
        return LinkRefused("This link has already been used: each link works once. Ask an admin for a new one.")
    return LinkRefused(f"This link has expired: links work for {LINK_HOURS} hours. Ask an admin for a new one.")


def check_link(*, session: Session, token: str, now: datetime | None = None) -> str:
    """Whether a link would work, without using it (for the GET that shows the form): its email, or LinkRefused."""
    now = now or utcnow()
    digest = hash_token(token or "")
    row = session.execute(
        select(_TOKENS.c.email_canonical).where(
            _TOKENS.c.token_hash == digest,
            _TOKENS.c.purpose == PURPOSE,
            _TOKENS.c.used_at.is_(None),
            _TOKENS.c.expires_at > now,
        )
    ).first()
    if row is None:
        raise _refusal(session, digest)
    return str(row[0])


def use_link(*, engine: Engine, token: str, password: str, now: datetime | None = None) -> str:
    """Set the new password with a link: once, before it expires; every log-in of that person ends.
    Returns their email. InvalidInput for a password that isn't good enough (the link still works),
    LinkRefused for a used, expired or unknown link (nothing changes)."""
    new_hash = passwords.hash_password(password)  # slow: before the transaction, and a refused password spends no link
    digest = hash_token(token or "")

    def work(session: Session) -> str:
        at = now or utcnow()
        claimed = claim_once(session=session, token=token or "", purpose=PURPOSE, now=at)
        if claimed is None:
            raise _refusal(session, digest)
        user = session.execute(select(User).where(col(User.email) == claimed)).scalar_one_or_none()
        if user is None or not user.is_active:
            raise LinkRefused("This account is no longer active, so its password can't be set. Ask an admin.")
        ended = passwords.store_password(session=session, user=user, password_hash=new_hash, now=at)
        record(session=session, actor=Actor(user.id, user.email), action="user.password_reset", sessions_ended=ended)
        return user.email

    return run_write(engine, work)
