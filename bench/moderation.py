"""Moderation at scale: a campaign with 10,000 comments to review, worked through the queue's services.

A campaign of 100,000 signatures, one in ten with a pending comment (``--quick``: 20,000 and 2,000), beside
another campaign of the same size, is loaded with the bare driver. Then each operation runs the way the
*Comments to review* page runs it (a fresh ``read_session`` or ``run_write`` per call, the services of
``campaigns.signatures.moderation``):

* count               ``count_comments_for_review``: the pending comments
* first page          ``list_comment_page``, page 1 of 50 (its count included)
* deep page           the page in the middle of the queue (an OFFSET of about half the comments)
* filtered page       words ("library", about a third of the comments) and one region, page 1
* approve 50 chosen   ``approve_comments`` with the ids of a page of 50: one UPDATE, one audit entry
* approve all         ``approve_comments(matching=..., expected=N)``: every pending comment, one UPDATE

Baselines in the same run: the old one-at-a-time path, **50 single approves** (``approve_comment``, one
write each, as the old tab's buttons did one per click), and count and first page **without the queue's
index** (``ix_signature_comment_queue`` dropped for the measurement, then created again).

Read operations: median (p50) and p95 of 20 calls after 3 warm-up calls (``--quick``: 5); "approve 50
chosen" takes a new page of pending comments each time; "approve all" runs 3 times, the comments put back to
pending between runs (untimed). Target (printed PASS/MISS): each operation under 0.5 s.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from bench.common import (
    FIRST,
    LAST,
    Database,
    Options,
    bulk_load_signatures,
    fmt_ms,
    for_each_database,
    make_published_campaign,
    percentile,
    print_table,
)
from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.regions.schemes import get_scheme
from campaigns.signatures import moderation
from campaigns.signatures.moderation import CommentFilter

NAME = "moderation"
DB_NAME = f"rally_bench_moderation_{os.getpid()}"  # its own: concurrent runs never drop each other's
TARGET_SECONDS = 0.5
PAGE = 50
COLUMNS = (
    "campaign_id, full_name, email, email_canonical, region_code, comment, comment_status, contact_consent, "
    "status, created_at, source"
).split(", ")
WORDS = (
    "My branch library is where I learned to read.",
    "Weekend hours matter for working families.",
    "Please keep the doors open!",
    "The library is the only place in town with free internet.",
    "Our seniors depend on the Saturday hours.",
    "Every child deserves a library card.",
)
INDEX_SQL = (
    "CREATE INDEX ix_signature_comment_queue ON signature (campaign_id, created_at, id) WHERE comment IS NOT NULL"
)


def _rows(campaign_id: int, kind: str, lo: int, hi: int, rng: random.Random) -> list[tuple]:
    regions = [r.code for r in get_scheme("us-states").regions]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for n in range(lo, hi):
        at = start + timedelta(seconds=n * 5)
        stamp: Any = at.replace(tzinfo=None).isoformat(sep=" ") if kind == "sqlite" else at
        comment = f"{rng.choice(WORDS)} ({n})" if n % 10 == 0 else None
        email = f"signer{campaign_id}-{n}@example.org"
        out.append(
            (
                campaign_id,
                f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                email,
                email,
                regions[n % len(regions)],
                comment,
                "pending" if comment else None,
                False if kind != "sqlite" else 0,
                "counted",
                stamp,
                "online",
            )
        )
    return out


def _timed(call: Callable[[], Any], rounds: int, warm: int) -> list[float]:
    for _ in range(warm):
        call()
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        call()
        samples.append(time.perf_counter() - t0)
    return samples


def _row(kind: str, what: str, samples: list[float], baseline: list[float] | None = None) -> list[Any]:
    """A measured operation: its p50 and p95, how much faster than its baseline's p50, and the target."""
    p50, p95 = statistics.median(samples), percentile(samples, 0.95)
    versus = f"{statistics.median(baseline) / p50:,.1f}× faster" if baseline else ""
    return [kind, what, fmt_ms(p50), fmt_ms(p95), len(samples), versus, f"< 0.5 s {_verdict(p95)}"]


def _baseline(kind: str, what: str, samples: list[float]) -> list[Any]:
    p50, p95 = statistics.median(samples), percentile(samples, 0.95)
    return [kind, f"{what} (baseline)", fmt_ms(p50), fmt_ms(p95), len(samples), "", ""]


def _verdict(seconds: float) -> str:
    return "PASS" if seconds < TARGET_SECONDS else "MISS"


def _reset(db: Database, campaign_id: int) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE signature SET comment_status = 'pending' WHERE campaign_id = :c AND comment IS NOT NULL"),
            {"c": campaign_id},
        )


