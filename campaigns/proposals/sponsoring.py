"""Co-sponsoring a proposal: the share link's form, the emailed confirmation, and the credits on the campaign.

**One mailbox, one co-sponsor.** Offers go in with ``INSERT ... ON CONFLICT DO NOTHING`` on the unique (proposal,
canonical email): case, Gmail dots and ``+tags`` are one mailbox. The proposer's own mailbox never counts. The
screen says the same to everyone (it never tells whether an address sponsors, or is the proposer's); the owner
of a refused address is emailed why, at most once a day. A pending co-sponsor offering again gets a fresh link
(at most every ``confirmation.RESEND_MINUTES``, ``confirmation.MAX_SENDS`` times), as signers do.

**Limits**: each new offer emails the address typed, so a proposal takes at most
``RALLY_PROPOSAL_OFFERS_PER_HOUR`` new offers an hour, and one client address (``drafting.limited_address``) makes
at most :data:`OFFERS_PER_ADDRESS_PER_HOUR` an hour over every proposal. Both are checked before anything about the
mailbox typed, so the refusal (:class:`TooManyOffers`) is the same whatever the address; offers to one proposal
take turns (its row locked), and so do offers from one client address, so the limits hold under any concurrency.

**The link** works once, for ``RALLY_CONFIRM_LINK_DAYS``, until the proposal is decided or expires (a link sent
while it gathered still counts once it is in review). Confirming locks
the proposal row first, so of two co-sponsors confirming at once the second sees the first: the one that makes
``RALLY_PROPOSAL_COSPONSORS`` moves the proposal to the organizers' queue, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select, update
from sqlmodel import Session, col

from campaigns.core.db import dialect_insert
from campaigns.core.errors import NotFound, RallyError
from campaigns.core.models import Proposal, ProposalSponsor, ProposalStatus, utcnow
from campaigns.core.settings import get_settings
from campaigns.core.tokens import hash_token, new_token
from campaigns.core.validation import clean_email, clean_name
from campaigns.proposals import mails
from campaigns.proposals.drafting import ProposalText, confirmed_count, effective_status, limited_address, text_of
from campaigns.signatures.confirmation import MAX_SENDS, RESEND_MINUTES

_S = ProposalSponsor.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_P = Proposal.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it


OFFERS_PER_ADDRESS_PER_HOUR = 10  # new co-sponsor offers from one client address in an hour, over every proposal

# A link sent while the proposal gathered still counts once it is in review (more co-sponsors, never a second move).
CONFIRMABLE = (ProposalStatus.gathering.value, ProposalStatus.in_review.value, ProposalStatus.changes_requested.value)


class SponsorLinkRefused(RallyError):
    """A co-sponsor's link that is unknown, used, expired, or for a proposal no longer gathering co-sponsors."""


class AlreadySponsoring(SponsorLinkRefused):
    """The link was used before: this co-sponsor counts already."""


class NotGathering(RallyError):
    """The proposal takes no co-sponsors now (not confirmed yet, in review, decided or expired)."""


class TooManyOffers(RallyError):
    """The proposal took its offers for the hour, or the client address made its own: the same reply whatever the
    mailbox typed."""


@dataclass(frozen=True)
class SponsorPage:
    """What the share link shows: the proposal's text and progress (no name, no address)."""

    public_id: str
    text: ProposalText
    open: bool
    confirmed: int
    needed: int
    closed_reason: str | None  # why it takes no co-sponsors now (None while open)


def _find(session: Session, public_id: str, *, lock: bool = False) -> Proposal:
    stmt = select(Proposal).where(col(Proposal.public_id) == (public_id or "")[:64])
    found = session.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
    if found is None or found.status == ProposalStatus.unconfirmed.value:
        raise NotFound("We couldn't find a proposal at this link. Check that the whole link was copied.")
    return found


def closed_message(status: str) -> str:
    reviewing = "This proposal has all its co-sponsors: the organizers are reviewing it."
    return {
        ProposalStatus.in_review.value: reviewing,
        ProposalStatus.changes_requested.value: reviewing,
        ProposalStatus.published.value: "This proposal is a campaign now: sign it from the campaign list.",
        ProposalStatus.declined.value: "The organizers decided not to run this proposal.",
        ProposalStatus.expired.value: "This proposal did not find its co-sponsors in time, so it has expired.",
    }.get(status, "This proposal takes no co-sponsors now.")


