"""Campaigns: create, edit, publish, close, reopen, archive, and find them as the public or staff may see them."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session, SQLModel

from campaigns import audit
from campaigns.audit import Actor
from campaigns.custom_regions import resolve_scheme
from campaigns.errors import CampaignNotFound, InvalidInput, RallyError
from campaigns.models import Campaign, CampaignStatus, ConsentWording, Signature, utcnow
from campaigns.stats import campaign_total, campaign_totals
from campaigns.validation import find_bad_characters

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SLUG_MAX = 80
TITLE_MAX = 200
PURPOSE_MAX = 2000
BODY_MAX = 50_000
CONSENT_MAX = 1000
DEFAULT_CONSENT_TEXT = (
    "Yes, the organizers of this campaign may email me about it and about related actions. "
    "I can unsubscribe at any time."
)


class CampaignCreate(SQLModel):
    slug: str
    title: str
    purpose: str
    body: str = ""
    goal: int
    deadline: datetime | None = None
    region_scheme: str
    consent_text: str = DEFAULT_CONSENT_TEXT


@dataclass(frozen=True)
class CampaignSummary:
    """What the public sees of a campaign in lists and the JSON API."""

    slug: str
    title: str
    purpose: str
    goal: int
    total: int
    status: str  # "published" (accepting signatures) or "closed"
    deadline: datetime | None

    @property
    def progress(self) -> float:
        return min(1.0, self.total / self.goal) if self.goal > 0 else 0.0


def consent_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def store_consent_wording(session: Session, text: str) -> str:
    digest = consent_hash(text)
    if session.get(ConsentWording, digest) is None:
        session.add(ConsentWording(hash=digest, text=text))
        session.flush()
    return digest


def consent_text(session: Session, campaign: Campaign) -> str:
    wording = session.get(ConsentWording, campaign.consent_hash)
    return wording.text if wording else DEFAULT_CONSENT_TEXT


def _validate(session: Session, data: CampaignCreate, now: datetime) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not SLUG_RE.match(data.slug) or len(data.slug) > SLUG_MAX:
        errors["slug"] = (
            f"Use lower-case letters, digits and single hyphens for the link name (at most {SLUG_MAX} characters)."
        )
    for name, value, limit in (("title", data.title, TITLE_MAX), ("purpose", data.purpose, PURPOSE_MAX)):
        if not value.strip():
            errors[name] = f"Please write a {name}."
        elif len(value) > limit:
            errors[name] = f"Please shorten the {name} to at most {limit} characters."
        elif find_bad_characters(value, allow_newlines=name != "title"):
            errors[name] = f"The {name} contains control characters; please retype it."
    if len(data.body) > BODY_MAX:
        errors["body"] = f"Please shorten the text to at most {BODY_MAX:,} characters."
    if data.goal < 1:
        errors["goal"] = "The goal must be at least one signature."
    if data.deadline is not None and (data.deadline.tzinfo is None or data.deadline <= now):
        errors["deadline"] = "The deadline must be in the future."
    if not data.consent_text.strip() or len(data.consent_text) > CONSENT_MAX:
        errors["consent_text"] = f"Write the consent wording supporters agree to (at most {CONSENT_MAX} characters)."
    try:
        resolve_scheme(session, data.region_scheme)
    except RallyError as exc:
        errors["region_scheme"] = exc.user_message
    return errors


def create_campaign(
    *, session: Session, campaign_create: CampaignCreate, now: datetime | None = None, actor: Actor | None = None
) -> Campaign:
    """A new draft. Without an actor (demo, bench, tests) it is recorded as created from the command line."""
    now = now or utcnow()
    actor = actor or audit.CLI
    errors = _validate(session, campaign_create, now)
    if not errors and session.execute(select(Campaign.id).where(Campaign.slug == campaign_create.slug)).first():
        errors["slug"] = f"The link name “{campaign_create.slug}” is already used by another campaign."
    if errors:
        raise InvalidInput(errors)
    digest = store_consent_wording(session, campaign_create.consent_text.strip())
    campaign = Campaign(
        **campaign_create.model_dump(exclude={"consent_text"}),
        consent_hash=digest,
        created_at=now,
        updated_at=now,
        created_by=actor.user_id,
    )
    campaign.title = campaign.title.strip()
    campaign.purpose = campaign.purpose.strip()
    session.add(campaign)
    session.flush()
    audit.record(session, actor=actor, action="campaign.create", campaign_id=campaign.id, at=now, slug=campaign.slug)
    return campaign


class InvalidTransition(RallyError):
    """A status change the campaign's current status does not allow; the message says what is possible."""


