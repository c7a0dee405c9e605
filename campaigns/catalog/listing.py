"""Creating campaigns and finding them as the public or staff may see them.

The one home of three rules: what every campaign's fields must be (:func:`check_campaign`, on create and on each
edit), which campaigns the public may see (:func:`is_public`, :func:`public_campaigns` in SQL) and how far a
campaign is toward its goal (:func:`goal_share`). Edits and status changes are ``campaigns.catalog.lifecycle``.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Protocol

from sqlalchemy import ColumnElement, select
from sqlmodel import Session, col

from campaigns.core import audit
from campaigns.core.audit import Actor
from campaigns.core.errors import CampaignNotFound, InvalidInput, RallyError
from campaigns.core.mail import mail_mode
from campaigns.core.models import (
    DEFAULT_CONSENT_TEXT,
    Campaign,
    CampaignCreate,
    CampaignPublic,
    CampaignStatus,
    CampaignSummary,
    ConsentWording,
    utcnow,
)
from campaigns.core.validation import external_image_error, find_bad_characters, has_visible_text
from campaigns.regions.lookup import resolve_scheme
from campaigns.signatures.counts import count_total, count_totals

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SLUG_MAX = 80
TITLE_MAX = 200
PURPOSE_MAX = 2000
BODY_MAX = 50_000
CONSENT_MAX = 1000
THRESHOLD_MAX = 100_000_000  # as the goal's field


def default_require_confirmation() -> bool:
    return mail_mode() == "smtp"


def goal_share(total: int, goal: int, *, capped: bool = True) -> float:
    """How much of its goal a campaign has reached: 0..1 for a progress bar, or past 1 with ``capped=False``
    ("150% reached"); 0 without a goal."""
    if goal <= 0:
        return 0.0
    share = total / goal
    return min(1.0, share) if capped else share


def consent_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def store_consent_wording(*, session: Session, text: str) -> str:
    digest = consent_hash(text)
    if session.get(ConsentWording, digest) is None:
        session.add(ConsentWording(hash=digest, text=text))
        session.flush()
    return digest


def get_consent_text(*, session: Session, campaign: Campaign) -> str:
    wording = session.get(ConsentWording, campaign.consent_hash)
    return wording.text if wording else DEFAULT_CONSENT_TEXT


def is_possible_slug(value: object) -> bool:
    """Whether ``value`` could be a campaign's link name at all.

    Anything else (a NUL byte, a space, a broken character, a thousand characters) names no campaign: lookups
    answer "not found" without asking the database, which may refuse to compare such text at all.
    """
    return isinstance(value, str) and len(value) <= SLUG_MAX and SLUG_RE.fullmatch(value) is not None


def campaign_not_found(slug: str) -> CampaignNotFound:
    """The "not found" answer for a slug from a link: the message repeats it only when it could be a slug."""
    return CampaignNotFound(slug, shown=is_possible_slug(slug))


def check_campaign(*, session: Session, data: CampaignCreate, now: datetime) -> dict[str, str]:
    """What is wrong with each field of a new or edited campaign (empty: nothing), in words for the organizer."""
    errors: dict[str, str] = {}
    if not is_possible_slug(data.slug):
        errors["slug"] = (
            f"Use lower-case letters, digits and single hyphens for the link name (at most {SLUG_MAX} characters)."
        )
    for name, value, limit in (("title", data.title, TITLE_MAX), ("purpose", data.purpose, PURPOSE_MAX)):
        bad = find_bad_characters(value, allow_newlines=name != "title")
        if bad:
            errors[name] = f"The {name} contains {bad}; please retype it."
        elif not has_visible_text(value):
            errors[name] = f"Please write a {name}."
        elif len(value) > limit:
            errors[name] = f"Please shorten the {name} to at most {limit} characters."
    bad = find_bad_characters(data.body, allow_newlines=True)
    if bad:
        errors["body"] = f"The text contains {bad}; please retype that part."
    elif len(data.body) > BODY_MAX:
        errors["body"] = f"Please shorten the text to at most {BODY_MAX:,} characters."
    elif image := external_image_error(data.body, "text"):
        errors["body"] = image
    if data.goal < 1:
        errors["goal"] = "The goal must be at least one signature."
    if data.response_threshold is not None and not 1 <= data.response_threshold <= THRESHOLD_MAX:
        errors["response_threshold"] = (
            f"The target's expected answer needs a number of signatures between 1 and {THRESHOLD_MAX:,}, "
            "or none at all."
        )
    if data.deadline is not None and (data.deadline.tzinfo is None or data.deadline <= now):
        errors["deadline"] = "The deadline must be in the future."
    bad = find_bad_characters(data.consent_text, allow_newlines=True)
    if bad:
        errors["consent_text"] = f"The consent wording contains {bad}; please retype it."
    elif not has_visible_text(data.consent_text) or len(data.consent_text) > CONSENT_MAX:
        errors["consent_text"] = f"Write the consent wording supporters agree to (at most {CONSENT_MAX} characters)."
    elif image := external_image_error(data.consent_text, "consent wording"):
        errors["consent_text"] = image
    try:
        resolve_scheme(session=session, scheme_id=data.region_scheme)
    except RallyError as exc:
        errors["region_scheme"] = exc.user_message
    return errors


def create_campaign(
    *, session: Session, campaign_create: CampaignCreate, now: datetime | None = None, actor: Actor | None = None
) -> Campaign:
    """A new draft. Without an actor (demo, bench, tests) it is recorded as created from the command line."""
    now = now or utcnow()
    actor = actor or audit.CLI
    errors = check_campaign(session=session, data=campaign_create, now=now)
    if (
        not errors
        and session.execute(select(col(Campaign.id)).where(col(Campaign.slug) == campaign_create.slug)).first()
    ):
        errors["slug"] = f"The link name “{campaign_create.slug}” is already used by another campaign."
    if errors:
        raise InvalidInput(errors)
    digest = store_consent_wording(session=session, text=campaign_create.consent_text.strip())
    confirm = campaign_create.require_confirmation
    campaign = Campaign(
        **campaign_create.model_dump(exclude={"consent_text", "require_confirmation"}),
        require_confirmation=default_require_confirmation() if confirm is None else confirm,
        consent_hash=digest,
        created_at=now,
        updated_at=now,
        created_by=actor.user_id,
    )
    campaign.title = campaign.title.strip()
    campaign.purpose = campaign.purpose.strip()
    session.add(campaign)
    session.flush()
    audit.record(
        session=session, actor=actor, action="campaign.create", campaign_id=campaign.id, at=now, slug=campaign.slug
    )
    return campaign


def get_campaign_by_slug(*, session: Session, slug: str) -> Campaign | None:
    """The campaign at this link name, whatever its status; None also for text that cannot be a link name."""
    if not is_possible_slug(slug):
        return None
    return session.execute(select(Campaign).where(col(Campaign.slug) == slug)).scalar_one_or_none()


# What the public may see: published and closed campaigns. Drafts and archived ones look like no campaign at all.
PUBLIC_STATUSES = (CampaignStatus.published.value, CampaignStatus.closed.value)


class _HasStatus(Protocol):
    @property
    def status(self) -> str: ...


def is_public(campaign: _HasStatus) -> bool:
    """Whether the public may see this campaign (its page, its dashboard, signing it while it is open)."""
    return campaign.status in PUBLIC_STATUSES


def public_campaigns() -> ColumnElement[bool]:
    """SQL: the campaigns the public may see (``is_public`` as a where-clause)."""
    return col(Campaign.status).in_(PUBLIC_STATUSES)


def get_public_campaign(*, session: Session, slug: str) -> Campaign:
    """A published or closed campaign; drafts, archived and unknown slugs look the same: not found."""
    campaign = get_campaign_by_slug(session=session, slug=slug)
    if campaign is None or not is_public(campaign):
        raise campaign_not_found(slug)
    return campaign


def effective_status(campaign: Campaign, now: datetime | None = None) -> str:
    """The status people see: a published campaign whose deadline has passed shows as closed."""
    if campaign.status == CampaignStatus.published and not campaign.accepts_signatures(now):
        return CampaignStatus.closed.value
    return CampaignStatus(campaign.status).value


def list_public_campaigns(*, session: Session, now: datetime | None = None) -> list[CampaignSummary]:
    """Published and closed campaigns with their totals: open ones first, newest first."""
    campaigns = (
        session.execute(
            select(Campaign)
            .where(public_campaigns())
            .order_by(col(Campaign.published_at).desc(), col(Campaign.id).desc())
        )
        .scalars()
        .all()
    )
    totals = count_totals(session=session, campaign_ids=[c.id for c in campaigns if c.id is not None])
    summaries = [
        CampaignSummary.model_validate(
            c, update={"total": totals.get(c.id or 0, 0), "status": effective_status(c, now)}
        )
        for c in campaigns
    ]
    return sorted(summaries, key=lambda s: s.status != CampaignStatus.published.value)


def _page(session: Session, campaign: Campaign, now: datetime | None) -> CampaignPublic:
    return CampaignPublic.model_validate(
        campaign,
        update={
            "total": count_total(session=session, campaign_id=campaign.id or 0),
            "status": effective_status(campaign, now),
            "consent_text": get_consent_text(session=session, campaign=campaign),
            "has_letter": bool(campaign.letter_template and campaign.letter_subject),
        },
    )


def get_campaign_page(*, session: Session, slug: str, now: datetime | None = None) -> CampaignPublic:
    return _page(session, get_public_campaign(session=session, slug=slug), now)


def days_left(deadline: datetime | None, now: datetime | None = None) -> int | None:
    """Whole days until the deadline (0 on its last day); None without a deadline."""
    if deadline is None:
        return None
    seconds = (deadline - (now or utcnow())).total_seconds()
    return max(0, int(seconds // 86_400))


def deadline_text(deadline: datetime | None, is_open: bool, now: datetime | None = None) -> str:
    """What a campaign's page says of its deadline: "Closed", "No deadline", "Last day to sign", "3 days left"."""
    if not is_open:
        return "Closed"
    left = days_left(deadline, now)
    if left is None:
        return "No deadline"
    if left == 0:
        return "Last day to sign"
    return f"{left} day{'s' if left != 1 else ''} left"


def get_campaign_page_for_staff(*, session: Session, campaign_id: int, now: datetime | None = None) -> CampaignPublic:
    """The public page's content for any status (organizers preview drafts exactly as supporters will see them)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignNotFound(str(campaign_id))
    return _page(session, campaign, now)
