"""Counts the public watches, read from the ``region_count`` aggregate rows.

Reads touch at most (regions x shards) rows per campaign, never the signatures, so
their cost does not grow with the number of signatures.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import pandas as pd
from sqlalchemy import bindparam, delete, func, insert, literal_column, select
from sqlmodel import Session

from campaigns.custom_regions import resolve_scheme
from campaigns.models import HourlyCount, RegionCount, Signature, SignatureStatus, utcnow
from campaigns.regions import RegionScheme

# Statements built once, with bind parameters: each call only binds values (no statement
# construction or cache-key generation per call).
_TOTAL = select(func.coalesce(func.sum(RegionCount.count), 0)).where(
    RegionCount.campaign_id == bindparam("campaign_id")
)
# The same on the bare table, for the sign-on path (run as a db.HotStatement).
_COUNTS = RegionCount.__table__  # type: ignore[attr-defined]
TOTAL_STATEMENT = select(func.coalesce(func.sum(_COUNTS.c.count), 0)).where(
    _COUNTS.c.campaign_id == bindparam("campaign_id")
)


def campaign_total(session: Session, campaign_id: int) -> int:
    return int(session.execute(_TOTAL, {"campaign_id": campaign_id}).scalar_one())


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


_REGION_SUMS = (
    select(RegionCount.region_code, func.sum(RegionCount.count).label("n"))
    .where(RegionCount.campaign_id == bindparam("campaign_id"))
    .group_by(RegionCount.region_code)
)


@lru_cache(maxsize=256)
def _region_names(scheme: RegionScheme) -> dict[str, str]:
    """Per scheme object: schemes are immutable and cached by their loaders, so the same object comes back."""
    return {r.code: r.name for r in scheme.regions}


def region_counts(session: Session, campaign_id: int, scheme_id: str) -> pd.DataFrame:
    """One row per region with signatures: code, name, count (largest first)."""
    rows = [(code, int(n)) for code, n in session.execute(_REGION_SUMS, {"campaign_id": campaign_id}) if n]
    names = _region_names(resolve_scheme(session, scheme_id))
    # Sorted here (count descending, then name; a stable sort, like pandas' multi-column sort_values):
    # building the frame from sorted rows costs a fraction of sorting it in pandas.
    ordered = sorted(((code, names.get(code, code), n) for code, n in rows), key=lambda row: (-row[2], row[1]))
    return pd.DataFrame(ordered, columns=["code", "name", "count"])


def last_updated(session: Session, campaign_id: int) -> datetime | None:
    stmt = select(func.max(RegionCount.updated_at)).where(RegionCount.campaign_id == campaign_id)
    value = session.execute(stmt).scalar_one()
    return value


def hour_of(moment: datetime) -> datetime:
    """The UTC hour a moment falls in: the key of its ``hourly_count`` row."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


_HOURLY_SUMS = (
    select(HourlyCount.hour, func.sum(HourlyCount.count).label("n"))
    .where(HourlyCount.campaign_id == bindparam("campaign_id"))
    .group_by(HourlyCount.hour)
    .order_by(HourlyCount.hour)
)
_SINCE = select(func.coalesce(func.sum(HourlyCount.count), 0)).where(
    HourlyCount.campaign_id == bindparam("campaign_id"), HourlyCount.hour >= bindparam("since")
)


def hourly_counts(session: Session, campaign_id: int) -> pd.DataFrame:
    """Signatures per UTC hour (hours with none are left out): columns ``hour`` (tz-aware UTC), ``count``."""
    rows = [(hour, int(n)) for hour, n in session.execute(_HOURLY_SUMS, {"campaign_id": campaign_id}) if n]
    frame = pd.DataFrame(rows, columns=["hour", "count"])
    frame["hour"] = pd.to_datetime(frame["hour"], utc=True)
    return frame


def recent_count(session: Session, campaign_id: int, hours: int = 24, now: datetime | None = None) -> int:
    """Signatures in the last ``hours`` whole hours plus the current one (read from the hourly rows)."""
    since = hour_of(now or utcnow()) - timedelta(hours=hours - 1)
    return int(session.execute(_SINCE, {"campaign_id": campaign_id, "since": since}).scalar_one())


def hour_expression(dialect_name: str, column: Any) -> Any:
    """SQL for the UTC hour of a timestamp column, stored as ``HourlyCount.hour`` stores it."""
    if dialect_name == "postgresql":
        return literal_column(f"date_trunc('hour', {column.name} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'")
    return func.strftime("%Y-%m-%d %H:00:00.000000", column)  # SQLite: naive UTC text, SQLAlchemy's format


def rebuild_counts(session: Session, campaign_id: int) -> int:
    """Recompute a campaign's aggregate rows (per region and per hour) from its counted signatures.

    For after a bulk load or a repair. Runs inside the caller's write transaction; returns the new total.
    """
    _rebuild_hourly(session, campaign_id)
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


def _rebuild_hourly(session: Session, campaign_id: int) -> None:
    session.execute(delete(HourlyCount).where(HourlyCount.campaign_id == campaign_id))  # type: ignore[arg-type]
    hour = hour_expression(session.connection().dialect.name, Signature.__table__.c.created_at)  # type: ignore[attr-defined]
    grouped = (
        select(literal_column(str(campaign_id)), hour, literal_column("0"), func.count())
        .where(Signature.campaign_id == campaign_id, Signature.status == SignatureStatus.counted.value)
        .group_by(hour)
    )
    session.execute(
        insert(HourlyCount).from_select(["campaign_id", "hour", "shard", "count"], grouped)  # type: ignore[arg-type]
    )
