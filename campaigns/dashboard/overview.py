"""The organizers' overview: every campaign that is not archived, with its numbers and milestones.

One query per concern (campaigns, totals, last 24 hours, pending comments), whatever the
number of campaigns. The last 24 hours are the dashboard's (``counts.count_last_24_hours``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session, col

from campaigns.catalog import listing
from campaigns.catalog.listing import goal_share
from campaigns.core.models import Campaign, CampaignStatus, CommentStatus, Signature, utcnow
from campaigns.signatures.counts import count_last_24_hours, count_totals

MILESTONES = (25, 50, 75, 100)


def milestone_signatures(percent: int, goal: int) -> int:
    """The signatures that reach ``percent`` of ``goal``: a ceiling, in integers (25% of 10 is 3; of 12, exactly 3)."""
    return -(-percent * goal // 100)


def milestone_reached(total: int, goal: int) -> int | None:
    """The highest milestone (percent of the goal) reached; None below the first."""
    if goal <= 0:
        return None
    reached = [m for m in MILESTONES if total >= milestone_signatures(m, goal)]
    return reached[-1] if reached else None


@dataclass(frozen=True)
class CampaignOverviewRow:
    campaign_id: int
    slug: str
    title: str
    status: str  # effective: a published campaign past its deadline shows "closed"
    total: int
    goal: int
    last_24h: int
    milestone: int | None
    deadline: datetime | None
    pending_comments: int

    @property
    def progress(self) -> float:
        """Share of the goal reached, 0..1 (a progress bar's value; see ``milestone`` beyond it)."""
        return goal_share(self.total, self.goal)


def _pending_comment_counts(session: Session, ids: list[int]) -> dict[int, int]:
    rows = session.execute(
        select(col(Signature.campaign_id), func.count())
        .where(
            col(Signature.campaign_id).in_(ids),
            col(Signature.comment_status) == CommentStatus.pending.value,
            col(Signature.comment).is_not(None),
        )
        .group_by(col(Signature.campaign_id))
    ).all()
    return {cid: int(n) for cid, n in rows}


def read_overview(*, session: Session, now: datetime | None = None) -> list[CampaignOverviewRow]:
    """Every campaign but archived ones (drafts included), newest first."""
    now = now or utcnow()
    campaigns = (
        session.execute(
            select(Campaign)
            .where(col(Campaign.status) != CampaignStatus.archived.value)
            .order_by(col(Campaign.created_at).desc(), col(Campaign.id).desc())
        )
        .scalars()
        .all()
    )
    ids = [c.id for c in campaigns if c.id is not None]
    if not ids:
        return []
    totals = count_totals(session=session, campaign_ids=ids)
    recent = count_last_24_hours(session=session, campaign_ids=ids, now=now)
    pending = _pending_comment_counts(session, ids)
    rows = []
    for c in campaigns:
        assert c.id is not None
        total = totals.get(c.id, 0)
        rows.append(
            CampaignOverviewRow(
                campaign_id=c.id,
                slug=c.slug,
                title=c.title,
                status=listing.effective_status(c, now),
                total=total,
                goal=c.goal,
                last_24h=recent.get(c.id, 0),
                milestone=milestone_reached(total, c.goal),
                deadline=c.deadline,
                pending_comments=pending.get(c.id, 0),
            )
        )
    return rows
