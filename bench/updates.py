"""An update to 100,000 opted-in signers: the time to queue it (the fan-out), and the outbox's pace after it.

For each database kind: 100,000 signatures that agreed to be contacted (``--quick``: 2,000), plus a tenth as
many that did not, are bulk-loaded (not timed). **Timed:** ``updates.start_sending`` (which counts the
recipients) and ``fanout.fan_out`` (every message rendered for its recipient, with its unsubscribe link and
headers, and queued in committed keyset batches of ``fanout.BATCH``). **Baseline**, in the same run: a plain
bulk ``INSERT`` of as many outbox rows (one prebuilt message, executemany in batches of the same size, no
rendering), removed afterwards. The run checks that every recipient has exactly one message queued.

Then the drain: a sample (``--quick``: 200, else 2,000) of the update's messages is sent to a local SMTP server
by ``outbox_worker.run_once`` with the rate limit lifted (the worker's own pace), each arriving once; and with
``RALLY_MAIL_PER_MINUTE`` at the sample plus 300, one ``drain`` sends exactly 300 more and stops until the
minute has room again: the limit, not the worker, sets the pace of a big update (100,000 at the default 600 a
minute: ~2.8 h).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from bench.common import (
    FIRST,
    LAST,
    Database,
    Options,
    bulk_load_signatures,
    fmt_rate,
    for_each_database,
    make_published_campaign,
    print_table,
    smtp_sink,
)
from campaigns.core import outbox_worker
from campaigns.core.audit import CLI
from campaigns.core.db import insert_for, read_session, run_write
from campaigns.core.models import OutboxMessage
from campaigns.core.settings import Settings, get_settings, override_settings
from campaigns.regions.schemes import get_scheme
from campaigns.updates import fanout, updates

NAME = "updates"
DB_NAME = f"rally_bench_updates_{os.getpid()}"
TARGET_SECONDS = 30.0
LIMIT_EXTRA = 300
MAIL_FROM = "Rally <news@rally.example.org>"
COLUMNS = "campaign_id, full_name, email, email_canonical, region_code, contact_consent, status, created_at, source"
_O = OutboxMessage.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
BODY = (
    "## We delivered your signatures\n\nThank you: the council read the petition on Monday and will vote on "
    "weekend hours next month. [Read the letter](https://rally.example.org/letter).\n\n**Next:** come to the "
    "public meeting, and bring a friend."
)


def _rows(campaign_id: int, kind: str, lo: int, hi: int, opted_in: int) -> list[tuple[Any, ...]]:
    regions = [r.code for r in get_scheme("us-states").regions]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for n in range(lo, hi):
        at = start + timedelta(seconds=n)
        stamp: Any = at.replace(tzinfo=None).isoformat(sep=" ") if kind == "sqlite" else at
        email = f"member{campaign_id}-{n}@example.org"
        consent: Any = n < opted_in if kind != "sqlite" else int(n < opted_in)
        name = f"{FIRST[n % len(FIRST)]} {LAST[(n // 7) % len(LAST)]}"
        out.append((campaign_id, name, email, email, regions[n % len(regions)], consent, "counted", stamp, "online"))
    return out


def _baseline(db: Database, n: int, message: str) -> float:
    """Seconds to bulk-INSERT ``n`` outbox rows (one prebuilt message) in batches, then remove them."""
    now = datetime.now(UTC)
    row = {"kind": "baseline", "status": "held", "to_address": "x@example.org", "subject": "Baseline"}
    row |= {"message": message, "attempts": 0, "next_attempt_at": now, "created_at": now}
    statement = insert_for(db.engine.dialect.name, _O)
    started = time.perf_counter()
    for lo in range(0, n, fanout.BATCH):
        batch = [{**row, "dedupe_key": f"baseline:{k}"} for k in range(lo, min(n, lo + fanout.BATCH))]
        with db.engine.begin() as conn:
            conn.execute(statement, batch)
    elapsed = time.perf_counter() - started
    with db.engine.begin() as conn:
        conn.execute(delete(_O).where(_O.c.kind == "baseline"))
    return elapsed


def bench_database(db: Database, opts: Options, sink: Any) -> list[list[Any]]:
    n = 2_000 if opts.quick else 100_000
    campaign_id, _ = make_published_campaign(db.engine, "updates")
    t0 = time.perf_counter()
    total = n + n // 10
    bulk_load_signatures(db, COLUMNS.split(", "), 0, total, lambda lo, hi: _rows(campaign_id, db.kind, lo, hi, n))
    print(f"  [{db.kind}] loaded {total:,} signatures ({n:,} opted in) in {time.perf_counter() - t0:.1f} s", flush=True)

    update_id = run_write(
        db.engine,
        lambda s: updates.draft_update(
            session=s, campaign_id=campaign_id, subject="We delivered your signatures", body=BODY, actor=CLI
        ),
    )
    with read_session(db.engine) as session:
        sample_message = updates.preview_text(session=session, update_id=update_id)
    baseline = _baseline(db, n, sample_message)

    started = time.perf_counter()
    run_write(db.engine, lambda s: updates.start_sending(session=s, update_id=update_id, actor=CLI))
    queued = fanout.fan_out(engine=db.engine, update_id=update_id)
    elapsed = time.perf_counter() - started
    with read_session(db.engine) as session:
        keys = session.execute(
            select(func.count(), func.count(func.distinct(_O.c.signature_id))).where(_O.c.update_id == update_id)
        ).one()
        progress = updates.get_progress(session=session, update_id=update_id)
    if queued != n or tuple(keys) != (n, n) or progress.status != "sent" or progress.recipients != n:
        raise AssertionError(f"fan-out queued {queued}, rows {tuple(keys)}, progress {progress}")
    print(
        f"  [{db.kind}] queued {n:,} update messages in {elapsed:.1f} s ({n / elapsed:,.0f}/s); plain bulk INSERT "
        f"of as many outbox rows {baseline:.1f} s; one message each, exactly",
        flush=True,
    )

    sample = 200 if opts.quick else 2_000
    with override_settings(mail_per_minute=1_000_000):
        t1 = time.perf_counter()
        sent = 0
        while sent < sample:
            sent += outbox_worker.run_once(engine=db.engine, limit=min(50, sample - sent)).sent
        drain_rate = sent / (time.perf_counter() - t1)
    arrived = sink.take()
    if len(arrived) != sample or len(set(arrived)) != sample:
        raise AssertionError(f"drained {sent}: {len(arrived)} arrived, {len(set(arrived))} distinct")
    # The limit: the sample went out within this minute; under a limit of that many plus LIMIT_EXTRA a minute, one
    # drain sends exactly LIMIT_EXTRA more and stops until the rolling minute has room again.
    with override_settings(mail_per_minute=sample + LIMIT_EXTRA):
        limited = outbox_worker.drain(engine=db.engine).sent
    if len(sink.take()) != limited:
        raise AssertionError("the limited drain's messages did not all arrive")
    per_minute = Settings().mail_per_minute  # the default RALLY_MAIL_PER_MINUTE
    return [
        [
            db.kind,
            f"{n:,}",
            f"{elapsed:.1f}",
            fmt_rate(n / elapsed),
            f"{baseline:.1f}",
            f"{elapsed / baseline:.1f}×",
            fmt_rate(drain_rate),
            f"{limited} (expected {LIMIT_EXTRA})",
            f"{n / per_minute / 60:.1f} h",
            "PASS" if elapsed < TARGET_SECONDS else "MISS",
        ]
    ]


def run(opts: Options) -> None:
    print(f"\n== {NAME}: an update to opted-in signers, queued and drained, vs. a plain bulk INSERT ==")
    started = time.perf_counter()
    with smtp_sink() as sink:
        settings = {"smtp_host": "127.0.0.1", "smtp_port": sink.port, "smtp_security": "none", "mail_from": MAIL_FROM}
        with override_settings(**settings, update_min_days=get_settings().update_min_days):
            rows, skipped = for_each_database(opts, lambda db: bench_database(db, opts, sink), DB_NAME)
    print_table(
        f"Update fan-out (target: queued in < {TARGET_SECONDS:.0f} s)",
        [
            "db",
            "recipients",
            "queue s",
            "queued/s",
            "bulk INSERT s",
            "vs INSERT",
            "drain/s (no limit)",
            "limit: sent in its minute",
            "all at the default limit",
            f"<{TARGET_SECONDS:.0f} s",
        ],
        rows,
    )
    for line in skipped:
        print(line)
    print(f"  ({NAME} took {time.perf_counter() - started:.0f} s)")
