"""Supporters' control of their own data: an emailed one-time link, then see, withdraw, consent, download, erase.

**The link.** A supporter types an email address; Rally mails a link to it. The answer on the page is the
same whether or not the address ever signed anything (no enumeration), and each address gets at most
:data:`LINKS_PER_HOUR` links an hour (counted from ``supporter_token`` rows). The token is random
(``secrets.token_urlsafe(32)``), kept only as its SHA-256, works for ``RALLY_MY_DATA_LINK_MINUTES`` and
once: :func:`claim_link` is one atomic ``UPDATE ... WHERE used_at IS NULL AND expires_at > now``, so two
tabs opening the same link cannot both get in.

**What a supporter can do** with the verified address (the canonical form, as signatures store it):
see every signature and every letter sent in their name (:func:`my_data`), withdraw a signature (the
region and hourly counts go down in the same transaction, never below zero), change their contact
consent, download everything as JSON (:func:`export_my_data`) and erase it (:func:`erase_my_data`).

**Erasure** (also what retention does, through :func:`anonymize_signatures`): name, email, canonical
email (replaced by a random ``erased:<row id>-<hex>`` placeholder, so the unique constraint holds and
nothing can be traced back), postal code, comment, consent, UTM fields and referrer are removed; the
letters' subject and body are blanked, delivery errors cleared, the person's access links deleted.
The signature row stays with its region, time, source and status: a counted signature stays counted,
anonymously, so totals do not change. ``withdraw=True`` takes the signatures out of the counts first.

Every action is audited with the actor "supporter" and never with an email address: an audit entry
naming an erased person would be a trace of them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import getaddresses
from typing import Any

from sqlalchemy import Text, cast, delete, func, literal, select, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from campaigns.catalog.listing import get_consent_text
from campaigns.core import audit, outbox
from campaigns.core.audit import Actor
from campaigns.core.db import run_write
from campaigns.core.errors import NotFound, RallyError
from campaigns.core.mail import MailError, OutgoingMail, mail_mode
from campaigns.core.models import (
    Campaign,
    ConsentWording,
    Letter,
    LetterView,
    Outreach,
    Signature,
    SignatureStatus,
    SignatureView,
    SupporterToken,
    Target,
    utcnow,
)
from campaigns.core.settings import Settings, get_settings
from campaigns.core.tokens import claim_once, hash_token
from campaigns.core.validation import clean_email
from campaigns.letters.deliveries import delivery_kind
from campaigns.regions.custom import resolve_scheme
from campaigns.signatures.counts import remove_counts

log = logging.getLogger(__name__)

PURPOSE = "my-data"
LINKS_PER_HOUR = 3
SESSION_MINUTES = 30  # how long the page trusts a verified address after its link was opened
ERASED_PREFIX = "erased:"
SUPPORTER = Actor(user_id=None, email="supporter")
PAGE_PATH = "my-data"

_TOKENS = SupporterToken.__table__  # type: ignore[attr-defined]
_SIGNATURES = Signature.__table__  # type: ignore[attr-defined]
_LETTERS = Letter.__table__  # type: ignore[attr-defined]
_OUTREACH = Outreach.__table__  # type: ignore[attr-defined]


class LinkRefused(RallyError):
    """A "My data" link that is unknown, used or expired; the message says how to get a new one."""


class TooManyLinks(RallyError):
    """This address was sent its hourly allowance of links already."""


# --- the link -----------------------------------------------------------------------------------


def _lock_address(session: Session, canonical: str) -> None:
    """PostgreSQL: one link request per address at a time, so the hourly limit holds under a double click.
    (SQLite already has one writer at a time.)"""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(canonical.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


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


def receipt_url(token: str, settings: Settings | None = None) -> str:
    """The receipt link shown to the browser that created a signature: "your data" for that signature alone."""
    settings = settings or get_settings()
    return f"{settings.public_url.rstrip('/')}/{PAGE_PATH}?receipt={token}"


def link_url(token: str, settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    return f"{settings.public_url.rstrip('/')}/{PAGE_PATH}?token={token}"


def _link_mail(address: str, token: str, settings: Settings) -> OutgoingMail:
    sender = getaddresses([settings.mail_from])
    reply_name, reply_address = sender[0] if sender else ("", "")
    minutes = settings.my_data_link_minutes
    body = (
        "Hello,\n\n"
        f"Someone (we hope you) asked to see what {settings.org_name} holds about this email address.\n"
        "Open this link to see the campaigns you signed and your letters (and what happened to each),\n"
        "withdraw a signature, choose whether we may contact you, download your data, or erase it:\n\n"
        f"{link_url(token, settings)}\n\n"
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
    claimed = claim_once(session, token=token or "", purpose=PURPOSE, now=now)
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


# --- what a supporter sees ----------------------------------------------------------------------


@dataclass(frozen=True)
class SupporterData:
    email: str
    signatures: tuple[SignatureView, ...]
    letters: tuple[LetterView, ...]


def _region_name(session: Session, scheme_id: str, code: str) -> str:
    try:
        scheme = resolve_scheme(session, scheme_id)
    except RallyError:
        return code
    return scheme.get(code).name if scheme.has(code) else code


def _signatures(session: Session, canonical: str, only: int | None = None) -> list[tuple[Signature, Campaign]]:
    stmt = (
        select(Signature, Campaign)
        .join(Campaign, Campaign.id == Signature.campaign_id)
        .where(Signature.email_canonical == canonical)
        .order_by(Signature.created_at.desc(), Signature.id.desc())  # type: ignore[attr-defined, union-attr]
    )
    if only is not None:  # a receipt: that signature alone
        stmt = stmt.where(Signature.id == only)
    rows = session.execute(stmt).all()
    return [(row[0], row[1]) for row in rows]


def _wording(session: Session, digest: str | None) -> str | None:
    wording = session.get(ConsentWording, digest) if digest else None
    return wording.text if wording else None


def get_my_data(*, session: Session, email_canonical: str, only: int | None = None) -> SupporterData:
    """Every signature under this (canonical) address, across campaigns, and every letter sent in their name.

    ``only``: one signature's id (what a receipt proves), and its letters."""
    signatures = []
    for sig, campaign in _signatures(session, email_canonical, only):
        agreed = _wording(session, sig.consent_hash) if sig.contact_consent else None
        extra = {
            "campaign_slug": campaign.slug,
            "campaign_title": campaign.title,
            "campaign_open": campaign.accepts_signatures(),
            "region_name": _region_name(session, campaign.region_scheme, sig.region_code),
            "consent_text": agreed or get_consent_text(session=session, campaign=campaign),
        }
        signatures.append(SignatureView.model_validate(sig, update=extra))
    titles = {s.signature_id: s.campaign_title for s in signatures}
    letters = tuple(
        LetterView.model_validate(
            letter,
            update={
                "campaign_title": titles.get(letter["signature_id"], ""),
                "target_name": letter["target_name"] or "",  # the target was deleted since
                "target_title": letter["target_title"] or "",
            },
        )
        for letter in _letters(session, list(titles), _receipt_since(signatures, only))
    )
    return SupporterData(email=email_canonical, signatures=tuple(signatures), letters=letters)


