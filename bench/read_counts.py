"""Reading counts: the aggregate reads stay flat while a naive scan of the signatures grows.

One campaign grows to each size in turn (bare-driver bulk load: ``executemany`` on SQLite,
``COPY`` on PostgreSQL), its counts are rebuilt with ``count_writes.rebuild_counts`` and spread over the
count shards, and a few hundred real ``sign`` calls land on top. Then, each in a fresh read
session as a page would open it, we time:

* ``counts.count_total``   - the public total, from the ``region_count`` rows;
* ``counts.rank_regions``  - per-region counts (a pandas frame), from the same rows;
* naive scan                - ``SELECT region_code, COUNT(*) FROM signature WHERE campaign_id = ?
                              GROUP BY region_code``, the baseline the aggregate rows replace.

Median and p95 of up to 200 calls after a warm-up (the naive scan stops early after ~6 s).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from bench.common import (
    SCHEME_ID,
    Database,
    Options,
    SignerFactory,
    bulk_load_signatures,
    fmt_ms,
    for_each_database,
    make_published_campaign,
    median,
    percentile,
    print_table,
)
from campaigns.core.db import read_session, run_write
from campaigns.core.settings import get_settings
from campaigns.signatures.count_writes import rebuild_counts
from campaigns.signatures.counts import count_total, rank_regions
from campaigns.signatures.signing import sign

NAME = "read_counts"
CALLS = 200
WARMUP = 10
NAIVE_BUDGET_S = 6.0
REAL_SIGNS = 200  # real sign-ons on top of each bulk load, so several shards hold counts
NAIVE_SQL = "SELECT region_code, COUNT(*) FROM signature WHERE campaign_id = :c GROUP BY region_code"
COLUMNS = (
    "campaign_id",
    "full_name",
    "email",
    "email_canonical",
    "region_code",
    "status",
    "created_at",
    "contact_consent",
)


def _rows(campaign_id: int, start: int, stop: int, regions: list[str], kind: str) -> list[tuple[Any, ...]]:
    now = datetime.now(UTC)
    stamp: Any = now.replace(tzinfo=None).isoformat(sep=" ") if kind == "sqlite" else now
    return [
        (
            campaign_id,
            f"Bulk Signer {n}",
            f"bulk{n}@example.org",
            f"bulk{n}@example.org",
            regions[n % len(regions)],
            "counted",
            stamp,
            False,
        )
        for n in range(start, stop)
    ]


def bulk_load(db: Database, campaign_id: int, start: int, stop: int, regions: list[str]) -> None:
    """Synthetic signature rows ``start``..``stop`` for the campaign, in big batches, bare driver."""
    bulk_load_signatures(db, COLUMNS, start, stop, lambda lo, hi: _rows(campaign_id, lo, hi, regions, db.kind))


def spread_over_shards(db: Database, campaign_id: int) -> None:
    """``rebuild_counts`` puts each region's count on shard 0; split it over all shards as sign-ons would."""
    shards = get_settings().count_shards

    def work(session: Any) -> None:
        rows = session.execute(
            text("SELECT region_code, count, updated_at FROM region_count WHERE campaign_id = :c AND shard = 0"),
            {"c": campaign_id},
        ).all()
        session.execute(text("DELETE FROM region_count WHERE campaign_id = :c"), {"c": campaign_id})
        new = []
        for code, count, updated_at in rows:
            for shard in range(shards):
                part = count // shards + (1 if shard < count % shards else 0)
                if part:
                    new.append({"c": campaign_id, "r": code, "s": shard, "n": part, "u": updated_at})
        if new:
            session.execute(
                text(
                    "INSERT INTO region_count (campaign_id, region_code, shard, count, updated_at) "
                    "VALUES (:c, :r, :s, :n, :u)"
                ),
                new,
            )

    run_write(db.engine, work)


