"""What a supporter sees, downloads and changes of their own data, once their address is verified.

With the verified address (the canonical form, as signatures store it, from ``campaigns.people.supporter_links``)
a supporter can see every signature, every letter sent in their name, their answers to organizers' questions
and the proposals they made or co-sponsor (:func:`get_my_data`; a receipt: one signature, its letters and
answers, never the mailbox's proposals), download
everything as JSON (:func:`export_my_data`), withdraw a signature (the region and hourly counts go down in the
same transaction, never below zero) and change their contact consent. Erasing is
``campaigns.people.supporter_erasure``.

Every action is audited with the actor "supporter" and never with an email address: an audit entry naming an
erased person would be a trace of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from campaigns.catalog.listing import get_consent_text
from campaigns.core import audit, outbox
from campaigns.core.audit import Actor
from campaigns.core.errors import NotFound, RallyError
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
from campaigns.letters.deliveries import delivery_kind
from campaigns.proposals import privacy
from campaigns.questions import answering
from campaigns.regions.lookup import resolve_scheme
from campaigns.signatures.count_writes import remove_counts

SUPPORTER = Actor(user_id=None, email="supporter")
UPDATE_KIND = outbox.UPDATE_KIND  # the outbox kind of updates to signers (campaigns.updates.fanout.KIND)

_TOKENS = SupporterToken.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it


@dataclass(frozen=True)
class SupporterData:
    email: str
    signatures: tuple[SignatureView, ...]
    letters: tuple[LetterView, ...]
    answers: tuple[answering.HeldAnswer, ...] = ()  # the signatures' answers to organizers' questions
    proposals: privacy.MailboxProposals | None = None  # None for a receipt: it proves one signature, not the mailbox


def _region_name(session: Session, scheme_id: str, code: str) -> str:
    try:
        scheme = resolve_scheme(session=session, scheme_id=scheme_id)
    except RallyError:
        return code
    return scheme.get(code).name if scheme.has(code) else code


def _signatures(session: Session, canonical: str, only: int | None = None) -> list[tuple[Signature, Campaign]]:
    stmt = (
        select(Signature, Campaign)
        .join(Campaign, col(Campaign.id) == Signature.campaign_id)
        .where(col(Signature.email_canonical) == canonical)
        .order_by(col(Signature.created_at).desc(), col(Signature.id).desc())
    )
    if only is not None:  # a receipt: that signature alone
        stmt = stmt.where(col(Signature.id) == only)
    rows = session.execute(stmt).all()
    return [(row[0], row[1]) for row in rows]


def _wording(session: Session, digest: str | None) -> str | None:
    wording = session.get(ConsentWording, digest) if digest else None
    return wording.text if wording else None


def get_my_data(*, session: Session, email_canonical: str, only: int | None = None) -> SupporterData:
    """Every signature under this (canonical) address, across campaigns, and every letter sent in their name.

    ``only``: one signature's id (what a receipt proves), its letters and its answers, and no proposals (a
    receipt proves one signature, not the mailbox's proposals)."""
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
    answers = answering.answers_of(session=session, signature_ids=list(titles))
    proposals = privacy.held_about(session=session, email_canonical=email_canonical) if only is None else None
    return SupporterData(
        email=email_canonical,
        signatures=tuple(signatures),
        letters=letters,
        answers=tuple(answers),
        proposals=proposals,
    )


def _receipt_since(signatures: list[SignatureView], only: int | None) -> datetime | None:
    """A receipt proves the sign-on that made it, not what an earlier sign-on of the same row wrote: someone
    who signs again after a withdrawal gets the row back, not the letters of whoever withdrew it."""
    return signatures[0].signed_at if only is not None and signatures else None


