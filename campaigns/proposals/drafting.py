"""Proposing a campaign, and the proposer's own link: confirming their address, progress, the thread, edits.

Anyone may propose from the public pages. Nothing can be co-sponsored until the proposer opens the link emailed
to them (:func:`confirm_own`): it proves the mailbox, moves the proposal to *gathering*, and stays their way back
to it (only its SHA-256 is stored). The text is plain text: hostile markdown or HTML is kept and shown as typed.
A proposal has ``RALLY_PROPOSAL_DAYS`` from the day it was made to find its co-sponsors (``expiry``). One mailbox
proposes at most :data:`PER_MAILBOX_PER_DAY` campaigns in 24 hours (each proposal emails the address typed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from campaigns.core.errors import InvalidInput, NotFound, RallyError
from campaigns.core.models import Campaign, Proposal, ProposalMessage, ProposalSponsor, ProposalStatus, utcnow
from campaigns.core.settings import get_settings
from campaigns.core.tokens import hash_token, new_token
from campaigns.core.validation import clean_email, clean_name, clean_text
from campaigns.proposals import mails
from campaigns.proposals.expiry import GATHERING
from campaigns.regions.lookup import resolve_scheme

TITLE_MAX = 200
PURPOSE_MAX = 1000
ASK_MAX = 600
TARGET_MAX = 200  # all four fit a campaign's purpose (2,000 characters) once published
NOTE_MAX = 2000
PER_MAILBOX_PER_DAY = 3  # proposals from one mailbox in 24 hours: each emails that address, so it is bounded

_P = Proposal.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it


class ProposalNotFound(NotFound):
    """A proposal link that names no proposal (mistyped, cut short, or the proposal is gone)."""

    def __init__(self) -> None:
        super().__init__(
            "We couldn't find a proposal at this link. Check that the whole link was copied from the email."
        )


class ProposalRefused(RallyError):
    """What the proposal's status does not allow now; the message says what is possible."""


@dataclass(frozen=True)
class ProposalText:
    """What a proposal says: title, purpose, what it asks and of whom, and the regions signers give."""

    title: str
    purpose: str
    ask: str
    target: str
    region_scheme: str


@dataclass(frozen=True)
class ProposerInput:
    full_name: str
    email: str
    credit: bool  # the proposer agrees to be named on the campaign page


def clean_proposal(*, session: Session, text: ProposalText) -> ProposalText:
    """The text checked field by field (InvalidInput naming every field that is wrong)."""
    errors: dict[str, str] = {}
    cleaned: dict[str, str] = {}
    for field, limit, newlines in (
        ("title", TITLE_MAX, False),
        ("purpose", PURPOSE_MAX, True),
        ("ask", ASK_MAX, True),
        ("target", TARGET_MAX, False),
    ):
        try:
            cleaned[field] = clean_text(
                getattr(text, field) or "", field=field, limit=limit, required=True, newlines=newlines
            )
        except InvalidInput as exc:
            errors.update(exc.errors)
    try:
        resolve_scheme(session=session, scheme_id=text.region_scheme)
    except RallyError as exc:
        errors["region_scheme"] = exc.user_message
    if errors:
        raise InvalidInput(errors)
    return ProposalText(**cleaned, region_scheme=text.region_scheme)


def propose(*, session: Session, text: ProposalText, proposer: ProposerInput, now: datetime | None = None) -> int:
    """A new proposal, unconfirmed until its proposer opens the emailed link (queued here). Returns its id."""
    now = now or utcnow()
    settings = get_settings()
    errors: dict[str, str] = {}
    try:
        text = clean_proposal(session=session, text=text)
    except InvalidInput as exc:
        errors.update(exc.errors)
    try:
        name = clean_name(proposer.full_name)
    except InvalidInput as exc:
        errors.update(exc.errors)
    try:
        email, canonical = clean_email(proposer.email)
    except InvalidInput as exc:
        errors.update(exc.errors)
    if not errors and _recent_from(session, canonical, now) >= PER_MAILBOX_PER_DAY:
        errors["email"] = (
            f"This address has proposed {PER_MAILBOX_PER_DAY} campaigns in the last 24 hours, the most we take. "
            "Please wait a day, or ask the organizers."
        )
    if errors:
        raise InvalidInput(errors)
    token = new_token()
    proposal = Proposal(
        public_id=new_token(),
        manage_hash=hash_token(token),
        title=text.title,
        purpose=text.purpose,
        ask=text.ask,
        target=text.target,
        region_scheme=text.region_scheme,
        proposer_name=name,
        proposer_email=email,
        proposer_canonical=canonical,
        proposer_credit=proposer.credit,
        sponsors_needed=settings.proposal_cosponsors,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(days=settings.proposal_days),
    )
    session.add(proposal)
    session.flush()
    mails.queue_own_link(session=session, proposal=proposal, token=token, now=now)
    return int(proposal.id or 0)


def _recent_from(session: Session, canonical: str, now: datetime) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(Proposal)
            .where(col(Proposal.proposer_canonical) == canonical, col(Proposal.created_at) > now - timedelta(days=1))
        ).scalar_one()
    )


def effective_status(proposal: Proposal, now: datetime | None = None) -> str:
    """The status people see: a proposal still gathering past its time shows as expired before upkeep runs."""
    if proposal.status in GATHERING and proposal.expires_at <= (now or utcnow()):
        return ProposalStatus.expired.value
    return proposal.status


