"""Proposing a campaign, and the proposer's own link: confirming their address, progress, the thread, edits.

Anyone may propose from the public pages. Nothing can be co-sponsored until the proposer opens the link emailed
to them (:func:`confirm_own`): it proves the mailbox, moves the proposal to *gathering*, and stays their way back
to it (only its SHA-256 is stored). The text is plain text: hostile markdown or HTML is kept and shown as typed.
A proposal has ``RALLY_PROPOSAL_DAYS`` from the day it was made to find its co-sponsors (``expiry``).

**Limits** (each proposal emails the address typed, so nobody can make Rally mail whom they like): one mailbox
proposes at most :data:`PER_MAILBOX_PER_DAY` campaigns in 24 hours, one client address (``core.client_address``:
not loopback or unknown, not on signing's allowlist) at most :data:`PER_ADDRESS_PER_DAY`. Past the client
address's limit the form says so (:class:`TooManyProposals`: about where the request comes from, never about the
mailbox typed). Past the mailbox's, the screen says what it says to everyone, nothing is kept, and the mailbox's
owner is emailed why (at most once a day, without the text typed): a stranger learns nothing of a mailbox's
history. Each limit is counted under a lock (:func:`campaigns.core.locks.advisory_lock`), so it holds under any
concurrency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from campaigns.core.client_address import limits_apply
from campaigns.core.errors import InvalidInput, NotFound, RallyError
from campaigns.core.locks import advisory_lock
from campaigns.core.models import Campaign, Proposal, ProposalMessage, ProposalSponsor, ProposalStatus, utcnow
from campaigns.core.settings import get_settings
from campaigns.core.tokens import hash_token, new_token
from campaigns.core.validation import clean_email, clean_name, clean_text
from campaigns.proposals import mails
from campaigns.proposals.expiry import GATHERING
from campaigns.regions.lookup import resolve_scheme
from campaigns.signatures.rules import load_rules

TITLE_MAX = 200
PURPOSE_MAX = 1000
ASK_MAX = 600
TARGET_MAX = 200  # all four fit a campaign's purpose (2,000 characters) once published
NOTE_MAX = 2000
PER_MAILBOX_PER_DAY = 3  # proposals from one mailbox in 24 hours: each emails that address, so it is bounded
PER_ADDRESS_PER_DAY = 10  # proposals from one client address in 24 hours, whatever the mailboxes typed

_P = Proposal.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it


class ProposalNotFound(NotFound):
    """A proposal link that names no proposal (mistyped, cut short, or the proposal is gone)."""

    def __init__(self) -> None:
        super().__init__(
            "We couldn't find a proposal at this link. Check that the whole link was copied from the email."
        )


class ProposalRefused(RallyError):
    """What the proposal's status does not allow now; the message says what is possible."""


class TooManyProposals(RallyError):
    """The client address proposed :data:`PER_ADDRESS_PER_DAY` campaigns in 24 hours (whatever the mailboxes)."""

    def __init__(self) -> None:
        super().__init__(
            "Many campaigns were proposed from your network in the last 24 hours, the most we take from one. "
            "Please try again tomorrow, or ask the organizers."
        )


def limited_address(session: Session, client_address: str | None, lock_name: str) -> str | None:
    """The client address that per-address limits count (held under a lock named ``lock_name`` until commit),
    or None when they do not apply: unknown, loopback (``client_address.limits_apply``), or on signing's
    allowlist (an office, a university's NAT)."""
    address = (client_address or "")[:64] or None
    if not limits_apply(address) or load_rules(session=session).allowed(address):
        return None
    advisory_lock(session, f"{lock_name}:{address}")
    return address


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
    for field, limit, newlines, label in (  # each named as the form asks for it
        ("title", TITLE_MAX, False, "title"),
        ("purpose", PURPOSE_MAX, True, "purpose (why this matters)"),
        ("ask", ASK_MAX, True, "request (what it asks for)"),
        ("target", TARGET_MAX, False, "decision-maker (of whom)"),
    ):
        try:
            cleaned[field] = clean_text(
                getattr(text, field) or "", field=field, limit=limit, required=True, newlines=newlines, label=label
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


def propose(
    *,
    session: Session,
    text: ProposalText,
    proposer: ProposerInput,
    client_address: str | None = None,
    now: datetime | None = None,
) -> int | None:
    """A new proposal, unconfirmed until its proposer opens the emailed link (queued here). Returns its id; None
    when the mailbox is at its limit (nothing kept, its owner emailed why: see the module's docstring).
    ``client_address``: where the request came from (``campaigns.core.client_address``), for the per-address limit;
    TooManyProposals past it."""
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
    if errors:
        raise InvalidInput(errors)
    address = limited_address(session, client_address, "proposal-address")
    if address is not None and _recent_from_address(session, address, now) >= PER_ADDRESS_PER_DAY:
        raise TooManyProposals()
    advisory_lock(session, f"proposal-mailbox:{canonical}")
    if _recent_from(session, canonical, now) >= PER_MAILBOX_PER_DAY:
        mails.queue_mailbox_limited(session=session, to=email, canonical=canonical, limit=PER_MAILBOX_PER_DAY, now=now)
        return None
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
        client_address=(client_address or "")[:64] or None,
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


def _recent_from_address(session: Session, address: str, now: datetime) -> int:
    """Proposals from one client address in the last 24 hours, counted up to the limit (index rows only)."""
    recent = (
        select(col(Proposal.id))
        .where(col(Proposal.client_address) == address, col(Proposal.created_at) > now - timedelta(days=1))
        .limit(PER_ADDRESS_PER_DAY)
        .subquery()
    )
    return int(session.execute(select(func.count()).select_from(recent)).scalar_one())


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
    return [thread_entry(m, proposer_label=proposer_label) for m in rows]


def thread_entry(message: ProposalMessage, *, proposer_label: str = "You") -> ThreadEntry:
    """One message as the thread shows it: "Organizers" (never which organizer) or the proposer's label."""
    author = "Organizers" if message.from_organizer else proposer_label
    return ThreadEntry(author, message.from_organizer, message.body, message.at)


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
