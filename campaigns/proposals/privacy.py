"""What proposals hold about one mailbox, and forgetting it (for a supporter's erasure, ``erase_mailbox``).

Proposals keep the proposer's and each co-sponsor's name and address. :func:`erase_mailbox` removes them for one
canonical address: a co-sponsor row keeps only that it confirmed (so a proposal's progress stays true) with its
address replaced by ``erased:<row id>`` (the unique constraint holds, nothing traces back) and is never named;
a proposal keeps its text, its proposer becomes "a member" with no address (no more email reaches them) and its
own link stops working. Both forget the client address the row came from. ``people.supporter_erasure`` can call
it in the erasure's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, literal, select, update
from sqlmodel import Session, col

from campaigns.core.models import Proposal, ProposalSponsor
from campaigns.core.tokens import hash_token, new_token

_S = ProposalSponsor.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_P = Proposal.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
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


def erase_mailbox(*, session: Session, email_canonical: str) -> int:
    """Forget one mailbox in every proposal (see the module's docstring); returns how many rows changed."""
    sponsors = session.execute(
        update(_S)
        .where(_S.c.email_canonical == email_canonical)
        .values(
            full_name="",
            email="",
            email_canonical=_erased_id(),
            credit=False,
            confirm_hash=_erased_id(),  # no link reaches it any more
            client_address=None,
        )
    ).rowcount  # type: ignore[attr-defined]  # SQLModel types execute() as Result; DML gives a CursorResult
    ids = list(session.execute(select(_P.c.id).where(_P.c.proposer_canonical == email_canonical)).scalars())
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
    return int(sponsors or 0) + len(ids)