def sponsor_page(*, session: Session, public_id: str, now: datetime | None = None) -> SponsorPage:
    proposal = _find(session, public_id)
    status = effective_status(proposal, now)
    return SponsorPage(
        public_id=proposal.public_id,
        text=text_of(proposal),
        open=status == ProposalStatus.gathering.value,
        confirmed=confirmed_count(session=session, proposal_id=int(proposal.id or 0)),
        needed=proposal.sponsors_needed,
        closed_reason=None if status == ProposalStatus.gathering.value else closed_message(status),
    )


def offer(
    *,
    session: Session,
    public_id: str,
    full_name: str,
    email: str,
    credit: bool,
    client_address: str | None = None,
    now: datetime | None = None,
) -> None:
    """Offer to co-sponsor: a confirmation link is emailed (or, for an address that cannot count, why not).
    ``client_address``: where the request came from (``campaigns.core.client_address``), for the per-address limit.
    TooManyOffers past a limit (see the module's docstring)."""
    now = now or utcnow()
    name = clean_name(full_name)
    address, canonical = clean_email(email)
    limited = limited_address(session, client_address, "cosponsor-address")
    proposal = _find(session, public_id, lock=True)  # offers to one proposal take turns: the hourly cap holds
    status = effective_status(proposal, now)
    if status != ProposalStatus.gathering.value:
        raise NotGathering(closed_message(status))
    pid = int(proposal.id or 0)
    _check_limits(session, pid, limited, now)
    if canonical == proposal.proposer_canonical:
        reason = "You proposed it, so you can't co-sponsor it too: co-sponsors are other people."
        mails.queue_not_counted(
            session=session,
            proposal_id=pid,
            to=address,
            canonical=canonical,
            title=proposal.title,
            reason=reason,
            now=now,
        )
        return
    token = new_token()
    link = _fresh_link(token, now)
    inserted = session.execute(
        dialect_insert(session, _S)
        .values(
            proposal_id=pid,
            full_name=name,
            email=address,
            email_canonical=canonical,
            credit=credit,
            client_address=(client_address or "")[:64] or None,
            created_at=now,
            **link,
        )
        .on_conflict_do_nothing(index_elements=["proposal_id", "email_canonical"])
        .returning(_S.c.id)
    ).first()
    if inserted is not None:
        mails.queue_sponsor_link(
            session=session,
            sponsor_id=inserted.id,
            to=address,
            name=name,
            canonical=canonical,
            title=proposal.title,
            token=token,
            now=now,
        )
        return
    _answer_repeat(session, proposal, canonical, now)


def _recent(session: Session, where: ColumnElement[bool], now: datetime, limit: int) -> int:
    """New offers matching ``where`` in the last hour, counted up to ``limit`` (index rows only)."""
    recent = select(_S.c.id).where(where, _S.c.created_at > now - timedelta(hours=1)).limit(limit).subquery()
    return int(session.execute(select(func.count()).select_from(recent)).scalar_one())


def _check_limits(session: Session, proposal_id: int, address: str | None, now: datetime) -> None:
    per_hour = get_settings().proposal_offers_per_hour
    if _recent(session, _S.c.proposal_id == proposal_id, now, per_hour) >= per_hour:
        raise TooManyOffers(
            f"This proposal has taken {per_hour} co-sponsor offers in the last hour, the most it takes in an hour. "
            "Please try again in an hour."
        )
    if address is not None:
        if _recent(session, _S.c.client_address == address, now, OFFERS_PER_ADDRESS_PER_HOUR) >= (
            OFFERS_PER_ADDRESS_PER_HOUR
        ):
            raise TooManyOffers(
                "Many co-sponsor offers came from your network in the last hour, the most we take from one. "
                "Please try again in an hour."
            )


def _fresh_link(token: str, now: datetime) -> dict[str, object]:
    return {
        "confirm_hash": hash_token(token),
        "confirm_sent_at": now,
        "confirm_expires_at": now + timedelta(days=get_settings().confirm_link_days),
        "confirm_sends": 1,
    }


