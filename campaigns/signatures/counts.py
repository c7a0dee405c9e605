"""Counts the public watches, read from the aggregate rows (``region_count``, ``hourly_count``,
``region_day_count``) that ``count_writes`` keeps.

Reads touch at most (regions x shards) rows per campaign, never the signatures, so
their cost does not grow with the number of signatures.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, bindparam, cast, func, select
from sqlmodel import Session, col

from campaigns.core.db import HotStatement
from campaigns.core.models import HourlyCount, RegionCount, RegionDayCount, utcnow
from campaigns.regions.lookup import resolve_scheme
from campaigns.regions.schemes import RegionScheme

# Statements built once, with bind parameters: each call only binds values (no statement
# construction or cache-key generation per call).
_COUNTS = RegionCount.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_HOURLY = HourlyCount.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it

# Every sign-on reads the total it shows: run on the DBAPI cursor (a db.HotStatement), for everyone.
_TOTAL = HotStatement(
    select(func.coalesce(func.sum(_COUNTS.c.count), 0)).where(_COUNTS.c.campaign_id == bindparam("campaign_id")),
    ("campaign_id",),
)


def count_total(*, session: Session, campaign_id: int) -> int:
    """A campaign's public total: its ``region_count`` rows summed, shards included."""
    return int(_TOTAL.scalar(session, {"campaign_id": campaign_id}))


_TOTALS = (
    select(col(RegionCount.campaign_id), func.sum(RegionCount.count))
    .where(col(RegionCount.campaign_id).in_(bindparam("ids", expanding=True)))
    .group_by(col(RegionCount.campaign_id))
)


def count_totals(*, session: Session, campaign_ids: Iterable[int]) -> dict[int, int]:
    """``count_total`` of several campaigns in one statement (every id is a key)."""
    ids = list(campaign_ids)
    if not ids:
        return {}
    totals = {cid: 0 for cid in ids}
    totals.update({cid: int(n) for cid, n in session.execute(_TOTALS, {"ids": ids})})
    return totals


_REGION_SUMS = (
    select(col(RegionCount.region_code), func.sum(RegionCount.count).label("n"))
    .where(col(RegionCount.campaign_id) == bindparam("campaign_id"))
    .group_by(col(RegionCount.region_code))
)


@lru_cache(maxsize=256)
def _region_names(scheme: RegionScheme) -> dict[str, str]:
    """Per scheme object: schemes are immutable and cached by their loaders, so the same object comes back."""
    return {r.code: r.name for r in scheme.regions}


def count_by_region(*, session: Session, campaign_id: int) -> dict[str, int]:
    """Signatures per region code (regions with signatures only), the shards summed."""
    return {code: int(n) for code, n in session.execute(_REGION_SUMS, {"campaign_id": campaign_id}) if n}


_REGION_SUMS_OF = (
    select(col(RegionCount.campaign_id), col(RegionCount.region_code), func.sum(RegionCount.count))
    .where(col(RegionCount.campaign_id).in_(bindparam("ids", expanding=True)))
    .group_by(col(RegionCount.campaign_id), col(RegionCount.region_code))
)


