"""Proposals that never found their co-sponsors expire ``RALLY_PROPOSAL_DAYS`` after they were made (the upkeep
task ``expire``, in ``signatures.upkeep.TASKS``). The share link then says so; nothing more can be co-sponsored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from campaigns.core.db import run_write
from campaigns.core.models import Proposal, ProposalStatus, utcnow

_P = Proposal.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
GATHERING = (ProposalStatus.unconfirmed.value, ProposalStatus.gathering.value)


def expire_due(*, session: Session, now: datetime | None = None) -> int:
    """Every proposal still unconfirmed or gathering past its time is expired; returns how many."""
    now = now or utcnow()
    result = session.execute(
        update(_P)
        .where(_P.c.status.in_(GATHERING), _P.c.expires_at <= now)
        .values(status=ProposalStatus.expired.value, updated_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # SQLModel types execute() as Result; DML gives a CursorResult


def expire(engine: Engine) -> None:
    """The upkeep task (``upkeep.TASKS`` calls ``task(engine)``)."""
    run_write(engine, lambda session: expire_due(session=session))
