"""Keeping the aggregate rows the public reads (``counts``): every change to the counted signatures goes
through here, in the write transaction that changes them, so counts and signatures never disagree.

One signature at a time (``bump_counts``, ``remove_counts``) or many at once (``add_counts``,
``subtract_counts``); and the repairs: ``rebuild_counts`` from the signatures, and the upkeep's
``fold_past_hours``.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import delete, func, insert, literal_column, select, text, update
from sqlmodel import Session, col

from campaigns.core.db import HotStatement, insert_for
from campaigns.core.models import HourlyCount, RegionCount, RegionDayCount, Signature, SignatureStatus, utcnow
from campaigns.core.settings import get_settings
from campaigns.signatures.counts import day_of, hour_of

log = logging.getLogger(__name__)

_COUNTS = RegionCount.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_HOURLY = HourlyCount.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_REGION_DAY = RegionDayCount.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it


@dataclass(frozen=True)
class _Bumps:
    region: HotStatement
    hour: HotStatement
    region_day: HotStatement


def _upsert_adding(dialect_name: str, table: Any, key: list[str], replaced: tuple[str, ...] = ()) -> Any:
    """INSERT a row, or add its count to the existing one (and take its ``replaced`` columns)."""
    stmt = insert_for(dialect_name, table)
    changes = {"count": table.c.count + stmt.excluded.count, **{c: stmt.excluded[c] for c in replaced}}
    return stmt.on_conflict_do_update(index_elements=key, set_=changes)


@cache
def _bumps(dialect_name: str) -> _Bumps:
    region = _upsert_adding(dialect_name, _COUNTS, ["campaign_id", "region_code", "shard"], ("updated_at",))
    return _Bumps(
        region=HotStatement(region, ("campaign_id", "region_code", "shard", "count", "updated_at")),
        hour=HotStatement(
            _upsert_adding(dialect_name, _HOURLY, ["campaign_id", "hour", "shard"]),
            ("campaign_id", "hour", "shard", "count"),
        ),
        region_day=HotStatement(
            _upsert_adding(dialect_name, _REGION_DAY, ["campaign_id", "region_code", "day", "shard"]),
            ("campaign_id", "region_code", "day", "shard", "count"),
        ),
    )


def bump_counts(
    *,
    session: Session,
    campaign_id: int,
    region_code: str,
    signed_at: datetime,
    delta: int = 1,
    now: datetime | None = None,
) -> None:
    """Add ``delta`` (1: a new counted signature) to every aggregate the public reads: the region's count,
    the hour's and the region's day. Run it in the write transaction that changes the signature, so counts
    and signatures never disagree. A signature taken out of the counts goes through ``remove_counts``, which
    takes it off a shard that still has a count.

    PostgreSQL spreads each key over ``count_shards`` rows (concurrent signers rarely wait on one
    row); readers sum the shards. SQLite has one writer at a time: one row per key there.
    """
    dialect = session.connection().dialect.name
    shard = 0 if dialect == "sqlite" else random.randrange(get_settings().count_shards)
    bumps = _bumps(dialect)
    base = {"campaign_id": campaign_id, "shard": shard, "count": delta}
    bumps.region.run(session, {**base, "region_code": region_code, "updated_at": now or utcnow()})
    bumps.hour.run(session, {**base, "hour": hour_of(signed_at)})
    bumps.region_day.run(session, {**base, "region_code": region_code, "day": day_of(signed_at)})


def add_counts(
    *, session: Session, campaign_id: int, signed: Iterable[tuple[str, datetime]], now: datetime | None = None
) -> None:
    """``bump_counts`` for many new counted signatures at once (a bulk import): ``signed`` holds each one's
    (region code, signed at). One multi-row upsert per aggregate table, in the caller's transaction; keys
    are sorted, so two imports at once take the rows in the same order (no deadlock)."""
    rows = list(signed)
    if not rows:
        return
    dialect = session.connection().dialect.name
    shards = 1 if dialect == "sqlite" else get_settings().count_shards

    def shard() -> int:
        return random.randrange(shards)

    regions = Counter(code for code, _ in rows)
    hours = Counter(hour_of(at) for _, at in rows)
    days = Counter((code, day_of(at)) for code, at in rows)
    updated = now or utcnow()
    session.execute(
        _upsert_adding(dialect, _COUNTS, ["campaign_id", "region_code", "shard"], ("updated_at",)),
        [
            {"campaign_id": campaign_id, "region_code": c, "shard": shard(), "count": n, "updated_at": updated}
            for c, n in sorted(regions.items())
        ],
    )
    session.execute(
        _upsert_adding(dialect, _HOURLY, ["campaign_id", "hour", "shard"]),
        [{"campaign_id": campaign_id, "hour": h, "shard": shard(), "count": n} for h, n in sorted(hours.items())],
    )
    session.execute(
        _upsert_adding(dialect, _REGION_DAY, ["campaign_id", "region_code", "day", "shard"]),
        [
            {"campaign_id": campaign_id, "region_code": c, "day": d, "shard": shard(), "count": n}
            for (c, d), n in sorted(days.items())
        ],
    )


def _take(session: Session, table: Any, where: list[Any], n: int, now: datetime) -> int:
    """Subtract ``n`` from a key's shards, from those with a count above zero (readers sum the shards, so any
    shard will do; none goes below zero). Returns how many were taken (less than ``n`` only if counts drifted)."""
    left = n
    for _ in range(get_settings().count_shards + 2):
        if left <= 0:
            break
        row = session.execute(
            select(table.c.shard, table.c.count)
            .where(*where, table.c.count > 0)
            .order_by(table.c.count.desc())
            .limit(1)
            .with_for_update()
        ).first()
        if row is None:
            break
        step = min(left, int(row.count))  # type: ignore[call-overload]  # the "count" column; the stubs see tuple.count
        values: dict[str, Any] = {"count": table.c.count - step}
        if "updated_at" in table.c:
            values["updated_at"] = now
        if session.execute(  # type: ignore[attr-defined]  # SQLModel types execute() as Result; DML gives a CursorResult
            update(table).where(*where, table.c.shard == row.shard, table.c.count >= step).values(**values)
        ).rowcount:
            left -= step
    if left:
        log.warning("%d count(s) missing to take off (%s, %s): counts need a rebuild", left, table.name, where)
    return n - left


def _keys(campaign_id: int, region_code: str, signed_at: datetime) -> list[tuple[Any, list[Any]]]:
    """The aggregate rows one counted signature adds to: its region, its hour, its region's day."""
    return [
        (_COUNTS, [_COUNTS.c.campaign_id == campaign_id, _COUNTS.c.region_code == region_code]),
        (_HOURLY, [_HOURLY.c.campaign_id == campaign_id, _HOURLY.c.hour == hour_of(signed_at)]),
        (
            _REGION_DAY,
            [
                _REGION_DAY.c.campaign_id == campaign_id,
                _REGION_DAY.c.region_code == region_code,
                _REGION_DAY.c.day == day_of(signed_at),
            ],
        ),
    ]