def _letters(session: Session, signature_ids: list[int], since: datetime | None = None) -> list[dict[str, Any]]:
    """The letters of these signatures; ``since``: only those written from then on (see ``_receipt_since``)."""
    if not signature_ids:
        return []
    stmt = (
        select(Letter, col(Target.name), col(Target.title))
        .join(Target, col(Target.id) == Letter.target_id, isouter=True)
        .where(col(Letter.signature_id).in_(signature_ids))
        .order_by(col(Letter.created_at), col(Letter.id))
    )
    if since is not None:
        stmt = stmt.where(col(Letter.created_at) >= since)
    rows = session.execute(stmt).all()
    ids = [row[0].id for row in rows]
    deliveries: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for outreach in session.execute(
            select(Outreach).where(col(Outreach.letter_id).in_(ids)).order_by(col(Outreach.id))
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
    one signature (a receipt) with its letters and answers, without the address's access links and proposals."""
    now = now or utcnow()
    pairs = _signatures(session, email_canonical, only)
    letters: dict[int, list[dict[str, Any]]] = {}
    since = pairs[0][0].created_at if only is not None and pairs else None  # see _receipt_since
    for letter in _letters(session, [sig.id or 0 for sig, _ in pairs], since):
        letter["created_at"], letter["updated_at"] = _iso(letter["created_at"]), _iso(letter["updated_at"])
        for delivery in letter["deliveries"]:
            delivery["created_at"], delivery["sent_at"] = _iso(delivery["created_at"]), _iso(delivery["sent_at"])
        letters.setdefault(letter.pop("signature_id"), []).append(letter)
    answers: dict[int, list[dict[str, Any]]] = {}
    for held in answering.answers_of(session=session, signature_ids=[sig.id or 0 for sig, _ in pairs]):
        answers.setdefault(held.signature_id, []).append(
            {
                "question": held.question,
                "option": held.option,
                "written_answer": held.free_text,
                "written_answer_status": held.free_text_status,
                "answered_at": _iso(held.answered_at),
                "updated_at": _iso(held.updated_at),
            }
        )
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
                "comment_credit": sig.comment_credit,
                "comment_featured_at": _iso(sig.comment_featured_at),
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
                "answers": answers.get(sig.id or 0, []),
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
    held = privacy.held_about(session=session, email_canonical=email_canonical) if only is None else None
    return {
        "generated_at": now.isoformat(),
        "email_canonical": email_canonical,
        "signatures": signatures,
        "consent_wordings": wordings,
        "access_links": [
            {"purpose": p, "created_at": _iso(c), "expires_at": _iso(e), "used_at": _iso(u)} for p, c, e, u in links
        ],
        "proposals": {"proposed": held.proposed, "co_sponsored": held.sponsored} if held else None,
    }


def export_my_data_json(*, session: Session, email_canonical: str, only: int | None = None) -> str:
    data = export_my_data(session=session, email_canonical=email_canonical, only=only)
    return json.dumps(data, ensure_ascii=False, indent=2)


# --- changes ------------------------------------------------------------------------------------


def _own_signature(session: Session, email_canonical: str, signature_id: int) -> Signature:
    """The signature, locked, if it belongs to this address; the same answer for any other id."""
    signature = session.execute(
        select(Signature)
        .where(col(Signature.id) == signature_id, col(Signature.email_canonical) == email_canonical)
        .with_for_update()
    ).scalar_one_or_none()
    if signature is None:
        raise NotFound("We couldn't find that signature among yours. Reload the page to see your data as it is now.")
    return signature


_WITHDRAWABLE = (SignatureStatus.counted.value, SignatureStatus.pending.value, SignatureStatus.flagged.value)


def withdraw_locked(*, session: Session, signature: Signature, now: datetime) -> bool:
    """Withdraw one signature the caller has locked; True if it changed (counted ones leave the counts, held letters
    are dropped). Withdrawing and erasing both come here."""
    if signature.status not in _WITHDRAWABLE:
        return False  # already withdrawn (a second click, another tab), or invalidated: nothing more to take away
    counted = signature.status == SignatureStatus.counted.value
    signature.status = SignatureStatus.withdrawn.value
    signature.withdrawn_at = now
    session.add(signature)
    session.flush()
    outbox.drop_held(session=session, signature_ids=[signature.id or 0])
    outbox.drop_queued(session=session, signature_ids=[signature.id or 0], kind=UPDATE_KIND)  # no longer a signer
    answering.withdraw_answers(session=session, signature_ids=[signature.id or 0])  # out of every question's results
    if not counted:
        return True
    remove_counts(
        session=session,
        campaign_id=signature.campaign_id,
        region_code=signature.region_code,
        signed_at=signature.created_at,
        now=now,
    )
    return True


def _record(session: Session, action: str, signature: Signature, now: datetime, **detail: Any) -> None:
    """The audit entry for a supporter's own action on one of their signatures."""
    audit.record(
        session=session,
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
    done = withdraw_locked(session=session, signature=signature, now=now)
    if done:
        _record(session, "supporter.withdraw", signature, now)
    return done


def set_consent(
    *, session: Session, email_canonical: str, signature_id: int, consent: bool, now: datetime | None = None
) -> None:
    """Opt in (to the campaign's current wording, recorded with the time) or out (consent cleared, and updates
    still queued for this signature dropped). The audit entry records the change and its time."""
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
    if not consent:  # updates to signers still waiting in the outbox are not sent to them any more
        outbox.drop_queued(session=session, signature_ids=[signature.id or 0], kind=UPDATE_KIND)
    _record(session, "supporter.consent", signature, now, consent=consent)