def by_own_token(*, session: Session, token: str, lock: bool = False) -> Proposal:
    stmt = select(Proposal).where(col(Proposal.manage_hash) == hash_token(token))
    found = session.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
    if found is None:
        raise ProposalNotFound()
    return found


def confirm_own(*, session: Session, token: str, now: datetime | None = None) -> None:
    """The proposer opened their link: an unconfirmed proposal (still in time) starts gathering co-sponsors.
    Opening it again changes nothing."""
    now = now or utcnow()
    digest = hash_token(token)
    session.execute(
        update(_P)
        .where(_P.c.manage_hash == digest, _P.c.status == ProposalStatus.unconfirmed.value, _P.c.expires_at > now)
        .values(status=ProposalStatus.gathering.value, confirmed_at=now, updated_at=now)
    )
    by_own_token(session=session, token=token)  # an unknown link says so


@dataclass(frozen=True)
class ThreadEntry:
    author: str  # "Organizers" or "You" (the proposer)
    from_organizer: bool
    body: str
    at: datetime


@dataclass(frozen=True)
class OwnView:
    """What the proposer's own link shows: their proposal, its progress, the share link and the thread."""

    text: ProposalText
    status: str
    confirmed: int
    needed: int
    share_url: str
    expires_at: datetime
    decline_reason: str | None
    campaign_slug: str | None  # once published: the campaign it became
    thread: list[ThreadEntry]

    @property
    def progress(self) -> str:
        return f"{min(self.confirmed, self.needed)} of {self.needed} co-sponsors"

    @property
    def can_edit(self) -> bool:
        return self.status == ProposalStatus.changes_requested.value


def confirmed_count(*, session: Session, proposal_id: int) -> int:
    """Co-sponsors who confirmed: distinct mailboxes by the unique (proposal, canonical email) constraint."""
    return int(
        session.execute(
            select(func.count())
            .select_from(ProposalSponsor)
            .where(col(ProposalSponsor.proposal_id) == proposal_id, col(ProposalSponsor.confirmed_at).is_not(None))
        ).scalar_one()
    )


def thread(*, session: Session, proposal_id: int, proposer_label: str = "You") -> list[ThreadEntry]:
    rows = session.execute(
        select(ProposalMessage)
        .where(col(ProposalMessage.proposal_id) == proposal_id)
        .order_by(col(ProposalMessage.at), col(ProposalMessage.id))
    ).scalars()
    return [
        ThreadEntry("Organizers" if m.from_organizer else proposer_label, m.from_organizer, m.body, m.at) for m in rows
    ]


def text_of(proposal: Proposal) -> ProposalText:
    return ProposalText(proposal.title, proposal.purpose, proposal.ask, proposal.target, proposal.region_scheme)


def campaign_slug(*, session: Session, campaign_id: int | None) -> str | None:
    """The link name of the campaign a proposal became (None before it is published, or once it is deleted)."""
    campaign = session.get(Campaign, campaign_id) if campaign_id else None
    return campaign.slug if campaign else None


def own_view(*, session: Session, token: str, now: datetime | None = None) -> OwnView:
    proposal = by_own_token(session=session, token=token)
    pid = int(proposal.id or 0)
    return OwnView(
        text=text_of(proposal),
        status=effective_status(proposal, now),
        confirmed=confirmed_count(session=session, proposal_id=pid),
        needed=proposal.sponsors_needed,
        share_url=mails.sponsor_url(proposal.public_id),
        expires_at=proposal.expires_at,
        decline_reason=proposal.decline_reason,
        campaign_slug=campaign_slug(session=session, campaign_id=proposal.campaign_id),
        thread=thread(session=session, proposal_id=pid),
    )


def add_message(
    *, session: Session, proposal_id: int, author: str, from_organizer: bool, body: str, now: datetime
) -> None:
    session.add(
        ProposalMessage(proposal_id=proposal_id, author=author, from_organizer=from_organizer, body=body, at=now)
    )
    session.flush()


def edit(*, session: Session, token: str, text: ProposalText, note: str = "", now: datetime | None = None) -> None:
    """The proposer's changes, asked for by the organizers: saved, with their note in the thread, and the
    proposal goes back to the organizers' queue."""
    now = now or utcnow()
    proposal = by_own_token(session=session, token=token, lock=True)
    if proposal.status != ProposalStatus.changes_requested.value:
        raise ProposalRefused(
            "Your proposal can be edited only when the organizers ask for changes; it is "
            f"{proposal.status.replace('_', ' ')} now."
        )
    cleaned = clean_proposal(session=session, text=text)
    message = clean_text(note or "", field="note", limit=NOTE_MAX, newlines=True) or "I edited the proposal."
    proposal.title, proposal.purpose, proposal.ask = cleaned.title, cleaned.purpose, cleaned.ask
    proposal.target, proposal.region_scheme = cleaned.target, cleaned.region_scheme
    proposal.status = ProposalStatus.in_review.value
    proposal.updated_at = now
    session.add(proposal)
    add_message(
        session=session,
        proposal_id=int(proposal.id or 0),
        author="proposer",
        from_organizer=False,
        body=message,
        now=now,
    )