def bench_database(db: Database, signatures: int, rounds: int) -> list[list[Any]]:
    other, _ = make_published_campaign(db.engine, "moderation-other")
    campaign_id, _ = make_published_campaign(db.engine, "moderation")
    rng = random.Random(5)
    t0 = time.perf_counter()
    for cid in (other, campaign_id):
        bulk_load_signatures(db, COLUMNS, 0, signatures, lambda lo, hi, c=cid: _rows(c, db.kind, lo, hi, rng))
    if db.kind == "sqlite":
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    pending = CommentFilter(campaign_id)
    with read_session(db.engine) as session:
        total = moderation.count_comments_for_review(session=session, comment_filter=pending)
    print(
        f"  [{db.kind}] loaded 2 × {signatures:,} signatures, {total:,} comments to review in the campaign, "
        f"in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    warm = 3

    def read(work: Callable[[Any], Any]) -> Callable[[], Any]:
        def call() -> Any:
            with read_session(db.engine) as session:
                return work(session)

        return call

    count = read(lambda s: moderation.count_comments_for_review(session=s, comment_filter=pending))
    first = read(lambda s: moderation.list_comment_page(session=s, comment_filter=pending, per_page=PAGE))
    middle = max(1, total // PAGE // 2)
    deep = read(lambda s: moderation.list_comment_page(session=s, comment_filter=pending, page=middle, per_page=PAGE))
    narrowed = CommentFilter(campaign_id, words="LIBRARY", region_code="US-CA")
    filtered = read(lambda s: moderation.list_comment_page(session=s, comment_filter=narrowed, per_page=PAGE))
    with read_session(db.engine) as session:
        found = moderation.list_comment_page(session=session, comment_filter=narrowed, per_page=PAGE).total
    rows = []
    # baselines first: without the queue's index, then the old path
    with db.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_signature_comment_queue"))
    no_index_count, no_index_first = _timed(count, rounds, warm), _timed(first, rounds, warm)
    with db.engine.begin() as conn:
        conn.execute(text(INDEX_SQL))
        if db.kind == "postgresql":
            conn.execute(text("ANALYZE signature"))
    rows.append(_baseline(db.kind, "count, without the queue index", no_index_count))
    rows.append(_baseline(db.kind, f"first page of {PAGE}, without the queue index", no_index_first))

    def page_ids() -> list[int]:
        with read_session(db.engine) as session:
            page = moderation.list_comment_page(session=session, comment_filter=pending, per_page=PAGE)
        return [c.signature_id for c in page.comments]

    singles = []
    for _ in range(max(3, rounds // 4)):
        ids = page_ids()
        t0 = time.perf_counter()
        for sid in ids:
            run_write(db.engine, lambda s, i=sid: moderation.approve_comment(session=s, signature_id=i, actor=CLI))
        singles.append(time.perf_counter() - t0)
    rows.append(_baseline(db.kind, f"{PAGE} single approves, one write each (the old path)", singles))
    _reset(db, campaign_id)
    rows.append(_row(db.kind, "count", _timed(count, rounds, warm), no_index_count))
    rows.append(_row(db.kind, f"first page of {PAGE} (with its count)", _timed(first, rounds, warm), no_index_first))
    rows.append(_row(db.kind, f"page {middle:,} of {-(-total // PAGE):,}", _timed(deep, rounds, warm)))
    rows.append(_row(db.kind, f"filtered page: words and region ({found:,} match)", _timed(filtered, rounds, warm)))

    bulk = []
    for _ in range(rounds):
        ids = page_ids()
        t0 = time.perf_counter()
        outcome = run_write(
            db.engine,
            lambda s, chosen=ids: moderation.approve_comments(
                session=s, campaign_id=campaign_id, actor=CLI, signature_ids=chosen
            ),
        )
        bulk.append(time.perf_counter() - t0)
        assert outcome.changed == PAGE, outcome
    rows.append(_row(db.kind, f"approve {PAGE} chosen (one UPDATE)", bulk, singles))

    everything = []
    for _ in range(3):
        _reset(db, campaign_id)
        t0 = time.perf_counter()
        outcome = run_write(
            db.engine,
            lambda s: moderation.approve_comments(
                session=s, campaign_id=campaign_id, actor=CLI, matching=pending, expected=total
            ),
        )
        everything.append(time.perf_counter() - t0)
        assert outcome.changed == total, outcome
    rows.append(_row(db.kind, f"approve all {total:,} matching (one UPDATE)", everything))
    with read_session(db.engine) as session:
        left = moderation.count_comments_for_review(session=session, comment_filter=pending)
        assert left == 0, left
    for row in rows:
        print(f"  [{db.kind}] {row[1]}: p50 {row[2]} ms, p95 {row[3]} ms", flush=True)
    return rows


def run(opts: Options) -> None:
    signatures = 20_000 if opts.quick else 100_000
    rounds = 5 if opts.quick else 20
    print(f"\n== {NAME}: the comment queue, {signatures // 10:,} comments to review ==", flush=True)
    started = time.perf_counter()
    rows, skipped = for_each_database(opts, lambda db: bench_database(db, signatures, rounds), DB_NAME)
    print_table(
        f"Moderation at scale ({signatures // 10:,} pending comments in a campaign of {signatures:,} signatures; ms)",
        ["db", "operation", "p50 ms", "p95 ms", "runs", "vs baseline", "target"],
        rows,
    )
    for line in skipped:
        print(line)
    print(f"  ({NAME} took {time.perf_counter() - started:.0f} s)")