@dataclass(frozen=True)
class _Transition:
    action: str  # audit action
    done: str  # "published", "reopened": what the campaign would have been
    sources: frozenset[CampaignStatus]
    target: CampaignStatus


_PUBLISH = _Transition("campaign.publish", "published", frozenset({CampaignStatus.draft}), CampaignStatus.published)
_CLOSE = _Transition("campaign.close", "closed", frozenset({CampaignStatus.published}), CampaignStatus.closed)
_REOPEN = _Transition("campaign.reopen", "reopened", frozenset({CampaignStatus.closed}), CampaignStatus.published)
_ARCHIVE = _Transition(
    "campaign.archive", "archived", frozenset({CampaignStatus.draft, CampaignStatus.closed}), CampaignStatus.archived
)
_POSSIBLE = {
    CampaignStatus.draft: "you can publish it or archive it",
    CampaignStatus.published: "you can close it",
    CampaignStatus.closed: "you can reopen it or archive it",
    CampaignStatus.archived: "an archived campaign stays as it is",
}


def _refusal(transition: _Transition, current: CampaignStatus) -> str:
    if transition is _ARCHIVE and current == CampaignStatus.published:
        return "This campaign is published and still collecting signatures. Close it first, then archive it."
    if current == transition.target:
        return f"This campaign is already {current.value}: {_POSSIBLE[current]}."
    return f"This campaign is {current.value}, so it can't be {transition.done}: {_POSSIBLE[current]}."


def _set_status(
    session: Session, campaign_id: int, transition: _Transition, now: datetime | None, actor: Actor
) -> Campaign:
    campaign = session.get(Campaign, campaign_id, with_for_update=True)  # PostgreSQL: one change at a time
    if campaign is None:
        raise CampaignNotFound(str(campaign_id))
    now = now or utcnow()
    current = CampaignStatus(campaign.status)
    if current not in transition.sources:
        raise InvalidTransition(_refusal(transition, current))
    if transition.target == CampaignStatus.published and campaign.deadline is not None and campaign.deadline <= now:
        raise InvalidTransition(
            f"The deadline ({campaign.deadline:%Y-%m-%d %H:%M} UTC) has passed. "
            f"Move the deadline first, then the campaign can be {transition.done}.",
            field="deadline",
        )
    campaign.status = transition.target.value
    campaign.updated_at = now
    if transition.target == CampaignStatus.published:
        campaign.published_at = campaign.published_at or now
        campaign.closed_at = None
    elif transition.target == CampaignStatus.closed:
        campaign.closed_at = now
    session.add(campaign)
    session.flush()
    audit.record(
        session, actor=actor, action=transition.action, campaign_id=campaign.id, at=now, previous=current.value
    )
    return campaign


def publish_campaign(
    *, session: Session, campaign_id: int, now: datetime | None = None, actor: Actor = audit.CLI
) -> Campaign:
    """Draft -> published; refused once the deadline has passed."""
    return _set_status(session, campaign_id, _PUBLISH, now, actor)


def close_campaign(
    *, session: Session, campaign_id: int, now: datetime | None = None, actor: Actor = audit.CLI
) -> Campaign:
    """Published -> closed: no more signatures."""
    return _set_status(session, campaign_id, _CLOSE, now, actor)


def reopen_campaign(
    *, session: Session, campaign_id: int, now: datetime | None = None, actor: Actor = audit.CLI
) -> Campaign:
    """Closed -> published; refused once the deadline has passed (move it first)."""
    return _set_status(session, campaign_id, _REOPEN, now, actor)


def archive_campaign(
    *, session: Session, campaign_id: int, now: datetime | None = None, actor: Actor = audit.CLI
) -> Campaign:
    """Draft or closed -> archived: kept for the record, hidden from every public page."""
    return _set_status(session, campaign_id, _ARCHIVE, now, actor)


def get_campaign_by_slug(session: Session, slug: str) -> Campaign | None:
    return session.execute(select(Campaign).where(Campaign.slug == slug)).scalar_one_or_none()


