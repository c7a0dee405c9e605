"""Signing a campaign: validate, store once, count.

One person signs a campaign once: the database's unique (campaign, canonical email)
constraint decides, through ``INSERT ... ON CONFLICT DO NOTHING``; a second attempt
stores nothing and gets the same answer as the first, so the form never reveals
whether an address had signed before. The count row is bumped in the same
transaction, on one of several shards (see ``models.RegionCount``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

from campaigns.catalog import get_public_campaign
from campaigns.errors import CampaignClosed, InvalidInput, RallyError
from campaigns.models import Campaign, CommentStatus, RegionCount, Signature, SignatureStatus, utcnow
from campaigns.regions import get_scheme
from campaigns.settings import get_settings
from campaigns.stats import campaign_total
from campaigns.validation import REFERRER_MAX, UTM_MAX, clean_comment, clean_email, clean_name, clean_short


class SignerInput(SQLModel):
    """What a supporter typed, and where their link came from, before any checking."""

    full_name: str = ""
    email: str = ""
    region_code: str | None = None
    postal_code: str | None = None
    comment: str | None = None
    contact_consent: bool = False
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    referrer: str | None = None


@dataclass(frozen=True)
class SignResult:
    """The same for a new and a repeated signature: nothing here tells them apart to the public."""

    campaign_slug: str
    full_name: str
    region_code: str
    region_name: str
    total: int
    # Internal only (tests, logs): whether this call stored a new signature.
    created: bool


def check_signer(campaign: Campaign, signer: SignerInput) -> dict[str, Any]:
    """Validate every field at once; returns the cleaned values or raises InvalidInput listing each problem."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    scheme = get_scheme(campaign.region_scheme)
    checks = (
        ("full_name", lambda: clean_name(signer.full_name)),
        ("email", lambda: clean_email(signer.email)),
        ("region", lambda: scheme.check_postal_code(signer.postal_code, signer.region_code)),
        ("comment", lambda: clean_comment(signer.comment)),
    )
    for name, check in checks:
        try:
            values[name] = check()
        except InvalidInput as exc:
            errors.update(exc.errors)
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
        "contact_consent": bool(signer.contact_consent),
        "utm_source": clean_short(signer.utm_source, limit=UTM_MAX),
        "utm_medium": clean_short(signer.utm_medium, limit=UTM_MAX),
        "utm_campaign": clean_short(signer.utm_campaign, limit=UTM_MAX),
        "referrer": clean_short(signer.referrer, limit=REFERRER_MAX),
    }


def _dialect_insert(session: Session, table: Any) -> Any:
    name = session.get_bind().dialect.name
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(table)


def _open_campaign(session: Session, slug: str, now: datetime) -> Campaign:
    campaign = get_public_campaign(session=session, slug=slug)
    if not campaign.accepts_signatures(now):
        raise CampaignClosed("This campaign has closed and no longer accepts signatures. Thank you for caring.")
    return campaign


def sign(*, session: Session, campaign_slug: str, signer: SignerInput, now: datetime | None = None) -> SignResult:
    """Sign a published campaign. Run inside a write transaction (``db.run_write``)."""
    now = now or utcnow()
    campaign = _open_campaign(session, campaign_slug, now)
    assert campaign.id is not None
    values = check_signer(campaign, signer)
    region_name = values.pop("region_name")
    row = {
        **values,
        "campaign_id": campaign.id,
        "consent_hash": campaign.consent_hash if values["contact_consent"] else None,
        "consent_at": now if values["contact_consent"] else None,
        "status": SignatureStatus.counted.value,
        "created_at": now,
    }
    inserted = session.execute(
        _dialect_insert(session, Signature)
        .values(**row)
        .on_conflict_do_nothing(index_elements=["campaign_id", "email_canonical"])
        .returning(Signature.id)  # type: ignore[arg-type]
    ).first()
    if inserted is not None:
        _bump_count(session, campaign.id, values["region_code"], now)
    return SignResult(
        campaign_slug=campaign.slug,
        full_name=values["full_name"],
        region_code=values["region_code"],
        region_name=region_name,
        total=campaign_total(session, campaign.id),
        created=inserted is not None,
    )


def _bump_count(session: Session, campaign_id: int, region_code: str, now: datetime) -> None:
    shard = random.randrange(get_settings().count_shards)
    stmt = _dialect_insert(session, RegionCount).values(
        campaign_id=campaign_id, region_code=region_code, shard=shard, count=1, updated_at=now
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["campaign_id", "region_code", "shard"],
            set_={"count": RegionCount.count + 1, "updated_at": now},
        )
    )


def has_signed(session: Session, campaign_id: int, email: str) -> bool:
    """Organizer/test helper: is there a signature for this address (canonically)?"""
    try:
        _, canonical = clean_email(email)
    except RallyError:
        return False
    stmt = select(Signature.id).where(Signature.campaign_id == campaign_id, Signature.email_canonical == canonical)
    return session.execute(stmt).first() is not None
