"""Sign-on write path: signatures per second through the service layer vs. the bare driver.

For each database kind and thread count, four rates, measured interleaved in the same run:

* service        ``run_write(engine, lambda s: sign(...))`` - validation, ORM session, retries, all of it -
                 with flood control and confirmation OFF (limits 0, no rules, no client address, a campaign
                 that counts at once);
* service ON     the same call with both ON: a ``require_confirmation`` campaign (the signature is stored
                 pending and its confirmation email queued in the outbox, in the same transaction; SMTP is
                 configured so ``enqueue`` works, nothing is sent), the default per-address limits, two
                 blocklist rules loaded, and each signer from a random client address out of a large pool;
* raw insert     one plain INSERT of one signature row per transaction, bare driver;
* raw same-stmts the statements the service issues per sign (campaign lookup, INSERT ... ON CONFLICT
                 DO NOTHING RETURNING, counter upsert, total SUM), one transaction each, bare driver.

Threads share one engine (one pool) for the service; each raw thread has its own connection.
Each figure is the median of 3 repeats. The statements a sign-on sends (OFF and ON) are listed as the
driver sent them (``common.statements_sent``: below SQLAlchemy, so the DBAPI-cursor statements show).
"""

from __future__ import annotations

import ipaddress
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

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
    statements_sent,
)
from campaigns.core.audit import CLI
from campaigns.core.db import run_write
from campaigns.core.settings import get_settings, override_settings
from campaigns.signatures.rules import add_rule, remove_rule
from campaigns.signatures.signing import sign

NAME = "sign_write"
THREADS = (1, 4, 16)
REPEATS = 3
SERVICE_SHARE_TARGET = 0.50  # service rate >= 50% of the raw-insert rate
SQLITE_RATE_TARGET = 2000.0  # signatures/s on SQLite (the OFF path, and the ON path)

# Flood control and confirmation OFF: no limits, no rules, no client address, a campaign that counts at once.
FLAGS_OFF = {"sign_limit_per_minute": 0, "sign_limit_per_hour": 0, "sign_burst_per_minute": 0}
# ON: the default limits, and an SMTP server configured so confirmation emails can be queued (none is sent).
FLAGS_ON = {
    "sign_limit_per_minute": 5,
    "sign_limit_per_hour": 20,
    "sign_burst_per_minute": 0,
    "smtp_host": "127.0.0.1",
    "smtp_port": 2525,
    "smtp_security": "none",
    "mail_from": "Rally <petitions@rally.example.org>",
}
RULES = (("email", "block", "*@mailinator.com"), ("address", "block", "203.0.113.0/24"))
ADDRESS_POOL = 50_000  # distinct client addresses; a signer's is drawn at random, so few reach the limits
BLOCKED_SHARE = 0.005  # of sign-ons from the blocked range (203.0.113.0/24): flagged by the rules

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
    """Items: a GeneratedSigner (no client address), or a (GeneratedSigner, client address) pair."""
    engine = db.engine

    def setup() -> tuple[Callable[[Any], Any], Callable[[], None]]:
        def do(item: GeneratedSigner | tuple[GeneratedSigner, str]) -> None:
            g, address = item if isinstance(item, tuple) else (item, None)
            result = run_write(
                engine, lambda s: sign(session=s, campaign_slug=slug, signer=g.signer, client_address=address)
            )
            if not result.created:
                raise AssertionError(f"signer {g.signer.email} was not stored")

        return do, lambda: None

    return setup


class ClientAddresses:
    """Client addresses as a busy campaign sees them: a large pool (about 1 in 10 IPv6) drawn at random,
    and a few from the blocklisted range."""

    def __init__(self, seed: int = 11) -> None:
        self._rng = rng = random.Random(seed)
        pool: list[str] = []
        while len(pool) < ADDRESS_POOL:
            if rng.random() < 0.1:
                pool.append(str(ipaddress.IPv6Address((0x2A00 << 112) | rng.getrandbits(100))))
                continue
            address = ipaddress.IPv4Address(rng.randrange(1 << 24, 224 << 24))
            if address.is_global:
                pool.append(str(address))
        self.pool = pool

    def draw(self) -> str:
        if self._rng.random() < BLOCKED_SHARE:
            return f"203.0.113.{self._rng.randrange(1, 255)}"
        return self._rng.choice(self.pool)

    def pair(self, signers: list[GeneratedSigner]) -> list[tuple[GeneratedSigner, str]]:
        return [(g, self.draw()) for g in signers]


