"""Signing a campaign: validate, store once, count.

One person signs a campaign once: the database's unique (campaign, canonical email)
constraint decides, through ``INSERT ... ON CONFLICT DO NOTHING``; a second attempt
stores nothing and gets the same answer as the first, so the form never reveals
whether an address had signed before. The count row is bumped in the same
transaction; on PostgreSQL on one of several shards, so concurrent signers of one
region rarely wait on the same row (see ``models.RegionCount``). SQLite admits one
writer at a time, so there a region has one row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlmodel import Session, SQLModel

from campaigns.catalog.listing import campaign_not_found, is_possible_slug, is_public
from campaigns.core.db import HotStatement, insert_for
from campaigns.core.errors import CampaignClosed, InvalidInput
from campaigns.core.models import (
    Campaign,
    CommentStatus,
    Signature,
    SignatureSource,
    SignatureStatus,
    utcnow,
)
from campaigns.core.tokens import hash_token, new_token
from campaigns.core.validation import REFERRER_MAX, UTM_MAX, clean_comment, clean_email, clean_name, clean_short
from campaigns.regions.lookup import resolve_scheme
from campaigns.regions.schemes import RegionScheme
from campaigns.signatures import confirmation, flood
from campaigns.signatures.count_writes import bump_counts
from campaigns.signatures.counts import count_total


class SignerInput(SQLModel):
    """What a supporter typed, and where their link came from, before any checking."""

    full_name: str = ""
    email: str = ""
    region_code: str | None = None
    postal_code: str | None = None
    comment: str | None = None
    # Show the signer's first name and region with their comment on the wall (off unless they tick it).
    comment_credit: bool = False
    contact_consent: bool = False
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    referrer: str | None = None


@dataclass(frozen=True)
class SignResult:
    """What the thank-you shows: built only from what this visitor typed, the same for a new and a repeated
    signature (nothing on the screen tells them apart)."""

    campaign_slug: str
    full_name: str
    region_code: str
    region_name: str
    total: int
    # Internal only (tests, logs): whether this call stored a new signature.
    created: bool
    # Server-side only, for the letter step and the receipt: the signature this sign-on created. None for a
    # repeat sign-on: whoever typed an address that signed before has not proved they own it.
    signature_id: int | None = None
    # The receipt link's token ("your data" for this signature alone), for the browser that created it; never
    # for a repeat sign-on. Only its SHA-256 is stored.
    receipt_token: str | None = None
    # The campaign counts a signature once its signer follows the link emailed to them (new or repeat alike).
    confirm_by_email: bool = False


_Checked = dict[str, tuple[bool, Any]]  # field -> (ok, cleaned value or its error messages)


def _attempt(check: Callable[[], Any]) -> tuple[bool, Any]:
    try:
        return True, check()
    except InvalidInput as exc:
        return False, exc.errors


def _check_fields(signer: SignerInput) -> _Checked:
    """The checks that need no campaign (the costly ones), run before the write transaction touches the database."""
    return {
        "full_name": _attempt(lambda: clean_name(signer.full_name)),
        "email": _attempt(lambda: clean_email(signer.email)),
        "comment": _attempt(lambda: clean_comment(signer.comment)),
    }


def _finish_check(checked: _Checked, scheme: RegionScheme, signer: SignerInput) -> dict[str, Any]:
    checked = {
        "full_name": checked["full_name"],
        "email": checked["email"],
        "region": _attempt(lambda: scheme.check_postal_code(signer.postal_code, signer.region_code)),
        "comment": checked["comment"],
    }
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, (ok, value) in checked.items():
        if ok:
            values[name] = value
        else:
            errors.update(value)
    if errors:
        raise InvalidInput(errors)
    email, canonical = values["email"]
    region = values["region"]
    postal = (signer.postal_code or "").strip() or None
    return {
        "full_name": values["full_name"],
        "email": email,
        "email_canonical": canonical,
        "region_code": region.code,
        "region_name": region.name,
        "postal_code": postal,
        "comment": values["comment"],
        "comment_status": CommentStatus.pending.value if values["comment"] else None,
        "comment_credit": bool(signer.comment_credit) and values["comment"] is not None,
        "contact_consent": bool(signer.contact_consent),
        "utm_source": clean_short(signer.utm_source, limit=UTM_MAX),
        "utm_medium": clean_short(signer.utm_medium, limit=UTM_MAX),
        "utm_campaign": clean_short(signer.utm_campaign, limit=UTM_MAX),
        "referrer": clean_short(signer.referrer, limit=REFERRER_MAX),
    }


# The hot path's statements are built once per dialect, with bind parameters, so each sign only
# binds values: no statement construction, no cache-key generation, no ORM loading per call.
_CAMPAIGN = Campaign.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_SIGNATURE = Signature.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_CAMPAIGN_BY_SLUG = select(
    _CAMPAIGN.c.id,
    _CAMPAIGN.c.slug,
    _CAMPAIGN.c.title,
    _CAMPAIGN.c.status,
    _CAMPAIGN.c.deadline,
    _CAMPAIGN.c.region_scheme,
    _CAMPAIGN.c.consent_hash,
    _CAMPAIGN.c.require_confirmation,
    _CAMPAIGN.c.light_share_link,
).where(_CAMPAIGN.c.slug == bindparam("slug"))
_CAMPAIGN_LOOKUP = HotStatement(_CAMPAIGN_BY_SLUG, ("slug",))


_SIGNATURE_KEYS = (
    "campaign_id",
    "full_name",
    "email",
    "email_canonical",
    "region_code",
    "postal_code",
    "comment",
    "comment_status",
    "comment_credit",
    "contact_consent",
    "consent_hash",
    "consent_at",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "referrer",
    "status",
    "created_at",
    "receipt_hash",
    "client_address",
    "email_domain",
    "flag_reason",
    "confirm_hash",
    "confirm_sent_at",
    "confirm_expires_at",
    "confirm_sends",
)


@cache
def _insert_signature(dialect_name: str) -> HotStatement:
    return HotStatement(
        insert_for(dialect_name, _SIGNATURE)
        .on_conflict_do_nothing(index_elements=["campaign_id", "email_canonical"])
        .returning(_SIGNATURE.c.id),
        _SIGNATURE_KEYS,
    )


@dataclass(frozen=True)
class _OpenCampaign:
    id: int
    slug: str
    title: str
    status: str
    deadline: datetime | None
    region_scheme: str
    consent_hash: str
    require_confirmation: bool
    light_share_link: bool  # spike mode: the share link in its emails is the light page

    # Campaign's own rule, kept in its one home: building a Campaign per sign-on costs ~140 us (this row ~2).
    accepts_signatures = Campaign.accepts_signatures


def _open_campaign(session: Session, slug: str, now: datetime) -> _OpenCampaign:
    """The campaign, as ``listing.get_public_campaign`` would find it, if it accepts signatures now."""
    row = _CAMPAIGN_LOOKUP.first(session, {"slug": slug}) if is_possible_slug(slug) else None
    campaign = _OpenCampaign(*row) if row is not None else None
    if campaign is None or not is_public(campaign):  # look the same
        raise campaign_not_found(slug)
    if not campaign.accepts_signatures(now):  # type: ignore[misc]  # Campaign's method, reading fields both have
        raise CampaignClosed("This campaign has closed and no longer accepts signatures. Thank you for caring.")
    return campaign


def sign(
    *,
    session: Session,
    campaign_slug: str,
    signer: SignerInput,
    client_address: str | None = None,
    scheme: RegionScheme | None = None,
    now: datetime | None = None,
) -> SignResult:
    """Sign a published campaign. Run inside a write transaction (``db.run_write``).

    ``client_address``: where the sign-on came from (``campaigns.core.client_address``), for flood control.
    ``scheme``: the campaign's region scheme if the caller resolved it already (the form did, to list its
    regions), so it is resolved once per sign-on; resolved here when not given or not the campaign's.
    A new signature counts at once, or is pending until its signer confirms (campaigns asking for it; the
    confirmation email is queued in this transaction), or is flagged for review (``campaigns.signatures.flood``).
    """
    now = now or utcnow()
    checked = _check_fields(signer)  # before the first statement: SQLite takes its write lock there
    if session.autoflush:
        session.flush()  # the caller's pending objects are written first, as ORM statements would
    insert_signature = _insert_signature(session.connection().dialect.name)
    campaign = _open_campaign(session, campaign_slug, now)
    if scheme is None or scheme.info.id != campaign.region_scheme:
        scheme = resolve_scheme(session=session, scheme_id=campaign.region_scheme)
    values = _finish_check(checked, scheme, signer)
    region_name = values.pop("region_name")
    address = (client_address or "")[:64] or None
    reason = flood.find_flag_reason(
        session=session,
        campaign_id=campaign.id,
        email_canonical=values["email_canonical"],
        client_address=address,
        now=now,
    )
    status = (
        SignatureStatus.flagged
        if reason
        else SignatureStatus.pending
        if campaign.require_confirmation
        else SignatureStatus.counted
    )
    receipt = new_token()
    confirm = new_token() if campaign.require_confirmation else None
    row = {
        **values,
        "campaign_id": campaign.id,
        "consent_hash": campaign.consent_hash if values["contact_consent"] else None,
        "consent_at": now if values["contact_consent"] else None,
        "status": status.value,
        "created_at": now,
        "receipt_hash": hash_token(receipt),
        "client_address": address,
        "email_domain": values["email_canonical"].rpartition("@")[2][:255],
        "flag_reason": reason,
        **confirmation.fresh_link(confirm, now),
    }
    inserted = insert_signature.fetchone(session, row)
    if inserted is None:  # signed before: a withdrawn signature becomes this new one; a counted one stays as it is
        inserted = _replace_withdrawn(session, row)
    created = inserted is not None
    signature_id = inserted[0] if inserted else None
    if created:
        if status == SignatureStatus.counted:
            bump_counts(
                session=session, campaign_id=campaign.id, region_code=row["region_code"], signed_at=now, now=now
            )
        if confirm is not None:
            confirmation.queue_link(
                session=session,
                signature_id=signature_id,  # type: ignore[arg-type]  # created: it has an id
                campaign=campaign,
                row=row,
                token=confirm,
                now=now,
            )
    elif campaign.require_confirmation:  # the owner hears of it by email; the screen is the same as anyone's
        confirmation.answer_repeat(session=session, campaign=campaign, email_canonical=row["email_canonical"], now=now)
    return SignResult(
        campaign_slug=campaign.slug,
        full_name=values["full_name"],
        region_code=values["region_code"],
        region_name=region_name,
        total=count_total(session=session, campaign_id=campaign.id),
        created=created,
        signature_id=signature_id,
        receipt_token=receipt if created else None,
        confirm_by_email=campaign.require_confirmation,
    )


def _replace_withdrawn(session: Session, row: dict[str, Any]) -> tuple[int] | None:
    """A supporter who withdrew and signs again: their row takes the new signature's values and counts again."""
    key = ("campaign_id", "email_canonical")
    replaced = session.execute(
        update(_SIGNATURE)
        .where(
            _SIGNATURE.c.campaign_id == row["campaign_id"],
            _SIGNATURE.c.email_canonical == row["email_canonical"],
            _SIGNATURE.c.status == SignatureStatus.withdrawn.value,
        )
        .values(
            **{k: v for k, v in row.items() if k not in key},
            withdrawn_at=None,
            confirmed_at=None,
            reminded_at=None,
            comment_featured_at=None,
            source=SignatureSource.online.value,
        )
        .returning(_SIGNATURE.c.id)
    ).first()
    return (replaced[0],) if replaced else None
