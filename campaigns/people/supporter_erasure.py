"""Erasing a supporter's personal data, on their request or by retention; the counts stay as they are.

Name, email, canonical email (replaced by a random ``erased:<row id>-<hex>`` placeholder, so the unique
constraint holds and nothing can be traced back), postal code, comment, consent, UTM fields and referrer are
removed; the letters' subject and body are blanked, delivery errors cleared, the person's access links deleted.
The signature row stays with its region, time, source and status: a counted signature stays counted,
anonymously, so totals do not change. ``withdraw=True`` takes the signatures out of the counts first.
Retention (``campaigns.people.retention``) anonymizes through :func:`anonymize_signatures` too.

The audit entry names the actor "supporter", never the address: it would be a trace of the erased person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, delete, func, literal, select, update
from sqlmodel import Session, col

from campaigns.core import audit, outbox
from campaigns.core.models import Letter, Outreach, Signature, SupporterToken, utcnow
from campaigns.people.supporter_data import SUPPORTER, withdraw_locked
from campaigns.people.supporter_links import PURPOSE
from campaigns.proposals import privacy
from campaigns.questions import answering

ERASED_PREFIX = "erased:"

_TOKENS = SupporterToken.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_SIGNATURES = Signature.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_LETTERS = Letter.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_OUTREACH = Outreach.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it


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
    answering.erase_free_text(session=session, signature_ids=ids)  # written answers; chosen options stay counted
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
    stmt = select(Signature).where(col(Signature.email_canonical) == email_canonical)
    if only is not None:
        stmt = stmt.where(col(Signature.id) == only)
    signatures = session.execute(stmt.with_for_update()).scalars().all()
    withdrawn = sum(withdraw_locked(session=session, signature=sig, now=now) for sig in signatures) if withdraw else 0
    erased = anonymize_signatures(session=session, signature_ids=[sig.id or 0 for sig in signatures], now=now)
    if only is None:  # the mailbox's own "your data" links and mail go with the whole address (not staff links)
        session.execute(
            delete(_TOKENS).where(_TOKENS.c.email_canonical == email_canonical, _TOKENS.c.purpose == PURPOSE)
        )
        outbox.forget_signatures(session=session, signature_ids=[], recipient_canonical=email_canonical)
        privacy.erase_mailbox(session=session, email_canonical=email_canonical)  # proposals and co-sponsorships
    audit.record(
        session=session, actor=SUPPORTER, action="supporter.erase", at=now, signatures=erased, withdrawn=withdrawn
    )
    return Erasure(signatures=erased, withdrawn=withdrawn)
