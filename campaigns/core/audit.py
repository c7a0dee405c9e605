"""The audit log: every staff action that creates, changes, exports or reveals personal data.

Services call ``record`` inside the same transaction as the change, so an action and its
audit entry are saved together or not at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlmodel import Session, col

from campaigns.core.models import AuditEntry, Campaign, Role, utcnow

if TYPE_CHECKING:  # pandas only for the admin page's table: the CLI (exports among it) starts without it
    import pandas as pd


@dataclass(frozen=True)
class Actor:
    """Who is acting: a logged-in person, or the command line (user_id None)."""

    user_id: int | None
    email: str
    roles: frozenset[str] = field(default_factory=frozenset)

    def has(self, role: Role | str) -> bool:
        return str(role) in self.roles


CLI = Actor(user_id=None, email="cli", roles=frozenset(r.value for r in Role))


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    campaign_id: int | None = None,
    at: datetime | None = None,
    **detail: Any,
) -> AuditEntry:
    entry = AuditEntry(
        at=at or utcnow(),
        user_id=actor.user_id,
        actor=actor.email,
        action=action,
        campaign_id=campaign_id,
        detail=json.dumps(detail, default=str, ensure_ascii=False, sort_keys=True),
    )
    session.add(entry)
    session.flush()
    return entry


def list_entries(
    session: Session, *, limit: int = 200, action: str | None = None, campaign_id: int | None = None
) -> pd.DataFrame:
    """Newest first: when, who, what, campaign slug, detail."""
    import pandas as pd

    stmt = (
        select(
            col(AuditEntry.at),
            col(AuditEntry.actor),
            col(AuditEntry.action),
            col(Campaign.slug),
            col(AuditEntry.detail),
        )
        .join(Campaign, col(Campaign.id) == AuditEntry.campaign_id, isouter=True)
        .order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
        .limit(limit)
    )
    if action:
        stmt = stmt.where(col(AuditEntry.action) == action)
    if campaign_id is not None:
        stmt = stmt.where(col(AuditEntry.campaign_id) == campaign_id)
    rows = session.execute(stmt).all()
    return pd.DataFrame(rows, columns=["at", "actor", "action", "campaign", "detail"])