def remove_counts(
    *, session: Session, campaign_id: int, region_code: str, signed_at: datetime, now: datetime | None = None
) -> None:
    """Take one counted signature (withdrawn) out of every aggregate ``bump_counts`` added it to, in the
    caller's transaction: its region, its hour and its region's day. Each comes off a shard that still has
    a count, so no row goes below zero."""
    now = now or utcnow()
    for table, where in _keys(campaign_id, region_code, signed_at):
        _take(session, table, where, 1, now)


def subtract_counts(
    *, session: Session, campaign_id: int, signed: Iterable[tuple[str, datetime]], now: datetime | None = None
) -> None:
    """``remove_counts`` for many signatures at once (a bulk invalidation): ``signed`` holds each one's
    (region code, signed at). One subtraction per region, hour and region-day, keys in sorted order (so two
    of these at once take the rows in the same order)."""
    now = now or utcnow()
    rows = list(signed)
    regions = Counter(code for code, _ in rows)
    hours = Counter(hour_of(at) for _, at in rows)
    days = Counter((code, day_of(at)) for code, at in rows)
    for code, n in sorted(regions.items()):
        _take(session, _COUNTS, [_COUNTS.c.campaign_id == campaign_id, _COUNTS.c.region_code == code], n, now)
    for hour, n in sorted(hours.items()):
        _take(session, _HOURLY, [_HOURLY.c.campaign_id == campaign_id, _HOURLY.c.hour == hour], n, now)
    for (code, day), n in sorted(days.items()):
        where = [
            _REGION_DAY.c.campaign_id == campaign_id,
            _REGION_DAY.c.region_code == code,
            _REGION_DAY.c.day == day,
        ]
        _take(session, _REGION_DAY, where, n, now)


