"""What came of a campaign: its outcome (won, partly won, lost, ongoing) with the organizer's note, set and
audited here; what its page shows of the outcome and the target's responses; the victories the home page lists;
and the response threshold ("the target is expected to answer at 10,000 signatures") with progress toward it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session, col

from campaigns.catalog.listing import get_campaign_by_slug, get_public_campaign, public_campaigns
from campaigns.core import audit
from campaigns.core.audit import Actor
from campaigns.core.errors import CampaignNotFound, InvalidInput
from campaigns.core.models import Campaign, CampaignOutcome, utcnow
from campaigns.core.validation import clean_text
from campaigns.outcomes.responses import PublicResponse, escape_markdown, fit_subject, list_responses
from campaigns.signatures.counts import count_total, count_totals

NOTE_MAX = 2000
VICTORIES = (CampaignOutcome.won.value, CampaignOutcome.partly_won.value)
OUTCOME_LABELS = {
    CampaignOutcome.won.value: "Won",
    CampaignOutcome.partly_won.value: "Partly won",
    CampaignOutcome.lost.value: "Lost",
    CampaignOutcome.ongoing.value: "Ongoing",
}
_CHOICES = "Choose won, partly won, lost or ongoing."


@dataclass(frozen=True)
class PublicOutcome:
    """What a campaign's page shows of what came of it (plain values: safe to cache and share)."""

    outcome: str  # a CampaignOutcome value; "ongoing" when none was recorded
    note: str
    outcome_at: datetime | None
    responses: tuple[PublicResponse, ...]
    response_threshold: int | None
    total: int

    @property
    def is_victory(self) -> bool:
        return self.outcome in VICTORIES

    @property
    def threshold_reached(self) -> bool:
        return self.response_threshold is not None and self.total >= self.response_threshold


@dataclass(frozen=True)
class Victory:
    """A won or partly won campaign, as the home page lists it."""

    slug: str
    title: str
    outcome: str
    note: str
    outcome_at: datetime | None
    total: int


def outcome_of(campaign: Campaign) -> str:
    """The campaign's outcome as a CampaignOutcome value (NULL is ongoing)."""
    return campaign.outcome or CampaignOutcome.ongoing.value


def set_outcome(
    *, session: Session, campaign_id: int, outcome: str, note: str = "", actor: Actor, now: datetime | None = None
) -> Campaign:
    """Record what came of the campaign, with a note in plain text (both audited). ``ongoing`` clears the date;
    setting the same outcome again keeps its date and changes only the note."""
    now = now or utcnow()
    try:
        chosen = CampaignOutcome(outcome)
    except ValueError:
        raise InvalidInput({"outcome": _CHOICES}) from None
    cleaned = clean_text(note or "", field="note", limit=NOTE_MAX, newlines=True)
    campaign = session.get(Campaign, campaign_id, with_for_update=True)
    if campaign is None:
        raise CampaignNotFound(str(campaign_id))
    previous = outcome_of(campaign)
    if previous == chosen.value and (campaign.outcome_note or "") == cleaned:
        return campaign
    if chosen == CampaignOutcome.ongoing:
        campaign.outcome, campaign.outcome_at = None, None
    else:
        campaign.outcome = chosen.value
        campaign.outcome_at = campaign.outcome_at if previous == chosen.value else now
    campaign.outcome_note = cleaned or None
    campaign.updated_at = now
    session.add(campaign)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="campaign.outcome",
        campaign_id=campaign_id,
        at=now,
        previous=previous,
        outcome=chosen.value,
        note=bool(cleaned),
    )
    return campaign


def read_outcome(*, session: Session, slug: str, staff: bool = False) -> PublicOutcome:
    """The outcome, the responses and the threshold of the campaign at ``slug``: a public one (drafts and archived
    ones look not found), or with ``staff`` any (the organizer's preview)."""
    if staff:
        campaign = get_campaign_by_slug(session=session, slug=slug)
        if campaign is None:
            raise CampaignNotFound(slug)
    else:
        campaign = get_public_campaign(session=session, slug=slug)
    cid = campaign.id or 0
    return PublicOutcome(
        outcome=outcome_of(campaign),
        note=campaign.outcome_note or "",
        outcome_at=campaign.outcome_at,
        responses=tuple(list_responses(session=session, campaign_id=cid)),
        response_threshold=campaign.response_threshold,
        total=count_total(session=session, campaign_id=cid),
    )


def victories(*, session: Session, limit: int = 5) -> list[Victory]:
    """Public campaigns won or partly won, the newest victory first."""
    campaigns = (
        session.execute(
            select(Campaign)
            .where(public_campaigns(), col(Campaign.outcome).in_(VICTORIES))
            .order_by(col(Campaign.outcome_at).desc(), col(Campaign.id).desc())
            .limit(max(0, limit))
        )
        .scalars()
        .all()
    )
    totals = count_totals(session=session, campaign_ids=[c.id for c in campaigns if c.id is not None])
    return [
        Victory(
            slug=c.slug,
            title=c.title,
            outcome=outcome_of(c),
            note=c.outcome_note or "",
            outcome_at=c.outcome_at,
            total=totals.get(c.id or 0, 0),
        )
        for c in campaigns
    ]


def threshold_text(threshold: int, total: int) -> str:
    """ "The target is expected to answer at 10,000 signatures: 6,210 so far" (or that it has been reached)."""
    expected = f"The target is expected to answer at {threshold:,} signature{'s' if threshold != 1 else ''}"
    if total >= threshold:
        return f"{expected}: {total:,} have signed, so the answer is due."
    return f"{expected}: {total:,} so far."


_OUTCOME_SUBJECTS = {
    CampaignOutcome.won.value: "We won",
    CampaignOutcome.partly_won.value: "We won part of it",
    CampaignOutcome.lost.value: "The result",
    CampaignOutcome.ongoing.value: "An update",
}
_OUTCOME_LINES = {
    CampaignOutcome.won.value: "We won. Thank you: this happened because you and everyone else signed.",
    CampaignOutcome.partly_won.value: "We won part of what we asked for. Thank you for signing: it made a difference.",
    CampaignOutcome.lost.value: "This time we did not get what we asked for. Thank you for standing with us.",
    CampaignOutcome.ongoing.value: "The campaign goes on. Thank you for signing.",
}


def outcome_update(*, session: Session, campaign_id: int) -> tuple[str, str]:
    """The subject and markdown body of the update that tells signers what came of the campaign (for the updates
    part's ``draft_update``); the organizer's note is escaped (plain text)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignNotFound(str(campaign_id))
    outcome = outcome_of(campaign)
    subject = f"{_OUTCOME_SUBJECTS[outcome]}: {campaign.title}"
    body = [_OUTCOME_LINES[outcome]]
    if campaign.outcome_note:
        body += ["", escape_markdown(campaign.outcome_note)]
    return fit_subject(subject), "\n".join(body)
