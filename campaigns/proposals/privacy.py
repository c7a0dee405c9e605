"""What proposals hold about one mailbox, and forgetting it (for a supporter's erasure, ``erase_mailbox``, and
for retention, ``anonymize_decided``).

Proposals keep the proposer's and each co-sponsor's name and address, and the proposer's messages to organizers.
:func:`erase_mailbox` removes them for one canonical address: a co-sponsor row keeps only that it confirmed (so a
proposal's progress stays true) with its address replaced by ``erased:<row id>`` (the unique constraint holds,
nothing traces back) and is never named; a proposal keeps its text, its proposer becomes "a member" with no
address (no more email reaches them), the proposer's messages in the thread are blanked (the organizers' stay)
and its own link stops working. ``people.supporter_erasure`` calls it in the erasure's transaction;
``people.retention`` forgets every person in proposals decided or expired longer ago than the retention period
the same way (:func:`anonymize_decided`). Both forget the client address each row came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, cast, exists, func, literal, not_, or_, select, update
from sqlmodel import Session, col

from campaigns.core.models import Proposal, ProposalMessage, ProposalSponsor, ProposalStatus
from campaigns.core.tokens import hash_token, new_token

_S = ProposalSponsor.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_P = Proposal.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_M = ProposalMessage.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
ERASED_NAME = "a member"


@dataclass(frozen=True)
class MailboxProposals:
    """What proposals hold about one mailbox: the titles it proposed and the titles it co-sponsors."""

    proposed: list[str]
    sponsored: list[str]


def held_about(*, session: Session, email_canonical: str) -> MailboxProposals:
    proposed = session.execute(
        select(col(Proposal.title))
        .where(col(Proposal.proposer_canonical) == email_canonical)
        .order_by(col(Proposal.id))
    ).scalars()
    sponsored = session.execute(
        select(col(Proposal.title))
        .join(ProposalSponsor, col(ProposalSponsor.proposal_id) == col(Proposal.id))
        .where(col(ProposalSponsor.email_canonical) == email_canonical)
        .order_by(col(Proposal.id))
    ).scalars()
    return MailboxProposals(proposed=list(proposed), sponsored=list(sponsored))


def _erased_id() -> Any:
    """SQL for ``erased:<row id>``: unique per row, not derived from the address."""
    return literal("erased:", String) + cast(_S.c.id, String)


def _forget_sponsors(session: Session, where: ColumnElement[bool]) -> int:
    done = session.execute(
        update(_S)
        .where(where)
        .values(
            full_name="",
            email="",
            email_canonical=_erased_id(),
            credit=False,
            confirm_hash=_erased_id(),  # no link reaches it any more
            client_address=None,
        )
    ).rowcount  # type: ignore[attr-defined]  # SQLModel types execute() as Result; DML gives a CursorResult
    return int(done or 0)


def _forget_proposers(session: Session, ids: list[int]) -> None:
    """These proposals' proposer becomes "a member", their own link stops working, their messages are blanked."""
    for proposal_id in ids:
        session.execute(
            update(_P)
            .where(_P.c.id == proposal_id)
            .values(
                proposer_name=ERASED_NAME,
                proposer_email="",
                proposer_canonical=f"erased:{proposal_id}",
                proposer_credit=False,
                client_address=None,
                manage_hash=hash_token(new_token()),  # the old link stops working; nobody holds the new one
            )
        )
    if ids:
        session.execute(
            update(_M).where(_M.c.proposal_id.in_(ids), _M.c.from_organizer.is_(False), _M.c.body != "").values(body="")
        )


def erase_mailbox(*, session: Session, email_canonical: str) -> int:
    """Forget one mailbox in every proposal (see the module's docstring); returns how many rows changed."""
    sponsors = _forget_sponsors(session, _S.c.email_canonical == email_canonical)
    ids = list(session.execute(select(_P.c.id).where(_P.c.proposer_canonical == email_canonical)).scalars())
    _forget_proposers(session, ids)
    return sponsors + len(ids)


_ERASED = "erased:%"


def _decided_before(cutoff: datetime) -> ColumnElement[bool]:
    """Proposals published or declined before ``cutoff``, or expired (their time ran out) before it."""
    decided = (ProposalStatus.published.value, ProposalStatus.declined.value)
    return or_(
        and_(_P.c.status.in_(decided), _P.c.decided_at <= cutoff),
        and_(_P.c.status == ProposalStatus.expired.value, _P.c.expires_at <= cutoff),
    )


def _holds_people() -> ColumnElement[bool]:
    """A proposal that still names someone: its proposer, a co-sponsor, or a message of the proposer."""
    return or_(
        not_(_P.c.proposer_canonical.like(_ERASED)),
        exists().where(_S.c.proposal_id == _P.c.id, not_(_S.c.email_canonical.like(_ERASED))),
        exists().where(_M.c.proposal_id == _P.c.id, _M.c.from_organizer.is_(False), _M.c.body != ""),
    )


def count_decided(*, session: Session, cutoff: datetime) -> int:
    """How many proposals decided or expired before ``cutoff`` still hold personal data (retention's dry run)."""
    stmt = select(func.count()).select_from(_P).where(_decided_before(cutoff), _holds_people())
    return int(session.execute(stmt).scalar_one())


def anonymize_decided(*, session: Session, cutoff: datetime) -> int:
    """Forget the proposer, the co-sponsors and the proposer's messages of every proposal decided (published,
    declined) or expired before ``cutoff``, as an erasure does; returns how many proposals changed. Safe to repeat.
    """
    ids = list(
        session.execute(
            select(_P.c.id).where(_decided_before(cutoff), _holds_people()).order_by(_P.c.id).with_for_update()
        ).scalars()
    )
    if not ids:
        return 0
    _forget_sponsors(session, and_(_S.c.proposal_id.in_(ids), not_(_S.c.email_canonical.like(_ERASED))))
    _forget_proposers(session, ids)
    return len(ids)