def time_calls(fn: Callable[[], Any], budget_s: float | None = None) -> list[float]:
    for _ in range(WARMUP):
        fn()
    samples: list[float] = []
    started = time.perf_counter()
    for _ in range(CALLS):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
        if budget_s is not None and time.perf_counter() - started > budget_s and len(samples) >= 10:
            break
    return samples


def bench_database(db: Database, sizes: list[int], factory: SignerFactory) -> list[list[Any]]:
    engine = db.engine
    campaign_id, slug = make_published_campaign(engine, "read")
    loaded = signed = 0
    rows = []
    for size in sizes:
        t0 = time.perf_counter()
        target = size - signed - REAL_SIGNS  # bulk rows, so that bulk + real sign-ons make ``size``
        bulk_load(db, campaign_id, loaded, target, factory.region_codes)
        loaded = target
        run_write(engine, lambda s: rebuild_counts(session=s, campaign_id=campaign_id))
        spread_over_shards(db, campaign_id)
        for g in factory.make(REAL_SIGNS):
            run_write(engine, lambda s, g=g: sign(session=s, campaign_slug=slug, signer=g.signer))
        signed += REAL_SIGNS
        load_s = time.perf_counter() - t0

        def total() -> int:
            with read_session(engine) as s:
                return count_total(session=s, campaign_id=campaign_id)

        def by_region() -> Any:
            with read_session(engine) as s:
                return rank_regions(session=s, campaign_id=campaign_id, scheme_id=SCHEME_ID)

        def naive() -> list[Any]:
            with read_session(engine) as s:
                return s.execute(text(NAIVE_SQL), {"c": campaign_id}).all()

        expected = loaded + signed
        frame, naive_rows = by_region(), naive()
        if not (total() == int(frame["count"].sum()) == sum(n for _, n in naive_rows) == expected):
            raise AssertionError(f"counts disagree at {expected:,} signatures")
        with engine.connect() as conn:
            shard_rows = conn.execute(
                text("SELECT count(*) FROM region_count WHERE campaign_id = :c"), {"c": campaign_id}
            ).scalar_one()

        t_total, t_regions, t_naive = time_calls(total), time_calls(by_region), time_calls(naive, NAIVE_BUDGET_S)
        rows.append(
            [
                db.kind,
                f"{expected:,}",
                shard_rows,
                fmt_ms(median(t_total)),
                fmt_ms(percentile(t_total, 0.95)),
                fmt_ms(median(t_regions)),
                fmt_ms(percentile(t_regions, 0.95)),
                fmt_ms(median(t_naive)),
                fmt_ms(percentile(t_naive, 0.95)),
                len(t_naive),
                f"{median(t_naive) / median(t_regions):,.1f}×",
            ]
        )
        print(
            f"  [{db.kind}] {expected:>9,} signatures (load {load_s:.1f} s, {shard_rows} count rows): "
            f"total {fmt_ms(median(t_total))} ms, regions {fmt_ms(median(t_regions))} ms, "
            f"naive scan {fmt_ms(median(t_naive))} ms",
            flush=True,
        )
    return rows


def run(opts: Options) -> None:
    sizes = [1_000, 10_000] if opts.quick else [10_000, 100_000, 1_000_000]
    print(f"\n== {NAME}: reading one campaign's counts at {', '.join(f'{s:,}' for s in sizes)} signatures ==")
    print(f"  fresh read session per call; median/p95 of up to {CALLS} calls after {WARMUP} warm-up calls", flush=True)
    started = time.perf_counter()
    factory = SignerFactory(seed=11)
    rows, skipped = for_each_database(opts, lambda db: bench_database(db, sizes, factory))
    print_table(
        "Reading counts (ms per call, fresh read session each; naive = GROUP BY scan of the signatures)",
        [
            "db",
            "signatures",
            "count rows",
            "total p50",
            "total p95",
            "regions p50",
            "regions p95",
            "naive p50",
            "naive p95",
            "naive calls",
            "naive/regions",
        ],
        rows,
    )
    for line in skipped:
        print(line)
    print(f"  ({NAME} took {time.perf_counter() - started:.0f} s)")