def count_by_region_of_campaigns(*, session: Session, campaign_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """``count_by_region`` of several campaigns in one statement (every id is a key, maybe empty)."""
    ids = list(campaign_ids)
    maps: dict[int, dict[str, int]] = {cid: {} for cid in ids}
    if ids:
        for cid, code, n in session.execute(_REGION_SUMS_OF, {"ids": ids}):
            if n:
                maps[cid][code] = int(n)
    return maps


def rank_regions(*, session: Session, campaign_id: int, scheme_id: str) -> pd.DataFrame:
    """One row per region with signatures: code, name, count (largest first)."""
    counts = count_by_region(session=session, campaign_id=campaign_id)
    names = _region_names(resolve_scheme(session=session, scheme_id=scheme_id))
    # Sorted here (count descending, then name; a stable sort, like pandas' multi-column sort_values):
    # building the frame from sorted rows costs a fraction of sorting it in pandas.
    named = ((code, names.get(code, code), n) for code, n in counts.items())
    ordered = sorted(named, key=lambda row: (-row[2], row[1]))
    return pd.DataFrame(ordered, columns=["code", "name", "count"])


def get_last_updated(*, session: Session, campaign_id: int) -> datetime | None:
    """When the campaign's region counts last changed (None before its first counted signature)."""
    stmt = select(func.max(col(RegionCount.updated_at))).where(col(RegionCount.campaign_id) == campaign_id)
    value = session.execute(stmt).scalar_one()
    return value


def hour_of(moment: datetime) -> datetime:
    """The UTC hour a moment falls in: the key of its ``hourly_count`` row."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_of(moment: datetime) -> datetime:
    """The UTC day (midnight) a moment falls in: the key of its ``region_day_count`` row."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _epoch_seconds(dialect_name: str, column: Any) -> Any:
    """SQL for a stored UTC timestamp as whole seconds since 1970: rows of plain integers, which
    pandas turns into a time column at once (no datetime object built per row in Python)."""
    if dialect_name == "postgresql":
        return cast(func.extract("epoch", column), BigInteger)
    return cast(func.strftime("%s", column), BigInteger)  # SQLite stores naive UTC text


@cache
def _hourly_sums(dialect_name: str) -> HotStatement:
    # Run on the DBAPI cursor: ~1,500 rows of two integers per refresh for a campaign two months old,
    # where SQLAlchemy's per-row result machinery cost more than the query itself.
    statement = (
        select(_epoch_seconds(dialect_name, _HOURLY.c.hour), func.sum(_HOURLY.c.count))
        .where(_HOURLY.c.campaign_id == bindparam("campaign_id"))
        .group_by(_HOURLY.c.hour)
        .order_by(_HOURLY.c.hour)
    )
    return HotStatement(statement, ("campaign_id",))


def count_by_hour(*, session: Session, campaign_id: int) -> pd.DataFrame:
    """Signatures per UTC hour (hours with none are left out): columns ``hour`` (tz-aware UTC), ``count``."""
    statement = _hourly_sums(session.connection().dialect.name)
    rows = statement.fetchall(session, {"campaign_id": campaign_id})
    values = np.array(rows, dtype=np.int64).reshape(-1, 2)  # seconds, count
    kept = values[values[:, 1] != 0]  # a withdrawal can leave an hour at zero
    counts = kept[:, 1]
    hours = pd.DatetimeIndex(kept[:, 0].astype("datetime64[s]").astype("datetime64[us]"), tz=UTC)
    return pd.DataFrame({"hour": hours, "count": counts})


_LAST_24_HOURS = (
    select(col(HourlyCount.campaign_id), func.sum(HourlyCount.count))
    .where(
        col(HourlyCount.campaign_id).in_(bindparam("ids", expanding=True)),
        col(HourlyCount.hour) >= bindparam("since"),
        col(HourlyCount.hour) <= bindparam("until"),
    )
    .group_by(col(HourlyCount.campaign_id))
)


def count_last_24_hours(
    *, session: Session, campaign_ids: Iterable[int], now: datetime | None = None
) -> dict[int, int]:
    """Each campaign's signatures "in the last 24 hours", read from the hourly rows (every id is a key).

    The last 24 hours are the current UTC hour and the 23 whole hours before it, as the dashboard shows them.
    """
    ids = list(campaign_ids)
    current = hour_of(now or utcnow())
    recent = {cid: 0 for cid in ids}
    if ids:
        params = {"ids": ids, "since": current - timedelta(hours=23), "until": current}
        recent.update({cid: int(n) for cid, n in session.execute(_LAST_24_HOURS, params)})
    return recent


_REGION_DAYS = (
    select(col(RegionDayCount.day), func.sum(RegionDayCount.count).label("n"))
    .where(
        col(RegionDayCount.campaign_id) == bindparam("campaign_id"),
        col(RegionDayCount.region_code) == bindparam("region"),
    )
    .group_by(col(RegionDayCount.day))
    .order_by(col(RegionDayCount.day))
)


def count_region_by_day(*, session: Session, campaign_id: int, region_code: str) -> pd.DataFrame:
    """One region's signatures per UTC day (days with none left out): columns ``day``, ``count``."""
    params = {"campaign_id": campaign_id, "region": region_code}
    rows = [(day, int(n)) for day, n in session.execute(_REGION_DAYS, params) if n]
    frame = pd.DataFrame(rows, columns=["day", "count"])
    frame["day"] = pd.to_datetime(frame["day"], utc=True)
    return frame
