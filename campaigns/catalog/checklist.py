"""A new campaign's next steps, and which are done: its details, targets, letter, a look at the preview, publishing.

What the editor shows at the top of a draft, so that an organizer who has just pressed "Create draft" knows
what is left. Each step's state is read from what is stored: the campaign row, its targets, and the audit
log (the organizer says "the preview looks right", ``mark_previewed``; an edit of the text or the letter made
since undoes that, a status change does not).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session, col

from campaigns.core import audit
from campaigns.core.audit import Actor
from campaigns.core.errors import CampaignNotFound
from campaigns.core.models import AuditEntry, Campaign, CampaignStatus, Target, utcnow

PREVIEWED = "campaign.previewed"  # the audit action "the preview looks right"
CONTENT_CHANGES = ("campaign.update", "campaign.letter")  # what changes the preview (a status change does not)


@dataclass(frozen=True)
class Step:
    key: str  # "details", "targets", "letter", "preview", "publish"
    label: str
    done: bool
    detail: str  # what is there, or what to do and where
    optional: bool = False  # a campaign may go without it (a petition needs no letter)


@dataclass(frozen=True)
class Checklist:
    steps: tuple[Step, ...]

    @property
    def done(self) -> int:
        return sum(step.done for step in self.steps)

    @property
    def complete(self) -> bool:
        """Every step that is not optional is done."""
        return all(step.done for step in self.steps if not step.optional)


def _campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignNotFound(str(campaign_id))
    return campaign


def _last_times(session: Session, campaign_id: int) -> dict[str, datetime]:
    """When the preview was last checked, and when what it shows last changed (audit actions -> latest time)."""
    stmt = (
        select(col(AuditEntry.action), func.max(col(AuditEntry.at)))
        .where(col(AuditEntry.campaign_id) == campaign_id, col(AuditEntry.action).in_([PREVIEWED, *CONTENT_CHANGES]))
        .group_by(col(AuditEntry.action))
    )
    return {action: at for action, at in session.execute(stmt).all()}


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def read_checklist(*, session: Session, campaign_id: int) -> Checklist:
    """The campaign's next steps with their state, in the order an organizer takes them."""
    campaign = _campaign(session, campaign_id)
    targets = int(session.execute(select(func.count()).where(col(Target.campaign_id) == campaign_id)).scalar_one())
    has_letter = bool(campaign.letter_template)
    times = _last_times(session, campaign_id)
    previewed = times.get(PREVIEWED)
    changed = max([campaign.created_at, *(times[a] for a in CONTENT_CHANGES if a in times)])
    fresh = previewed is not None and previewed >= changed
    published = campaign.published_at is not None or campaign.status != CampaignStatus.draft.value
    if fresh:
        preview = "You checked the preview since the last change."
    elif previewed is not None:
        preview = "Changed since you last checked it: look at the Preview tab again."  # the text or the letter
    else:
        preview = "Look at the Preview tab (exactly what supporters will see), then press “The preview looks right”."
    steps = (
        Step("details", "Details", True, "Title, purpose, text, goal and regions are saved."),
        Step(
            "targets",
            "Targets",
            targets > 0,
            f"{_plural(targets, 'target')} to write to."
            if targets
            else "Upload the people letters go to (Targets tab).",
            optional=True,
        ),
        Step(
            "letter",
            "Letter",
            has_letter,
            "The letter is saved." if has_letter else "Write the letter signers send (Letter tab).",
            optional=True,
        ),
        Step("preview", "Preview", fresh, preview),
        Step(
            "publish",
            "Publish",
            published,
            "Published: it is public at its share link." if published else "Publish it (Status tab) to open it.",
        ),
    )
    return Checklist(steps)


def mark_previewed(*, session: Session, campaign_id: int, actor: Actor, now: datetime | None = None) -> None:
    """The organizer has looked at the preview and it looks right (written to the audit log)."""
    campaign = _campaign(session, campaign_id)
    audit.record(session=session, actor=actor, action=PREVIEWED, campaign_id=campaign.id, at=now or utcnow())
