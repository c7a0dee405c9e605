"""A campaign's life, as organizers run it: suggested link names, edits, and status changes.

draft → published → closed → (reopened) → archived; every change is checked, refused with a
message saying what is possible, and written to the audit log in the same transaction.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session, col

from campaigns.catalog.listing import (
    check_campaign,
    get_campaign_by_slug,
    get_consent_text,
    store_consent_wording,
)
from campaigns.core import audit
from campaigns.core.audit import Actor
from campaigns.core.errors import CampaignNotFound, InvalidInput, RallyError
from campaigns.core.models import Campaign, CampaignCreate, CampaignStatus, CampaignUpdate, Signature, utcnow
from campaigns.core.validation import find_bad_characters
from campaigns.letters.templates import TemplateRejected, check_template


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
        session=session, actor=actor, action=transition.action, campaign_id=campaign.id, at=now, previous=current.value
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


def suggest_slug(*, session: Session, title: str) -> str:
    """A link name for a title: ASCII words and hyphens, at most 60 characters, not used by any campaign yet."""
    folded = unicodedata.normalize("NFKD", title.lower().translate(_UNSPLIT_LETTERS))
    words = re.findall(r"[a-z0-9]+", folded.encode("ascii", "ignore").decode("ascii")) or ["campaign"]
    prefix = words[0][: SUGGESTED_SLUG_MAX - 8]  # every candidate below starts with it
    taken = set(session.execute(select(col(Campaign.slug)).where(col(Campaign.slug).like(f"{prefix}%"))).scalars())
    n = 1
    while True:
        suffix = f"-{n}" if n > 1 else ""
        candidate = _join_words(words, SUGGESTED_SLUG_MAX - len(suffix)) + suffix
        if candidate not in taken:
            return candidate
        n += 1


_STRIPPED = ("title", "purpose", "consent_text")  # stored without surrounding blanks, as on create
# short: old and new values go in the log
_AUDITED_VALUES = ("slug", "title", "goal", "deadline", "region_scheme", "require_confirmation", "response_threshold")
_REMOVABLE = ("deadline", "response_threshold")  # None removes these; for the others None means "unchanged"


def _current_values(session: Session, campaign: Campaign) -> CampaignCreate:
    return CampaignCreate.model_validate(
        campaign, update={"consent_text": get_consent_text(session=session, campaign=campaign)}
    )


def _changed_fields(current: CampaignCreate, given: dict[str, object]) -> list[str]:
    def norm(name: str, value: object) -> object:
        return value.strip() if name in _STRIPPED and isinstance(value, str) else value

    return [name for name, value in given.items() if norm(name, value) != norm(name, getattr(current, name))]


def _has_signatures(session: Session, campaign_id: int) -> bool:
    return (
        session.execute(select(col(Signature.id)).where(col(Signature.campaign_id) == campaign_id).limit(1)).first()
        is not None
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
    given = {k: v for k, v in changes.model_dump(exclude_unset=True).items() if v is not None or k in _REMOVABLE}
    changed = _changed_fields(current, given)
    if not changed:
        return campaign
    merged = current.model_copy(update=given)
    # Only what this edit changes is checked: an unchanged deadline that has passed since is not the editor's fault.
    problems = check_campaign(session=session, data=merged, now=now)
    errors = {name: message for name, message in problems.items() if name in changed}
    # What can never change is said first: fixing the value's format would not help.
    if "slug" in changed and campaign.published_at is not None:
        errors["slug"] = (
            f"A published campaign's link never changes: people have already shared it. Keep “{campaign.slug}”."
        )
    elif (
        "slug" in changed
        and "slug" not in errors
        and get_campaign_by_slug(session=session, slug=merged.slug) is not None
    ):
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
            campaign.consent_hash = store_consent_wording(session=session, text=value.strip())
        else:
            setattr(campaign, name, value.strip() if name in _STRIPPED else value)
    campaign.updated_at = now
    session.add(campaign)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="campaign.update",
        campaign_id=campaign.id,
        at=now,
        fields=changed,
        values={name: logged[name] for name in changed if name in _AUDITED_VALUES},
    )
    return campaign


def list_campaigns_for_staff(*, session: Session) -> list[Campaign]:
    """Every campaign, whatever its status, newest first."""
    stmt = select(Campaign).order_by(col(Campaign.created_at).desc(), col(Campaign.id).desc())
    return list(session.execute(stmt).scalars().all())


def set_letter(*, session: Session, campaign_id: int, subject: str, template: str, actor: Actor) -> Campaign:
    """Save the campaign's letter (subject and body are both templates), refused with line and reason if unsafe."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignNotFound(str(campaign_id))
    errors = {}
    for name, source in (("letter_subject", subject), ("letter_template", template)):
        if not source.strip():
            errors[name] = "Write the letter's subject." if name == "letter_subject" else "Write the letter."
            continue
        bad = find_bad_characters(source, allow_newlines=name == "letter_template")
        if bad:
            errors[name] = f"The {name.replace('_', ' ')} contains {bad}; please retype that part."
            continue
        try:
            check_template(source)
        except TemplateRejected as exc:
            errors[name] = exc.user_message
    if errors:
        raise InvalidInput(errors)
    campaign.letter_subject, campaign.letter_template = subject.strip(), template.strip()
    campaign.updated_at = utcnow()
    session.add(campaign)
    session.flush()
    audit.record(session=session, actor=actor, action="campaign.letter", campaign_id=campaign_id)
    return campaign


def set_light_share_link(*, session: Session, campaign_id: int, on: bool, actor: Actor) -> Campaign:
    """Spike mode on or off: the campaign's share link (buttons, QR code, poster, emails, link previews) points
    at the light sign page ``/s/<slug>`` (plain HTML, no websocket) or at the full campaign page (audited)."""
    campaign = session.get(Campaign, campaign_id, with_for_update=True)
    if campaign is None:
        raise CampaignNotFound(str(campaign_id))
    if campaign.light_share_link != on:
        campaign.light_share_link = on
        campaign.updated_at = utcnow()
        session.add(campaign)
        session.flush()
        audit.record(session=session, actor=actor, action="campaign.spike_mode", campaign_id=campaign_id, on=on)
    return campaign