def _answer_repeat(session: Session, proposal: Proposal, canonical: str, now: datetime) -> None:
    """The address offered before: a pending one gets a fresh link (rate-limited), a confirmed one an email."""
    row = session.execute(
        select(_S).where(_S.c.proposal_id == proposal.id, _S.c.email_canonical == canonical).with_for_update()
    ).first()
    if row is None:
        return
    if row.confirmed_at is not None:
        reason = "You co-sponsor it already, and each mailbox counts once."
        mails.queue_not_counted(
            session=session,
            proposal_id=int(proposal.id or 0),
            to=row.email,
            canonical=canonical,
            title=proposal.title,
            reason=reason,
            now=now,
        )
        return
    if row.confirm_sends >= MAX_SENDS or now - row.confirm_sent_at < timedelta(minutes=RESEND_MINUTES):
        return  # rate-limited: the newest link they have still works
    token = new_token()
    session.execute(
        update(_S)
        .where(_S.c.id == row.id)
        .values(**{**_fresh_link(token, now), "confirm_sends": row.confirm_sends + 1})
    )
    mails.queue_sponsor_link(
        session=session,
        sponsor_id=row.id,
        to=row.email,
        name=row.full_name,
        canonical=canonical,
        title=proposal.title,
        token=token,
        now=now,
    )


@dataclass(frozen=True)
class SponsorConfirmed:
    title: str
    confirmed: int
    needed: int
    in_review: bool  # this confirmation moved the proposal to the organizers' queue


def confirm(*, session: Session, token: str, now: datetime | None = None) -> SponsorConfirmed:
    """Use a co-sponsor's link once; the co-sponsor who completes the count moves the proposal to review, once."""
    now = now or utcnow()
    digest = hash_token(token)
    row = session.execute(
        select(_S.c.id, _S.c.proposal_id, _S.c.confirmed_at, _S.c.confirm_expires_at).where(_S.c.confirm_hash == digest)
    ).first()
    if row is None:
        raise SponsorLinkRefused(
            "This co-sponsor link isn't valid: a newer one may have replaced it (use the newest email), or it was "
            "cut short when copied."
        )
    proposal = session.get(Proposal, row.proposal_id, with_for_update=True)  # one confirmation at a time per proposal
    assert proposal is not None
    claimed = (
        session.execute(
            update(_S)
            .where(_S.c.id == row.id, _S.c.confirmed_at.is_(None), _S.c.confirm_expires_at > now)
            .values(confirmed_at=now)
            .returning(_S.c.id)
        ).first()
        if effective_status(proposal, now) in CONFIRMABLE
        else None
    )
    if claimed is None:
        if row.confirmed_at is not None:
            raise AlreadySponsoring(f"You co-sponsor “{proposal.title}” already, and you count once. Thank you!")
        status = effective_status(proposal, now)
        if status not in CONFIRMABLE:
            raise SponsorLinkRefused(closed_message(status))
        days = get_settings().confirm_link_days
        raise SponsorLinkRefused(f"This link has expired: links work for {days} days. Offer again for a new one.")
    pid = int(proposal.id or 0)
    confirmed = confirmed_count(session=session, proposal_id=pid)
    moved = False
    if confirmed >= proposal.sponsors_needed:
        moved = (
            session.execute(
                update(_P)
                .where(_P.c.id == pid, _P.c.status == ProposalStatus.gathering.value)
                .values(status=ProposalStatus.in_review.value, updated_at=now)
                .returning(_P.c.id)
            ).first()
            is not None
        )
        if moved:
            session.refresh(proposal)
            mails.to_proposer(
                session=session,
                proposal=proposal,
                kind="proposal-review",
                subject="Your proposal is in review",
                body=(
                    f"“{proposal.title}” has its {proposal.sponsors_needed} co-sponsors: it is now with the "
                    "organizers, who will publish it, ask you for changes, or explain why not. Follow it through "
                    "your own link (in the first email we sent you)."
                ),
                now=now,
            )
    return SponsorConfirmed(title=proposal.title, confirmed=confirmed, needed=proposal.sponsors_needed, in_review=moved)


def credits(*, session: Session, campaign_id: int) -> list[str] | None:
    """Who the campaign page names for a campaign members proposed (None: organizers started it): the proposer
    first ("a member" when they did not agree to be named), then each co-sponsor who agreed, in the order they
    confirmed."""
    proposal = session.execute(select(Proposal).where(col(Proposal.campaign_id) == campaign_id)).scalar_one_or_none()
    if proposal is None:
        return None
    names = session.execute(
        select(_S.c.full_name)
        .where(_S.c.proposal_id == proposal.id, _S.c.confirmed_at.is_not(None), _S.c.credit.is_(True))
        .order_by(_S.c.confirmed_at, _S.c.id)
    ).scalars()
    return [proposal.proposer_name if proposal.proposer_credit else "a member", *names]