@contextmanager
def flags_off() -> Iterator[None]:
    with override_settings(**FLAGS_OFF):
        yield


@contextmanager
def flags_on(engine: Engine) -> Iterator[None]:
    """The ON settings, with the blocklist rules loaded (removed again afterwards: the OFF path has none)."""
    with override_settings(**FLAGS_ON):
        ids = run_write(
            engine,
            lambda s: [add_rule(session=s, kind=k, action=a, pattern=p, actor=CLI) for k, a, p in RULES],
        )
        try:
            yield
        finally:
            run_write(engine, lambda s: [remove_rule(session=s, rule_id=i, actor=CLI) for i in ids if i is not None])


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


def service_statements(
    db: Database, slug: str, factory: SignerFactory, addresses: ClientAddresses | None = None
) -> list[str]:
    """The SQL the service sends for one new sign-on, every statement as the driver sent it (for the record,
    and to check the raw variant mirrors it). Blocklist rules are cached (read once per 10 s per process)."""

    def work(engine: Engine) -> None:
        g, address = factory.make(1)[0], addresses.pool[0] if addresses else None
        result = run_write(
            engine, lambda s: sign(session=s, campaign_slug=slug, signer=g.signer, client_address=address)
        )
        if not result.created:
            raise AssertionError("the signer was not stored")

    return statements_sent(db, work)


def _print_statements(kind: str, label: str, statements: list[str]) -> None:
    print(f"  [{kind}] statements the service sends per sign, {label} ({len(statements)}):")
    for s in statements:
        note = "   (the pool's pre-ping)" if s == ";" else ""
        print(f"    - {s[:150]}{'…' if len(s) > 150 else ''}{note}")


def _count_rows(db: Database, campaign_id: int) -> int:
    with db.engine.connect() as conn:
        return int(
            conn.execute(text("SELECT count(*) FROM signature WHERE campaign_id = :c"), {"c": campaign_id}).scalar_one()
        )


def _on_outcome(db: Database, campaign_id: int) -> tuple[dict[str, int], int]:
    """The ON campaign's signatures by status / flag reason, and its queued outbox messages."""
    with db.engine.connect() as conn:
        statuses = {
            f"{status}{':' + reason if reason else ''}": int(n)
            for status, reason, n in conn.execute(
                text(
                    "SELECT status, flag_reason, count(*) FROM signature WHERE campaign_id = :c "
                    "GROUP BY status, flag_reason ORDER BY 3 DESC"
                ),
                {"c": campaign_id},
            )
        }
        queued = conn.execute(
            text("SELECT count(*) FROM outbox WHERE campaign_id = :c AND status = 'queued'"), {"c": campaign_id}
        ).scalar_one()
    return statuses, int(queued)