def _receipt_since(signatures: list[SignatureView], only: int | None) -> datetime | None:
    """A receipt proves the sign-on that made it, not what an earlier sign-on of the same row wrote: someone
    who signs again after a withdrawal gets the row back, not the letters of whoever withdrew it."""
    return signatures[0].signed_at if only is not None and signatures else None


def _letters(session: Session, signature_ids: list[int], since: datetime | None = None) -> list[dict[str, Any]]:
    """The letters of these signatures; ``since``: only those written from then on (see ``_receipt_since``)."""
    if not signature_ids:
        return []
    stmt = (
        select(Letter, Target.name, Target.title)
        .join(Target, Target.id == Letter.target_id, isouter=True)
        .where(Letter.signature_id.in_(signature_ids))  # type: ignore[attr-defined]
        .order_by(Letter.created_at, Letter.id)  # type: ignore[arg-type]
    )
    if since is not None:
        stmt = stmt.where(Letter.created_at >= since)  # type: ignore[arg-type, operator]
    rows = session.execute(stmt).all()
    ids = [row[0].id for row in rows]
    deliveries: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for outreach in session.execute(
            select(Outreach).where(Outreach.letter_id.in_(ids)).order_by(Outreach.id)  # type: ignore[attr-defined, arg-type]
        ).scalars():
            deliveries[outreach.letter_id].append(
                {
                    "channel": outreach.channel,
                    "status": outreach.status,
                    "what_happened": delivery_kind(outreach.channel, outreach.status).value,
                    "attempts": outreach.attempts,
                    "created_at": outreach.created_at,
                    "sent_at": outreach.sent_at,
                    "last_error": outreach.last_error,
                }
            )
    return [
        {
            "id": letter.id,
            "signature_id": letter.signature_id,
            "target_name": name,
            "target_title": title,
            "subject": letter.subject,
            "body": letter.body,
            "edited": letter.edited,
            "created_at": letter.created_at,
            "updated_at": letter.updated_at,
            "deliveries": deliveries[letter.id],
        }
        for letter, name, title in rows
    ]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export_my_data(
    *, session: Session, email_canonical: str, only: int | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Everything held about this address, as plain JSON-ready values (what the download gives); ``only``:
    one signature (a receipt), without the address's access links."""
    now = now or utcnow()
    pairs = _signatures(session, email_canonical, only)
    letters: dict[int, list[dict[str, Any]]] = {}
    since = pairs[0][0].created_at if only is not None and pairs else None  # see _receipt_since
    for letter in _letters(session, [sig.id or 0 for sig, _ in pairs], since):
        letter["created_at"], letter["updated_at"] = _iso(letter["created_at"]), _iso(letter["updated_at"])
        for delivery in letter["deliveries"]:
            delivery["created_at"], delivery["sent_at"] = _iso(delivery["created_at"]), _iso(delivery["sent_at"])
        letters.setdefault(letter.pop("signature_id"), []).append(letter)
    wordings: dict[str, str] = {}
    signatures = []
    for sig, campaign in pairs:
        if sig.consent_hash:
            wordings[sig.consent_hash] = _wording(session, sig.consent_hash) or ""
        signatures.append(
            {
                "campaign": {"slug": campaign.slug, "title": campaign.title},
                "full_name": sig.full_name,
                "email": sig.email,
                "email_canonical": sig.email_canonical,
                "region_code": sig.region_code,
                "region_name": _region_name(session, campaign.region_scheme, sig.region_code),
                "postal_code": sig.postal_code,
                "comment": sig.comment,
                "comment_status": sig.comment_status,
                "contact_consent": sig.contact_consent,
                "consent_wording_hash": sig.consent_hash,
                "consent_at": _iso(sig.consent_at),
                "utm_source": sig.utm_source,
                "utm_medium": sig.utm_medium,
                "utm_campaign": sig.utm_campaign,
                "referrer": sig.referrer,
                "source": sig.source,
                "status": sig.status,
                "signed_at": _iso(sig.created_at),
                "withdrawn_at": _iso(sig.withdrawn_at),
                "letters": letters.get(sig.id or 0, []),
            }
        )
    links = (
        session.execute(
            select(_TOKENS.c.purpose, _TOKENS.c.created_at, _TOKENS.c.expires_at, _TOKENS.c.used_at)
            .where(_TOKENS.c.email_canonical == email_canonical)
            .order_by(_TOKENS.c.created_at)
        ).all()
        if only is None
        else []
    )
    return {
        "generated_at": now.isoformat(),
        "email_canonical": email_canonical,
        "signatures": signatures,
        "consent_wordings": wordings,
        "access_links": [
            {"purpose": p, "created_at": _iso(c), "expires_at": _iso(e), "used_at": _iso(u)} for p, c, e, u in links
        ],
    }


def export_my_data_json(*, session: Session, email_canonical: str, only: int | None = None) -> str:
    data = export_my_data(session=session, email_canonical=email_canonical, only=only)
    return json.dumps(data, ensure_ascii=False, indent=2)


# --- changes ------------------------------------------------------------------------------------


def _own_signature(session: Session, email_canonical: str, signature_id: int) -> Signature:
    """The signature, locked, if it belongs to this address; the same answer for any other id."""
    signature = session.execute(
        select(Signature)
        .where(Signature.id == signature_id, Signature.email_canonical == email_canonical)
        .with_for_update()
    ).scalar_one_or_none()
    if signature is None:
        raise NotFound("We couldn't find that signature among yours. Reload the page to see your data as it is now.")
    return signature


_WITHDRAWABLE = (SignatureStatus.counted.value, SignatureStatus.pending.value, SignatureStatus.flagged.value)


def _withdraw(session: Session, signature: Signature, now: datetime) -> bool:
    """Withdraw one signature; True if it changed (counted ones leave the counts, held letters are dropped)."""
    if signature.status not in _WITHDRAWABLE:
        return False  # already withdrawn (a second click, another tab), or invalidated: nothing more to take away
    counted = signature.status == SignatureStatus.counted.value
    signature.status = SignatureStatus.withdrawn.value
    signature.withdrawn_at = now
    session.add(signature)
    session.flush()
    outbox.drop_held(session=session, signature_ids=[signature.id or 0])
    if not counted:
        return True
    remove_counts(
        session,
        campaign_id=signature.campaign_id,
        region_code=signature.region_code,
        signed_at=signature.created_at,
        now=now,
    )
    return True


def _record(session: Session, action: str, signature: Signature, now: datetime, **detail: Any) -> None:
    """The audit entry for a supporter's own action on one of their signatures."""
    audit.record(
        session,
        actor=SUPPORTER,
        action=action,
        campaign_id=signature.campaign_id,
        at=now,
        signature_id=signature.id,
        **detail,
    )


def withdraw_signature(
    *, session: Session, email_canonical: str, signature_id: int, now: datetime | None = None
) -> bool:
    """Take one of this supporter's signatures out of the counts; True if it was counted until now."""
    now = now or utcnow()
    signature = _own_signature(session, email_canonical, signature_id)
    done = _withdraw(session, signature, now)
    if done:
        _record(session, "supporter.withdraw", signature, now)
    return done


def set_consent(
    *, session: Session, email_canonical: str, signature_id: int, consent: bool, now: datetime | None = None
) -> None:
    """Opt in (to the campaign's current wording, recorded with the time) or out (consent cleared)."""
    now = now or utcnow()
    signature = _own_signature(session, email_canonical, signature_id)
    if signature.contact_consent == consent:
        return
    campaign = session.get(Campaign, signature.campaign_id)
    assert campaign is not None
    signature.contact_consent = consent
    signature.consent_hash = campaign.consent_hash if consent else None
    signature.consent_at = now if consent else None
    session.add(signature)
    session.flush()
    _record(session, "supporter.consent", signature, now, consent=consent)


def _placeholder(dialect_name: str) -> Any:
    """SQL for ``erased:<row id>-<random hex>``: unique per row, random, not derived from the address."""
    if dialect_name == "postgresql":
        random_hex = func.substr(func.md5(cast(func.random(), Text) + cast(func.clock_timestamp(), Text)), 1, 24)
    else:
        random_hex = func.lower(func.hex(func.randomblob(12)))
    return literal(ERASED_PREFIX) + cast(_SIGNATURES.c.id, Text) + "-" + random_hex


def anonymize_signatures(*, session: Session, signature_ids: Sequence[int], now: datetime | None = None) -> int:
    """Remove the personal data of these signatures, their letters and deliveries; counts stay as they are.

    Signatures already erased are left alone (so this is safe to repeat). Returns how many were erased now.
    """
    now = now or utcnow()
    ids = list(
        session.execute(
            select(_SIGNATURES.c.id).where(_SIGNATURES.c.id.in_(list(signature_ids)), _SIGNATURES.c.erased_at.is_(None))
        ).scalars()
    )
    if not ids:
        return 0
    placeholder = _placeholder(session.get_bind().dialect.name)
    session.execute(
        update(_SIGNATURES)
        .where(_SIGNATURES.c.id.in_(ids))
        .values(
            full_name="",
            email=placeholder,
            email_canonical=placeholder,
            postal_code=None,
            comment=None,
            comment_status=None,
            contact_consent=False,
            consent_hash=None,
            consent_at=None,
            utm_source=None,
            utm_medium=None,
            utm_campaign=None,
            referrer=None,
            receipt_hash=None,
            client_address=None,
            email_domain=None,
            confirm_hash=None,
            erased_at=now,
        )
    )
    letters = select(_LETTERS.c.id).where(_LETTERS.c.signature_id.in_(ids)).scalar_subquery()
    session.execute(update(_OUTREACH).where(_OUTREACH.c.letter_id.in_(letters)).values(last_error=None))
    outbox.forget_signatures(
        session=session, signature_ids=ids
    )  # their letters' and confirmations' messages, sent or not
    session.execute(
        update(_LETTERS).where(_LETTERS.c.signature_id.in_(ids)).values(subject="", body="", updated_at=now)
    )
    return len(ids)


@dataclass(frozen=True)
class Erasure:
    signatures: int  # signatures made anonymous
    withdrawn: int  # of which taken out of the counts now


def erase_my_data(
    *,
    session: Session,
    email_canonical: str,
    withdraw: bool = False,
    only: int | None = None,
    now: datetime | None = None,
) -> Erasure:
    """Erase everything held about this address (see the module's docstring); ``withdraw`` uncounts first.

    ``only``: one signature (what a receipt proves): that signature, its letters and its mail are erased;
    the address's other signatures and links are not touched."""
    now = now or utcnow()
    stmt = select(Signature).where(Signature.email_canonical == email_canonical)
    if only is not None:
        stmt = stmt.where(Signature.id == only)
    signatures = session.execute(stmt.with_for_update()).scalars().all()
    withdrawn = sum(_withdraw(session, sig, now) for sig in signatures) if withdraw else 0
    erased = anonymize_signatures(session=session, signature_ids=[sig.id or 0 for sig in signatures], now=now)
    if only is None:  # the mailbox's own "your data" links and mail go with the whole address (not staff links)
        session.execute(
            delete(_TOKENS).where(_TOKENS.c.email_canonical == email_canonical, _TOKENS.c.purpose == PURPOSE)
        )
        outbox.forget_signatures(session=session, signature_ids=[], recipient_canonical=email_canonical)
    audit.record(session, actor=SUPPORTER, action="supporter.erase", at=now, signatures=erased, withdrawn=withdrawn)
    return Erasure(signatures=erased, withdrawn=withdrawn)