def get_public_campaign(*, session: Session, slug: str) -> Campaign:
    """A published or closed campaign; drafts, archived and unknown slugs look the same: not found."""
    campaign = get_campaign_by_slug(session, slug) if slug else None
    if campaign is None or campaign.status in (CampaignStatus.draft, CampaignStatus.archived):
        raise CampaignNotFound(slug)
    return campaign


def public_status(campaign: Campaign, now: datetime | None = None) -> str:
    return CampaignStatus.published.value if campaign.accepts_signatures(now) else CampaignStatus.closed.value


def list_public_campaigns(*, session: Session, now: datetime | None = None) -> list[CampaignSummary]:
    """Published and closed campaigns with their totals: open ones first, newest first."""
    campaigns = (
        session.execute(
            select(Campaign)
            .where(Campaign.status.in_([CampaignStatus.published.value, CampaignStatus.closed.value]))  # type: ignore[attr-defined]
            .order_by(Campaign.published_at.desc(), Campaign.id.desc())  # type: ignore[union-attr]
        )
        .scalars()
        .all()
    )
    totals = campaign_totals(session, [c.id for c in campaigns if c.id is not None])
    summaries = [
        CampaignSummary(
            slug=c.slug,
            title=c.title,
            purpose=c.purpose,
            goal=c.goal,
            total=totals.get(c.id or 0, 0),
            status=public_status(c, now),
            deadline=c.deadline,
        )
        for c in campaigns
    ]
    return sorted(summaries, key=lambda s: s.status != CampaignStatus.published.value)


@dataclass(frozen=True)
class CampaignPage:
    """Everything the public campaign page shows, as plain values (safe to cache and share)."""

    slug: str
    title: str
    purpose: str
    body: str
    goal: int
    total: int
    status: str  # "published" (open) or "closed"
    deadline: datetime | None
    region_scheme: str
    consent_text: str

    @property
    def is_open(self) -> bool:
        return self.status == CampaignStatus.published.value

    @property
    def progress(self) -> float:
        return min(1.0, self.total / self.goal) if self.goal > 0 else 0.0


def get_campaign_page(*, session: Session, slug: str, now: datetime | None = None) -> CampaignPage:
    campaign = get_public_campaign(session=session, slug=slug)
    assert campaign.id is not None
    return CampaignPage(
        slug=campaign.slug,
        title=campaign.title,
        purpose=campaign.purpose,
        body=campaign.body,
        goal=campaign.goal,
        total=campaign_total(session, campaign.id),
        status=public_status(campaign, now),
        deadline=campaign.deadline,
        region_scheme=campaign.region_scheme,
        consent_text=consent_text(session, campaign),
    )


