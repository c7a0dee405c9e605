"""Counts the public watches, read from the ``region_count`` aggregate rows.

Reads touch at most (regions x shards) rows per campaign, never the signatures, so
their cost does not grow with the number of signatures.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pandas as pd
from sqlalchemy import delete, func, insert, select
from sqlmodel import Session

from campaigns.models import RegionCount, Signature, SignatureStatus, utcnow
from campaigns.regions import get_scheme


def campaign_total(session: Session, campaign_id: int) -> int:
    stmt = select(func.coalesce(func.sum(RegionCount.count), 0)).where(RegionCount.campaign_id == campaign_id)
    return int(session.execute(stmt).scalar_one())


def campaign_totals(session: Session, campaign_ids: Iterable[int]) -> dict[int, int]:
    ids = list(campaign_ids)
    if not ids:
        return {}
    stmt = (
        select(RegionCount.campaign_id, func.sum(RegionCount.count))
        .where(RegionCount.campaign_id.in_(ids))  # type: ignore[attr-defined]
        .group_by(RegionCount.campaign_id)
    )
    totals = {cid: 0 for cid in ids}
    totals.update({cid: int(n) for cid, n in session.execute(stmt)})
    return totals


def region_counts(session: Session, campaign_id: int, scheme_id: str) -> pd.DataFrame:
    """One row per region with signatures: code, name, count (largest first)."""
    stmt = (
        select(RegionCount.region_code, func.sum(RegionCount.count).label("n"))
        .where(RegionCount.campaign_id == campaign_id)
        .group_by(RegionCount.region_code)
    )
    rows = [(code, int(n)) for code, n in session.execute(stmt) if n]
    scheme = get_scheme(scheme_id)
    names = {r.code: r.name for r in scheme.regions}
    frame = pd.DataFrame([(code, names.get(code, code), n) for code, n in rows], columns=["code", "name", "count"])
    return frame.sort_values(["count", "name"], ascending=[False, True], ignore_index=True)


def last_updated(session: Session, campaign_id: int) -> datetime | None:
    stmt = select(func.max(RegionCount.updated_at)).where(RegionCount.campaign_id == campaign_id)
    value = session.execute(stmt).scalar_one()
    return value


def rebuild_counts(session: Session, campaign_id: int) -> int:
    """Recompute a campaign's aggregate rows from its signatures (after a bulk load or a repair).

    Runs inside the caller's write transaction; returns the new total.
    """
    session.execute(delete(RegionCount).where(RegionCount.campaign_id == campaign_id))  # type: ignore[arg-type]
    grouped = session.execute(
        select(Signature.region_code, func.count())
        .where(Signature.campaign_id == campaign_id, Signature.status == SignatureStatus.counted.value)
        .group_by(Signature.region_code)
    ).all()
    now = utcnow()
    if grouped:
        session.execute(
            insert(RegionCount),
            [
                {"campaign_id": campaign_id, "region_code": code, "shard": 0, "count": int(n), "updated_at": now}
                for code, n in grouped
            ],
        )
    return sum(int(n) for _, n in grouped)
