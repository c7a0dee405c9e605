"""The organizers' side of proposals: the queue (what waits for a decision, paged; the rest behind a filter), and
the three decisions, each audited.

- **Publish**: the proposal becomes an ordinary campaign (``catalog.listing.create_campaign`` and
  ``catalog.lifecycle.publish_campaign``, so every campaign rule holds), the proposer and the co-sponsors who
  agreed credited on its page (``sponsoring.credits``); the proposer and each co-sponsor are emailed its link.
  Its purpose holds the proposal's purpose, what it asks and of whom, as plain text (the campaign page never
  renders it as markdown); organizers may edit it later.
- **Ask for changes**, with a message: the proposer edits through their link and it comes back to the queue.
- **Decline**, with a reason the proposer is emailed and, if the organizer chooses, shown publicly with the
  proposal's title (:func:`declined_publicly`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlmodel import Session, col

from campaigns.catalog import lifecycle, listing
from campaigns.core import audit
from campaigns.core.audit import Actor
from campaigns.core.errors import NotFound
from campaigns.core.models import (
    Campaign,
    CampaignCreate,
    Proposal,
    ProposalMessage,
    ProposalSponsor,
    ProposalStatus,
    utcnow,
)
from campaigns.core.validation import clean_text
from campaigns.proposals import drafting, mails
from campaigns.proposals.drafting import ProposalRefused, ThreadEntry
from campaigns.sharing import links

MESSAGE_MAX = 2000
DEFAULT_GOAL = 1000
# The queue's order: what waits for organizers first, then what waits for the proposer, then the rest.
QUEUE_ORDER = (
    ProposalStatus.in_review.value,
    ProposalStatus.changes_requested.value,
    ProposalStatus.gathering.value,
    ProposalStatus.published.value,
    ProposalStatus.declined.value,
    ProposalStatus.expired.value,
)
# What the queue shows unless asked for more: what waits for organizers, and what waits for the proposer.
WAITING = (ProposalStatus.in_review.value, ProposalStatus.changes_requested.value)
PAGE_SIZE = 20


@dataclass(frozen=True)
class QueueItem:
    """One proposal as organizers see it (the proposer's name and address, to know who asks)."""

    id: int
    text: drafting.ProposalText
    status: str
    proposer_name: str
    proposer_email: str
    confirmed: int
    needed: int
    created_at: datetime
    decline_reason: str | None
    decline_public: bool
    campaign_slug: str | None  # once published
    thread: list[ThreadEntry]


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue: its proposals, how many match the filter in all, and where this page is."""

    items: list[QueueItem]
    total: int
    page: int  # from 1
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def queue(
    *,
    session: Session,
    statuses: Sequence[str] = WAITING,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    now: datetime | None = None,
) -> QueuePage:
    """One page of confirmed proposals in ``statuses`` (by default what waits: in review, then changes requested;
    any of :data:`QUEUE_ORDER`), each status in that order, oldest first. Four queries whatever the page's size:
    the count, the page (with the campaign each became), their co-sponsor counts and their threads."""
    wanted = [s for s in statuses if s != ProposalStatus.unconfirmed.value]
    page_size = max(1, min(page_size, 100))
    where = col(Proposal.status).in_(wanted)
    total = int(session.execute(select(func.count()).select_from(Proposal).where(where)).scalar_one())
    page = max(1, min(page, -(-total // page_size)))
    rank = case({status: n for n, status in enumerate(QUEUE_ORDER)}, value=col(Proposal.status), else_=len(QUEUE_ORDER))
    rows = session.execute(
        select(Proposal, col(Campaign.slug))
        .outerjoin(Campaign, col(Campaign.id) == col(Proposal.campaign_id))
        .where(where)
        .order_by(rank, col(Proposal.created_at), col(Proposal.id))
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    ids = [int(p.id or 0) for p, _ in rows]
    confirmed = _confirmed_counts(session, ids)
    threads = _threads(session, ids)
    items = [
        QueueItem(
            id=int(p.id or 0),
            text=drafting.text_of(p),
            status=drafting.effective_status(p, now),
            proposer_name=p.proposer_name,
            proposer_email=p.proposer_email,
            confirmed=confirmed.get(int(p.id or 0), 0),
            needed=p.sponsors_needed,
            created_at=p.created_at,
            decline_reason=p.decline_reason,
            decline_public=p.decline_public,
            campaign_slug=slug,
            thread=threads.get(int(p.id or 0), []),
        )
        for p, slug in rows
    ]
    return QueuePage(items=items, total=total, page=page, page_size=page_size)


def _confirmed_counts(session: Session, ids: list[int]) -> dict[int, int]:
    """Confirmed co-sponsors of each of these proposals, in one query (``drafting.confirmed_count``'s rule)."""
    if not ids:
        return {}
    rows = session.execute(
        select(col(ProposalSponsor.proposal_id), func.count())
        .where(col(ProposalSponsor.proposal_id).in_(ids), col(ProposalSponsor.confirmed_at).is_not(None))
        .group_by(col(ProposalSponsor.proposal_id))
    ).all()
    return {int(pid): int(n) for pid, n in rows}


def _threads(session: Session, ids: list[int]) -> dict[int, list[ThreadEntry]]:
    """The thread of each of these proposals, in one query, as ``drafting.thread`` shows it to organizers."""
    threads: dict[int, list[ThreadEntry]] = {}
    if not ids:
        return threads
    messages = session.execute(
        select(ProposalMessage)
        .where(col(ProposalMessage.proposal_id).in_(ids))
        .order_by(col(ProposalMessage.proposal_id), col(ProposalMessage.at), col(ProposalMessage.id))
    ).scalars()
    for m in messages:
        threads.setdefault(m.proposal_id, []).append(drafting.thread_entry(m, proposer_label="Proposer"))
    return threads


def _decidable(session: Session, proposal_id: int, action: str) -> Proposal:
    proposal = session.get(Proposal, proposal_id, with_for_update=True)  # one decision at a time
    if proposal is None:
        raise NotFound("That proposal is gone. Reload the page.")
    if proposal.status != ProposalStatus.in_review.value:
        waiting = " (it is waiting for the proposer's changes)" if proposal.status == "changes_requested" else ""
        raise ProposalRefused(
            f"This proposal is {proposal.status.replace('_', ' ')}{waiting}, so you can't {action} it now: "
            "only proposals in review can be decided."
        )
    return proposal


def _message(raw: str, field: str) -> str:
    return clean_text(raw or "", field=field, limit=MESSAGE_MAX, required=True, newlines=True)


def ask_changes(*, session: Session, proposal_id: int, message: str, actor: Actor, now: datetime | None = None) -> None:
    """Back to the proposer with a message (kept in the thread, and emailed to them)."""
    now = now or utcnow()
    body = _message(message, "message")
    proposal = _decidable(session, proposal_id, "ask for changes to")
    proposal.status = ProposalStatus.changes_requested.value
    proposal.updated_at = now
    session.add(proposal)
    drafting.add_message(
        session=session, proposal_id=proposal_id, author=actor.email, from_organizer=True, body=body, now=now
    )
    mails.to_proposer(
        session=session,
        proposal=proposal,
        kind="proposal-changes",
        subject="Changes asked for your proposal",
        body=(
            f"The organizers ask for changes to “{proposal.title}”:\n\n{body}\n\n"
            "Open your own link (in the first email we sent you) to edit the proposal and answer them."
        ),
        now=now,
    )
    audit.record(session=session, actor=actor, action="proposal.ask_changes", at=now, proposal_id=proposal_id)


def decline(
    *, session: Session, proposal_id: int, reason: str, public: bool, actor: Actor, now: datetime | None = None
) -> None:
    """Declined, with a reason the proposer sees and, when ``public``, everyone (title, reason, date)."""
    now = now or utcnow()
    text = _message(reason, "reason")
    proposal = _decidable(session, proposal_id, "decline")
    proposal.status = ProposalStatus.declined.value
    proposal.decline_reason, proposal.decline_public = text, public
    proposal.updated_at = proposal.decided_at = now
    session.add(proposal)
    drafting.add_message(
        session=session, proposal_id=proposal_id, author=actor.email, from_organizer=True, body=text, now=now
    )
    shown = (
        "It is listed publicly, with this reason, among declined proposals." if public else "It is not shown publicly."
    )
    mails.to_proposer(
        session=session,
        proposal=proposal,
        kind="proposal-declined",
        subject="Your proposal was declined",
        body=f"The organizers decided not to run “{proposal.title}”. Their reason:\n\n{text}\n\n{shown}",
        now=now,
    )
    audit.record(
        session=session, actor=actor, action="proposal.decline", at=now, proposal_id=proposal_id, public=public
    )


def _one_paragraph(text: str) -> str:
    """Blank lines dropped: the campaign page shows its purpose as one (bold) paragraph, line breaks kept."""
    return re.sub(r"\n\s*\n+", "\n", text.strip())


def publish(
    *, session: Session, proposal_id: int, actor: Actor, goal: int = DEFAULT_GOAL, now: datetime | None = None
) -> Campaign:
    """The proposal becomes an ordinary published campaign (every campaign rule checked), its proposer told."""
    now = now or utcnow()
    proposal = _decidable(session, proposal_id, "publish")
    purpose = "\n".join(
        _one_paragraph(part)
        for part in (proposal.purpose, f"What we ask: {proposal.ask}", f"Of whom: {proposal.target}")
    )
    campaign = listing.create_campaign(
        session=session,
        campaign_create=CampaignCreate(
            slug=lifecycle.suggest_slug(session=session, title=proposal.title),
            title=proposal.title,
            purpose=purpose,
            body="",
            goal=goal,
            region_scheme=proposal.region_scheme,
        ),
        now=now,
        actor=actor,
    )
    campaign_id = int(campaign.id or 0)
    campaign = lifecycle.publish_campaign(session=session, campaign_id=campaign_id, now=now, actor=actor)
    proposal.status = ProposalStatus.published.value
    proposal.campaign_id = campaign_id
    proposal.updated_at = proposal.decided_at = now
    session.add(proposal)
    session.flush()
    mails.to_proposer(
        session=session,
        proposal=proposal,
        kind="proposal-published",
        subject="Your proposal is a campaign now",
        body=(
            f"The organizers published “{proposal.title}”: it is a campaign now, taking signatures at\n\n"
            f"{links.share_url(campaign.slug, light=campaign.light_share_link)}\n\nShare it: thank you for starting it."
        ),
        now=now,
    )
    _tell_sponsors(session, proposal, links.share_url(campaign.slug, light=campaign.light_share_link), now)
    audit.record(
        session=session,
        actor=actor,
        action="proposal.publish",
        campaign_id=campaign_id,
        at=now,
        proposal_id=proposal_id,
    )
    return campaign


def _tell_sponsors(session: Session, proposal: Proposal, url: str, now: datetime) -> None:
    """Each confirmed co-sponsor hears that the proposal they backed is a campaign now (one email each)."""
    rows = session.execute(
        select(ProposalSponsor).where(
            col(ProposalSponsor.proposal_id) == proposal.id,
            col(ProposalSponsor.confirmed_at).is_not(None),
            col(ProposalSponsor.email) != "",  # erased: no address left
        )
    ).scalars()
    for sponsor in rows:
        mails.queue(
            session=session,
            kind="proposal-published",
            to=sponsor.email,
            name=sponsor.full_name,
            canonical=sponsor.email_canonical,
            subject=f"The proposal you co-sponsored is a campaign now: {proposal.title}",
            body=(
                f"Hello {sponsor.full_name},\n\nThe organizers published “{proposal.title}”, which you "
                f"co-sponsored: it is a campaign now, taking signatures at\n\n{url}\n\n"
                "Co-sponsoring is not signing: sign it there to count, and share it."
            ),
            key=f"proposal-published:{proposal.id}:sponsor:{sponsor.id}",
            now=now,
        )


@dataclass(frozen=True)
class DeclinedProposal:
    """What the public list of declined proposals shows: only what the organizer chose to publish."""

    title: str
    reason: str
    declined_at: datetime


def declined_publicly(*, session: Session, limit: int = 200) -> list[DeclinedProposal]:
    rows = session.execute(
        select(col(Proposal.title), col(Proposal.decline_reason), col(Proposal.decided_at))
        .where(col(Proposal.status) == ProposalStatus.declined.value, col(Proposal.decline_public).is_(True))
        .order_by(col(Proposal.decided_at).desc(), col(Proposal.id).desc())
        .limit(limit)
    ).all()
    return [DeclinedProposal(r.title, r.decline_reason or "", r.decided_at) for r in rows]
