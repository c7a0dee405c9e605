"""The emails about a proposal, and the links they carry (every link built by ``sharing.links.page_url``).

Each goes through the outbox (``core.outbox.enqueue``) in the transaction of the change it reports, with a
dedupe key, so a change retried or repeated sends one message.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from campaigns.core import outbox
from campaigns.core.mail import OutgoingMail
from campaigns.core.models import Proposal
from campaigns.core.settings import get_settings
from campaigns.core.tokens import hash_token
from campaigns.sharing import links

OWN_PATH = "my-proposal"  # the proposer's own page: ?token=<their link>
SPONSOR_PATH = "cosponsor"  # the share link: ?p=<public id>
SPONSOR_CONFIRM_PATH = "cosponsor-confirm"  # ?token=<a co-sponsor's link>


def own_url(token: str) -> str:
    """The proposer's own link: progress, the share link, the thread, edits."""
    return links.page_url(OWN_PATH, token=token)


def sponsor_url(public_id: str) -> str:
    """The link the proposer shares with people who may co-sponsor."""
    return links.page_url(SPONSOR_PATH, p=public_id)


def sponsor_confirm_url(token: str) -> str:
    return links.page_url(SPONSOR_CONFIRM_PATH, token=token)


def _mail(to: str, name: str, subject: str, body: str) -> OutgoingMail:
    signed = f"{body}\n\n{get_settings().org_name}\n"
    return OutgoingMail(
        to_address=to, to_name=name, reply_to_address="", reply_to_name="", subject=subject, body=signed
    )


def queue(
    *, session: Session, kind: str, to: str, name: str, canonical: str, subject: str, body: str, key: str, now: datetime
) -> None:
    """One email about a proposal, in the caller's transaction (``key``: queued once)."""
    outbox.enqueue(
        session=session,
        kind=kind,
        mail=_mail(to, name, subject, body),
        recipient_canonical=canonical,
        dedupe_key=key,
        now=now,
    )


def to_proposer(*, session: Session, proposal: Proposal, kind: str, subject: str, body: str, now: datetime) -> None:
    """An email to the proposer about their proposal (one per kind and moment)."""
    if not proposal.proposer_email:
        return  # the proposer erased their data: no address is left to write to
    queue(
        session=session,
        kind=kind,
        to=proposal.proposer_email,
        name=proposal.proposer_name,
        canonical=proposal.proposer_canonical,
        subject=f"{subject}: {proposal.title}",
        body=f"Hello {proposal.proposer_name},\n\n{body}",
        key=f"{kind}:{proposal.id}:{now.isoformat()}",
        now=now,
    )


def queue_own_link(*, session: Session, proposal: Proposal, token: str, now: datetime) -> None:
    """The proposer's link: opening it confirms their address, and it stays their way back to the proposal."""
    needed = proposal.sponsors_needed
    queue(
        session=session,
        kind="proposal-confirm",
        to=proposal.proposer_email,
        name=proposal.proposer_name,
        canonical=proposal.proposer_canonical,
        subject=f"Please confirm your proposal: {proposal.title}",
        body=(
            f"Hello {proposal.proposer_name},\n\nThank you for proposing “{proposal.title}”. To confirm that this is "
            f"your email address, open this link:\n\n{own_url(token)}\n\nKeep this email: the link is your own way "
            f"back to your proposal. There you find the link to share with the {needed} people who co-sponsor it, "
            "see how many have, and read and answer the organizers.\n\n"
            "If you did not propose this campaign, ignore this email: nothing happens, and it expires."
        ),
        key=f"proposal-confirm:{proposal.id}:{hash_token(token)[:32]}",
        now=now,
    )


def queue_sponsor_link(
    *, session: Session, sponsor_id: int, to: str, name: str, canonical: str, title: str, token: str, now: datetime
) -> None:
    days = get_settings().confirm_link_days
    queue(
        session=session,
        kind="proposal-sponsor",
        to=to,
        name=name,
        canonical=canonical,
        subject=f"Please confirm you co-sponsor: {title}",
        body=(
            f"Hello {name},\n\nThank you for co-sponsoring the proposal “{title}”. To count as a co-sponsor, please "
            f"confirm that this is your email address by opening this link (it works once, within {days} days):"
            f"\n\n{sponsor_confirm_url(token)}\n\n"
            "If you did not offer to co-sponsor it, ignore this email: nothing is counted."
        ),
        key=f"proposal-sponsor:{sponsor_id}:{hash_token(token)[:32]}",
        now=now,
    )


def queue_not_counted(
    *, session: Session, proposal_id: int, to: str, canonical: str, title: str, reason: str, now: datetime
) -> None:
    """Someone offered to co-sponsor with an address that cannot count: its owner hears why (once a day)."""
    queue(
        session=session,
        kind="proposal-sponsor-refused",
        to=to,
        name="",
        canonical=canonical,
        subject=f"Your co-sponsorship was not counted: {title}",
        body=(
            f"Hello,\n\nSomeone (we hope you) just offered to co-sponsor the proposal “{title}” with this email "
            f"address. {reason} Nothing was changed.\n\nIf it was not you, ignore this email."
        ),
        key=f"proposal-refused:{proposal_id}:{hash_token(canonical)[:32]}:{now:%Y-%m-%d}",
        now=now,
    )


def queue_mailbox_limited(*, session: Session, to: str, canonical: str, limit: int, now: datetime) -> None:
    """Someone proposed with an address at its daily limit: nothing was kept, and its owner hears why (once a day,
    without the text typed, so the notice carries nobody's words)."""
    queue(
        session=session,
        kind="proposal-limited",
        to=to,
        name="",
        canonical=canonical,
        subject="Your proposal was not kept",
        body=(
            "Hello,\n\nSomeone (we hope you) just proposed a campaign with this email address. It has proposed "
            f"{limit} campaigns in the last 24 hours, the most we take from one address, so this one was not kept. "
            "Please wait a day, or ask the organizers.\n\nIf it was not you, ignore this email."
        ),
        key=f"proposal-limited:{hash_token(canonical)[:32]}:{now:%Y-%m-%d}",
        now=now,
    )
