"""Sign-on write path: signatures per second through the service layer vs. the bare driver.

For each database kind and thread count, three rates, measured interleaved in the same run:

* service        ``run_write(engine, lambda s: sign(...))`` - validation, ORM session, retries, all of it;
* raw insert     one plain INSERT of one signature row per transaction, bare driver;
* raw same-stmts the statements the service issues per sign (campaign lookup, INSERT ... ON CONFLICT
                 DO NOTHING RETURNING, counter upsert, total SUM), one transaction each, bare driver.

Threads share one engine (one pool) for the service; each raw thread has its own connection.
Each figure is the median of 3 repeats.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event

from bench.common import (
    Database,
    GeneratedSigner,
    Options,
    SignerFactory,
    fmt_rate,
    for_each_database,
    make_published_campaign,
    median,
    print_table,
    raw_sqlite_connect,
    run_threads,
)
from campaigns.db import run_write
from campaigns.settings import get_settings
from campaigns.signing import sign

NAME = "sign_write"
THREADS = (1, 4, 16)
REPEATS = 3
SERVICE_SHARE_TARGET = 0.50  # service rate >= 50% of the raw-insert rate
SQLITE_RATE_TARGET = 2000.0  # signatures/s on SQLite

SIGNATURE_COLUMNS = (
    "campaign_id, full_name, email, email_canonical, region_code, postal_code, comment, comment_status, "
    "contact_consent, consent_hash, consent_at, utm_source, utm_medium, utm_campaign, referrer, status, created_at"
)


def _sql(kind: str, statement: str) -> str:
    """Write statements with ``?`` placeholders; psycopg wants ``%s``."""
    return statement if kind == "sqlite" else statement.replace("?", "%s")


INSERT_PLAIN = f"INSERT INTO signature ({SIGNATURE_COLUMNS}) VALUES ({', '.join('?' * 17)})"
INSERT_ON_CONFLICT = (
    f"INSERT INTO signature ({SIGNATURE_COLUMNS}) VALUES ({', '.join('?' * 17)}) "
    "ON CONFLICT (campaign_id, email_canonical) DO NOTHING RETURNING id"
)
LOOKUP_CAMPAIGN = "SELECT id, slug, status, deadline, region_scheme, consent_hash FROM campaign WHERE slug = ?"
BUMP_COUNT = (
    "INSERT INTO region_count (campaign_id, region_code, shard, count, updated_at) VALUES (?, ?, ?, 1, ?) "
    "ON CONFLICT (campaign_id, region_code, shard) DO UPDATE "
    "SET count = region_count.count + 1, updated_at = excluded.updated_at"
)
TOTAL = "SELECT coalesce(sum(count), 0) FROM region_count WHERE campaign_id = ?"


def _now(kind: str) -> Any:
    now = datetime.now(UTC)
    # SQLAlchemy stores SQLite datetimes as naive-UTC ISO text; psycopg takes the aware datetime.
    return now.replace(tzinfo=None).isoformat(sep=" ") if kind == "sqlite" else now


def _signature_params(kind: str, campaign_id: int, g: GeneratedSigner, now: Any) -> tuple[Any, ...]:
    s = g.signer
    consent = bool(s.contact_consent)
    return (
        campaign_id,
        s.full_name,
        s.email,
        g.email_canonical,
        g.region_code,
        s.postal_code,
        s.comment,
        "pending" if s.comment else None,
        int(consent) if kind == "sqlite" else consent,
        None,  # consent hash: looked up in the same-statements variant
        now if consent else None,
        s.utm_source,
        s.utm_medium,
        s.utm_campaign,
        s.referrer,
        "counted",
        now,
    )


# --------------------------------------------------------------------------- the three workers


def service_setup(db: Database, slug: str) -> Callable[[], tuple[Callable[[Any], Any], Callable[[], None]]]:
    engine = db.engine

    def setup() -> tuple[Callable[[Any], Any], Callable[[], None]]:
        def do(g: GeneratedSigner) -> None:
            result = run_write(engine, lambda s: sign(session=s, campaign_slug=slug, signer=g.signer))
            if not result.created:
                raise AssertionError(f"signer {g.signer.email} was not stored")

        return do, lambda: None

    return setup


def _raw_connect(db: Database) -> Any:
    if db.kind == "sqlite":
        assert db.sqlite_path is not None
        return raw_sqlite_connect(db.sqlite_path)
    import psycopg

    return psycopg.connect(db.raw_conninfo, autocommit=False)


def raw_insert_setup(
    db: Database, campaign_id: int, slug: str
) -> Callable[[], tuple[Callable[[Any], Any], Callable[[], None]]]:
    kind = db.kind
    sql = _sql(kind, INSERT_PLAIN)

    def setup() -> tuple[Callable[[Any], Any], Callable[[], None]]:
        conn = _raw_connect(db)
        if kind == "sqlite":

            def do(g: GeneratedSigner) -> None:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(sql, _signature_params(kind, campaign_id, g, _now(kind)))
                conn.execute("COMMIT")

        else:
            cur = conn.cursor()

            def do(g: GeneratedSigner) -> None:
                cur.execute(sql, _signature_params(kind, campaign_id, g, _now(kind)))
                conn.commit()

        return do, conn.close

    return setup


def raw_same_setup(
    db: Database, campaign_id: int, slug: str
) -> Callable[[], tuple[Callable[[Any], Any], Callable[[], None]]]:
    kind = db.kind
    lookup, insert, bump, total = (_sql(kind, s) for s in (LOOKUP_CAMPAIGN, INSERT_ON_CONFLICT, BUMP_COUNT, TOTAL))
    shards = get_settings().count_shards

    def setup() -> tuple[Callable[[Any], Any], Callable[[], None]]:
        conn = _raw_connect(db)
        cur = conn.cursor()

        def do(g: GeneratedSigner) -> None:
            if kind == "sqlite":
                cur.execute("BEGIN IMMEDIATE")
            now = _now(kind)
            cur.execute(lookup, (slug,))
            cid, _, _, _, _, consent_hash = cur.fetchone()
            params = list(_signature_params(kind, cid, g, now))
            params[9] = consent_hash if g.signer.contact_consent else None
            cur.execute(insert, params)
            if cur.fetchone() is not None:
                cur.execute(bump, (cid, g.region_code, random.randrange(shards), now))
            cur.execute(total, (cid,))
            cur.fetchone()
            if kind == "sqlite":
                cur.execute("COMMIT")
            else:
                conn.commit()

        return do, conn.close

    return setup


# --------------------------------------------------------------------------- the benchmark


def service_statements(db: Database, slug: str, g: GeneratedSigner) -> list[str]:
    """The SQL the service sends for one sign (for the record, and to check the raw variant mirrors it)."""
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        run_write(db.engine, lambda s: sign(session=s, campaign_slug=slug, signer=g.signer))
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return seen


def _count_rows(db: Database, campaign_id: int) -> int:
    from sqlalchemy import text

    with db.engine.connect() as conn:
        return int(
            conn.execute(text("SELECT count(*) FROM signature WHERE campaign_id = :c"), {"c": campaign_id}).scalar_one()
        )


def bench_database(db: Database, opts: Options, factory: SignerFactory) -> list[list[Any]]:
    per_repeat = 200 if opts.quick else 1500
    warmup = 30 if opts.quick else 100
    service_cid, service_slug = make_published_campaign(db.engine, "svc")
    insert_cid, insert_slug = make_published_campaign(db.engine, "raw-insert")
    same_cid, same_slug = make_published_campaign(db.engine, "raw-same")

    statements = service_statements(db, service_slug, factory.make(1)[0])
    print(f"  [{db.kind}] statements the service sends per sign ({len(statements)}):")
    for s in statements:
        print(f"    - {s[:110]}{'…' if len(s) > 110 else ''}")

    methods = {
        "service": service_setup(db, service_slug),
        "raw insert": raw_insert_setup(db, insert_cid, insert_slug),
        "raw same-stmts": raw_same_setup(db, same_cid, same_slug),
    }
    expected = {"service": 1, "raw insert": 0, "raw same-stmts": 0}
    rows = []
    for threads in THREADS:
        for name, setup in methods.items():  # warm-up: pools filled, statements cached, pages hot
            run_threads(threads, factory.make(warmup), setup)
            expected[name] += warmup
        rates: dict[str, list[float]] = {name: [] for name in methods}
        for _ in range(REPEATS):
            for name, setup in methods.items():  # interleaved, so noise and table growth hit all alike
                signers = factory.make(per_repeat)
                elapsed = run_threads(threads, signers, setup)
                rates[name].append(per_repeat / elapsed)
                expected[name] += per_repeat
        svc, ins, same = (median(rates[n]) for n in methods)
        spread = f"{min(rates['service']):,.0f}–{max(rates['service']):,.0f}"

        def verdict(ok: bool) -> str:
            return "PASS" if ok else "MISS"

        rows.append(
            [
                db.kind,
                threads,
                fmt_rate(svc),
                spread,
                fmt_rate(ins),
                fmt_rate(same),
                f"{svc / ins:.0%}",
                f"{svc / same:.0%}",
                verdict(svc >= SERVICE_SHARE_TARGET * ins),
                verdict(svc >= SERVICE_SHARE_TARGET * same),
                verdict(svc >= SQLITE_RATE_TARGET) if db.kind == "sqlite" else "n.a.",
            ]
        )
        print(
            f"  [{db.kind}] {threads:>2} threads: service {svc:,.0f}/s, raw insert {ins:,.0f}/s, "
            f"raw same-stmts {same:,.0f}/s",
            flush=True,
        )
    for name, cid in (("service", service_cid), ("raw insert", insert_cid), ("raw same-stmts", same_cid)):
        found = _count_rows(db, cid)
        if found != expected[name]:
            raise AssertionError(f"{name}: expected {expected[name]} signatures, found {found}")
    return rows


def run(opts: Options) -> None:
    print(f"\n== {NAME}: signatures per second, service layer vs. bare driver ==")
    s = get_settings()
    print(
        f"  {REPEATS} interleaved repeats of {200 if opts.quick else 1500} signatures per figure, median shown; "
        f"count_shards={s.count_shards}, db_pool_size={s.db_pool_size}",
        flush=True,
    )
    factory = SignerFactory()
    started = time.perf_counter()
    rows, skipped = for_each_database(opts, lambda db: bench_database(db, opts, factory))
    print_table(
        f"Sign-on write path (signatures/s; targets: service ≥ {SERVICE_SHARE_TARGET:.0%} of raw insert, "
        f"≥ {SQLITE_RATE_TARGET:,.0f}/s on SQLite)",
        [
            "db",
            "threads",
            "service/s",
            "service range",
            "raw insert/s",
            "raw same-stmts/s",
            "service/raw insert",
            "service/raw same",
            "≥50% raw insert",
            "≥50% raw same",
            "≥2,000/s",
        ],
        rows,
    )
    for line in skipped:
        print(line)
    if rows:
        for column, against in ((6, "raw insert"), (7, "raw same-stmts")):
            shares = [float(r[column].rstrip("%")) for r in rows]
            ok = min(shares) >= SERVICE_SHARE_TARGET * 100
            print(
                f"  target service ≥ {SERVICE_SHARE_TARGET:.0%} of {against}, every row: {'PASS' if ok else 'MISS'} "
                f"({min(shares):.0f}%–{max(shares):.0f}%)"
            )
        sqlite_rates = [float(r[2].replace(",", "")) for r in rows if r[0] == "sqlite"]
        if sqlite_rates:
            ok = min(sqlite_rates) >= SQLITE_RATE_TARGET
            print(
                f"  target ≥ {SQLITE_RATE_TARGET:,.0f} signatures/s on SQLite, every thread count: "
                f"{'PASS' if ok else 'MISS'} ({min(sqlite_rates):,.0f}–{max(sqlite_rates):,.0f}/s)"
            )
    print(f"  ({NAME} took {time.perf_counter() - started:.0f} s)")