def days_left(deadline: datetime | None, now: datetime | None = None) -> int | None:
    """Whole days until the deadline (0 on its last day); None without a deadline."""
    if deadline is None:
        return None
    seconds = (deadline - (now or utcnow())).total_seconds()
    return max(0, int(seconds // 86_400))


# --- staff: slugs, edits, lists ------------------------------------------------------------------

SUGGESTED_SLUG_MAX = 60
# Latin letters that NFKD does not split into a base letter and an accent.
_UNSPLIT_LETTERS = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th"})


def _join_words(words: list[str], limit: int) -> str:
    """Words joined by hyphens, cut at a word boundary to at most ``limit`` characters."""
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > limit:
            break
        slug = candidate
    return slug or words[0][:limit]  # one word longer than the limit: cut inside it


def suggest_slug(session: Session, title: str) -> str:
    """A link name for a title: ASCII words and hyphens, at most 60 characters, not used by any campaign yet."""
    folded = unicodedata.normalize("NFKD", title.lower().translate(_UNSPLIT_LETTERS))
    words = re.findall(r"[a-z0-9]+", folded.encode("ascii", "ignore").decode("ascii")) or ["campaign"]
    prefix = words[0][: SUGGESTED_SLUG_MAX - 8]  # every candidate below starts with it
    taken = set(session.execute(select(Campaign.slug).where(Campaign.slug.like(f"{prefix}%"))).scalars())  # type: ignore[attr-defined]
    n = 1
    while True:
        suffix = f"-{n}" if n > 1 else ""
        candidate = _join_words(words, SUGGESTED_SLUG_MAX - len(suffix)) + suffix
        if candidate not in taken:
            return candidate
        n += 1


class CampaignUpdate(SQLModel):
    """The fields to change; those left unset stay as they are (set ``deadline=None`` to remove a deadline)."""

    slug: str | None = None
    title: str | None = None
    purpose: str | None = None
    body: str | None = None
    goal: int | None = None
    deadline: datetime | None = None
    region_scheme: str | None = None
    consent_text: str | None = None


_STRIPPED = ("title", "purpose", "consent_text")  # stored without surrounding blanks, as on create
_AUDITED_VALUES = ("slug", "title", "goal", "deadline", "region_scheme")  # short: old and new values go in the log


def _current_values(session: Session, campaign: Campaign) -> CampaignCreate:
    return CampaignCreate(
        slug=campaign.slug,
        title=campaign.title,
        purpose=campaign.purpose,
        body=campaign.body,
        goal=campaign.goal,
        deadline=campaign.deadline,
        region_scheme=campaign.region_scheme,
        consent_text=consent_text(session, campaign),
    )


def _changed_fields(current: CampaignCreate, given: dict[str, object]) -> list[str]:
    def norm(name: str, value: object) -> object:
        return value.strip() if name in _STRIPPED and isinstance(value, str) else value

    return [name for name, value in given.items() if norm(name, value) != norm(name, getattr(current, name))]


def _has_signatures(session: Session, campaign_id: int) -> bool:
    return (
        session.execute(select(Signature.id).where(Signature.campaign_id == campaign_id).limit(1)).first() is not None
    )


def update_campaign(
    *, session: Session, campaign_id: int, changes: CampaignUpdate, actor: Actor, now: datetime | None = None
) -> Campaign:
    """Change a campaign's text and settings, checked like a new one; only changed fields are checked and logged.

    A published campaign's link never changes, nor the region scheme once people have signed. A new consent
    wording is stored beside the old one: earlier signers keep the wording they agreed to.
    """
    now = now or utcnow()
    campaign = session.get(Campaign, campaign_id, with_for_update=True)
    if campaign is None:
        raise CampaignNotFound(str(campaign_id))
    current = _current_values(session, campaign)
    given = {k: v for k, v in changes.model_dump(exclude_unset=True).items() if v is not None or k == "deadline"}
    changed = _changed_fields(current, given)
    if not changed:
        return campaign
    merged = current.model_copy(update=given)
    # Only what this edit changes is checked: an unchanged deadline that has passed since is not the editor's fault.
    errors = {name: message for name, message in _validate(session, merged, now).items() if name in changed}
    # What can never change is said first: fixing the value's format would not help.
    if "slug" in changed and campaign.published_at is not None:
        errors["slug"] = (
            f"A published campaign's link never changes: people have already shared it. Keep “{campaign.slug}”."
        )
    elif "slug" in changed and "slug" not in errors and get_campaign_by_slug(session, merged.slug) is not None:
        errors["slug"] = f"The link name “{merged.slug}” is already used by another campaign."
    if "region_scheme" in changed and _has_signatures(session, campaign_id):
        errors["region_scheme"] = (
            "The region scheme can't change once people have signed: their regions were recorded in the current one."
        )
    if errors:
        raise InvalidInput(errors)
    logged = {name: {"from": getattr(current, name), "to": getattr(merged, name)} for name in changed}
    for name in changed:
        value = getattr(merged, name)
        if name == "consent_text":
            campaign.consent_hash = store_consent_wording(session, value.strip())
        else:
            setattr(campaign, name, value.strip() if name in _STRIPPED else value)
    campaign.updated_at = now
    session.add(campaign)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="campaign.update",
        campaign_id=campaign.id,
        at=now,
        fields=changed,
        values={name: logged[name] for name in changed if name in _AUDITED_VALUES},
    )
    return campaign


def list_campaigns_for_staff(session: Session) -> list[Campaign]:
    """Every campaign, whatever its status, newest first."""
    stmt = select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())  # type: ignore[attr-defined, union-attr]
    return list(session.execute(stmt).scalars().all())


def get_campaign_page_for_staff(*, session: Session, campaign_id: int, now: datetime | None = None) -> CampaignPage:
    """The public page's content for any status (organizers preview drafts exactly as supporters will see them)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignNotFound(str(campaign_id))
    return CampaignPage(
        slug=campaign.slug,
        title=campaign.title,
        purpose=campaign.purpose,
        body=campaign.body,
        goal=campaign.goal,
        total=campaign_total(session, campaign_id),
        status=public_status(campaign, now),
        deadline=campaign.deadline,
        region_scheme=campaign.region_scheme,
        consent_text=consent_text(session, campaign),
    )