def bench_database(db: Database, opts: Options, factory: SignerFactory) -> tuple[list[list[Any]], list[list[Any]]]:
    per_repeat = 200 if opts.quick else 1500
    warmup = 30 if opts.quick else 100
    service_cid, service_slug = make_published_campaign(db.engine, "svc")
    on_cid, on_slug = make_published_campaign(db.engine, "svc-on", require_confirmation=True)
    insert_cid, insert_slug = make_published_campaign(db.engine, "raw-insert")
    same_cid, same_slug = make_published_campaign(db.engine, "raw-same")
    addresses = ClientAddresses()

    with flags_off():
        _print_statements(db.kind, "flood control and confirmation OFF", service_statements(db, service_slug, factory))
    with flags_on(db.engine):
        _print_statements(db.kind, "both ON", service_statements(db, on_slug, factory, addresses))
    # (name, worker, context the run is timed in, whether its signers come from client addresses)
    methods: dict[str, tuple[Any, Callable[[], Any], bool]] = {
        "service": (service_setup(db, service_slug), flags_off, False),
        "service ON": (service_setup(db, on_slug), lambda: flags_on(db.engine), True),
        "raw insert": (raw_insert_setup(db, insert_cid, insert_slug), nullcontext, False),
        "raw same-stmts": (raw_same_setup(db, same_cid, same_slug), nullcontext, False),
    }
    expected = {"service": 2, "service ON": 2, "raw insert": 0, "raw same-stmts": 0}  # 2: the statements lists

    def timed(name: str, threads: int, n: int) -> float:
        setup, context, with_addresses = methods[name]
        signers: list[Any] = factory.make(n)
        if with_addresses:
            signers = addresses.pair(signers)
        with context():
            elapsed = run_threads(threads, signers, setup)
        expected[name] += n
        return elapsed

    rows, on_rows = [], []
    for threads in THREADS:
        for name in methods:  # warm-up: pools filled, statements cached, pages hot
            timed(name, threads, warmup)
        rates: dict[str, list[float]] = {name: [] for name in methods}
        for _ in range(REPEATS):
            for name in methods:  # interleaved, so noise and table growth hit all alike
                rates[name].append(per_repeat / timed(name, threads, per_repeat))
        svc, on, ins, same = (median(rates[n]) for n in methods)

        def spread(name: str, rates: dict[str, list[float]] = rates) -> str:
            return f"{min(rates[name]):,.0f}–{max(rates[name]):,.0f}"

        def verdict(ok: bool) -> str:
            return "PASS" if ok else "MISS"

        rows.append(
            [
                db.kind,
                threads,
                fmt_rate(svc),
                spread("service"),
                fmt_rate(ins),
                fmt_rate(same),
                f"{svc / ins:.0%}",
                f"{svc / same:.0%}",
                verdict(svc >= SERVICE_SHARE_TARGET * ins),
                verdict(svc >= SERVICE_SHARE_TARGET * same),
                verdict(svc >= SQLITE_RATE_TARGET) if db.kind == "sqlite" else "n.a.",
            ]
        )
        on_rows.append(
            [
                db.kind,
                threads,
                fmt_rate(svc),
                spread("service"),
                fmt_rate(on),
                spread("service ON"),
                f"{on / svc:.0%}",
                verdict(on >= SQLITE_RATE_TARGET) if db.kind == "sqlite" else "n.a.",
            ]
        )
        print(
            f"  [{db.kind}] {threads:>2} threads: service OFF {svc:,.0f}/s, service ON {on:,.0f}/s ({on / svc:.0%}), "
            f"raw insert {ins:,.0f}/s, raw same-stmts {same:,.0f}/s",
            flush=True,
        )
    campaigns = {"service": service_cid, "service ON": on_cid, "raw insert": insert_cid, "raw same-stmts": same_cid}
    for name, cid in campaigns.items():
        found = _count_rows(db, cid)
        if found != expected[name]:
            raise AssertionError(f"{name}: expected {expected[name]} signatures, found {found}")
    statuses, queued = _on_outcome(db, on_cid)
    if queued != expected["service ON"]:
        raise AssertionError(f"service ON: expected {expected['service ON']} confirmation emails, found {queued}")
    print(
        f"  [{db.kind}] service ON stored {expected['service ON']:,} signatures ("
        + ", ".join(f"{k} {v:,}" for k, v in statuses.items())
        + f") and queued {queued:,} confirmation emails",
        flush=True,
    )
    return rows, on_rows


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
    on_rows: list[list[Any]] = []

    def one(db: Database) -> list[list[Any]]:
        rows, on = bench_database(db, opts, factory)
        on_rows.extend(on)
        return rows

    rows, skipped = for_each_database(opts, one)
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
    print_table(
        f"Sign-on with flood control and confirmation ON vs OFF (signatures/s, service layer; "
        f"target: ON ≥ {SQLITE_RATE_TARGET:,.0f}/s on SQLite)",
        ["db", "threads", "OFF/s", "OFF range", "ON/s", "ON range", "ON/OFF", "ON ≥2,000/s"],
        on_rows,
    )
    sqlite_on = [float(r[4].replace(",", "")) for r in on_rows if r[0] == "sqlite"]
    if sqlite_on:
        ok = min(sqlite_on) >= SQLITE_RATE_TARGET
        print(
            f"  target ON ≥ {SQLITE_RATE_TARGET:,.0f} signatures/s on SQLite, every thread count: "
            f"{'PASS' if ok else 'MISS'} ({min(sqlite_on):,.0f}–{max(sqlite_on):,.0f}/s)"
        )
    print(f"  ({NAME} took {time.perf_counter() - started:.0f} s)")