def time_bucket(dialect_name: str, column: Any, unit: str = "hour") -> Any:
    """SQL for the UTC hour or day of a timestamp column, as the aggregate tables store it."""
    if dialect_name == "postgresql":
        return literal_column(f"date_trunc('{unit}', {column.name} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'")
    pattern = "%Y-%m-%d %H:00:00.000000" if unit == "hour" else "%Y-%m-%d 00:00:00.000000"
    return func.strftime(pattern, column)  # SQLite: naive UTC text, SQLAlchemy's format


def rebuild_counts(*, session: Session, campaign_id: int) -> int:
    """Recompute a campaign's aggregate rows (per region and per hour) from its counted signatures.

    For after a bulk load or a repair. Runs inside the caller's write transaction; returns the new total.
    """
    _rebuild_hourly(session, campaign_id)
    session.execute(delete(RegionCount).where(col(RegionCount.campaign_id) == campaign_id))
    grouped = session.execute(
        select(col(Signature.region_code), func.count())
        .where(col(Signature.campaign_id) == campaign_id, col(Signature.status) == SignatureStatus.counted.value)
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
    dialect = session.connection().dialect.name
    created = Signature.__table__.c.created_at  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
    counted = (col(Signature.campaign_id) == campaign_id, col(Signature.status) == SignatureStatus.counted.value)
    session.execute(delete(HourlyCount).where(col(HourlyCount.campaign_id) == campaign_id))
    hour = time_bucket(dialect, created, "hour")
    by_hour = select(literal_column(str(campaign_id)), hour, literal_column("0"), func.count()).where(*counted)
    session.execute(insert(HourlyCount).from_select(["campaign_id", "hour", "shard", "count"], by_hour.group_by(hour)))
    session.execute(delete(RegionDayCount).where(col(RegionDayCount.campaign_id) == campaign_id))
    day = time_bucket(dialect, created, "day")
    by_day = select(
        literal_column(str(campaign_id)), col(Signature.region_code), day, literal_column("0"), func.count()
    ).where(*counted)
    session.execute(
        insert(RegionDayCount).from_select(
            ["campaign_id", "region_code", "day", "shard", "count"], by_day.group_by(Signature.region_code, day)
        )
    )


_FOLD_PAST_HOURS = text(
    "WITH moved AS ("
    " DELETE FROM hourly_count WHERE hour < :before AND shard <> 0 RETURNING campaign_id, hour, count)"
    " INSERT INTO hourly_count (campaign_id, hour, shard, count)"
    " SELECT campaign_id, hour, 0, sum(count) FROM moved GROUP BY campaign_id, hour"
    " ON CONFLICT (campaign_id, hour, shard) DO UPDATE SET count = hourly_count.count + excluded.count"
)


def fold_past_hours(*, session: Session, now: datetime | None = None) -> int:
    """PostgreSQL: fold every campaign's hour shards before the current hour into one row per hour.

    Shards keep concurrent signers of the current hour off one row; once the hour is past nobody
    signs into it (a paper import or a withdrawal may still touch it, and a later fold takes that in),
    and its 8 rows only make every dashboard read sum 8 times too many. One statement moves the
    counts and deletes the shards, so a reader never sees an hour half folded. Returns the hours folded.
    SQLite keeps one row per hour already: nothing to do.
    """
    if session.connection().dialect.name != "postgresql":
        return 0
    return int(session.execute(_FOLD_PAST_HOURS, {"before": hour_of(now or utcnow())}).rowcount or 0)  # type: ignore[attr-defined]  # SQLModel types execute() as Result; DML gives a CursorResult
