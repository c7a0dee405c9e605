"""Shared helpers: fresh databases, a published campaign, realistic signers, timing, tables."""

from __future__ import annotations

import itertools
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url

from campaigns.catalog.lifecycle import publish_campaign
from campaigns.catalog.listing import create_campaign
from campaigns.core.db import make_engine, normalize_url, run_write
from campaigns.core.errors import InvalidInput
from campaigns.core.migrate import upgrade
from campaigns.core.models import CampaignCreate
from campaigns.core.settings import get_settings
from campaigns.regions.schemes import get_scheme
from campaigns.signatures.signing import SignerInput

# One scratch database per run: concurrent runs on one server (CI jobs, the smoke test) never drop each other's.
BENCH_DB_NAME = f"rally_bench_{os.getpid()}"
SCHEME_ID = "us-states"


@dataclass
class Options:
    quick: bool
    postgres_url: str | None


@dataclass
class Database:
    """A fresh, migrated database of one kind, and what a bare driver needs to reach it."""

    kind: str  # "sqlite" | "postgresql"
    engine: Engine
    url: str
    sqlite_path: Path | None = None

    @property
    def raw_conninfo(self) -> str:
        """A libpq URI for psycopg (PostgreSQL only)."""
        return make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)


# --------------------------------------------------------------------------- databases


@contextmanager
def sqlite_database() -> Iterator[Database]:
    with tempfile.TemporaryDirectory(prefix="rally-bench-") as folder:
        path = Path(folder) / "bench.db"
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        upgrade(engine)
        try:
            yield Database("sqlite", engine, url, sqlite_path=path)
        finally:
            engine.dispose()


@contextmanager
def postgres_database(admin_url: str, name: str = BENCH_DB_NAME) -> Iterator[Database]:
    """Create ``name`` (``rally_bench_<pid>``) on the server of ``admin_url``, migrate it, drop it at the end."""
    admin_url = normalize_url(admin_url)
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine = make_engine(url)
        try:
            upgrade(engine)
            yield Database("postgresql", engine, url)
        finally:
            engine.dispose()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def database_kinds(opts: Options, name: str = BENCH_DB_NAME) -> list[tuple[str, Callable[[], Any] | None, str]]:
    """(kind, context-manager factory or None, reason when skipped)."""
    kinds: list[tuple[str, Callable[[], Any] | None, str]] = [("sqlite", sqlite_database, "")]
    if opts.postgres_url:
        url = opts.postgres_url
        problem = _postgres_problem(url)
        kinds.append(("postgresql", None if problem else (lambda: postgres_database(url, name)), problem))
    else:
        kinds.append(
            ("postgresql", None, "no PostgreSQL URL (--postgres-url, BENCH_DATABASE_URL or TEST_DATABASE_URL)")
        )
    return kinds


def _postgres_problem(url: str) -> str:
    """Why the PostgreSQL server at ``url`` can't host the benchmark, or "" when it can."""
    try:
        engine = make_engine(normalize_url(url))
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return f"cannot reach {make_url(normalize_url(url)).render_as_string(hide_password=True)}: {reason}"
    return ""


_campaign_seq = itertools.count(1)


def make_published_campaign(
    engine: Engine, prefix: str = "bench", *, require_confirmation: bool = False
) -> tuple[int, str]:
    """A published us-states campaign with no deadline: (id, slug). Counts at once unless ``require_confirmation``."""
    slug = f"{prefix}-{next(_campaign_seq)}"

    def work(session: Any) -> int:
        campaign = create_campaign(
            session=session,
            campaign_create=CampaignCreate(
                slug=slug,
                title="Fund the libraries",
                purpose="Keep every branch library open on weekends.",
                body="## Why\nLibraries are where communities meet.",
                goal=1_000_000,
                region_scheme=SCHEME_ID,
                require_confirmation=require_confirmation,
            ),
        )
        publish_campaign(session=session, campaign_id=campaign.id)
        return int(campaign.id)

    return run_write(engine, work), slug


def raw_sqlite_connect(path: Path) -> Any:
    """A bare ``sqlite3`` connection set up like the app's: WAL, synchronous=NORMAL, busy timeout, FKs."""
    import sqlite3

    busy_ms = get_settings().sqlite_busy_timeout_ms
    conn = sqlite3.connect(str(path), timeout=busy_ms / 1000, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA busy_timeout={busy_ms}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


# --------------------------------------------------------------------------- statements on the wire


def statements_sent(db: Database, work: Callable[[Engine], Any]) -> list[str]:
    """Every statement ``work(engine)`` sends to the database, as the driver hands it over.

    Seen below SQLAlchemy, so statements run straight on the DBAPI cursor (``db.HotStatement``), the
    driver-issued ``BEGIN IMMEDIATE`` and the pool's pre-ping count too: SQLite's ``set_trace_callback``,
    libpq's protocol trace (``PQtrace``) for psycopg. ``work`` runs twice on a fresh engine for ``db``:
    once to warm up (connection set up, caches filled), then traced. Values are shown as ``?``.
    """
    engine = make_engine(db.url)
    connections: list[Any] = []
    event.listen(engine, "connect", lambda dbapi_conn, _record: connections.append(dbapi_conn))
    try:
        work(engine)
        if db.kind == "sqlite":
            raw: list[str] = []
            for conn in connections:
                conn.set_trace_callback(raw.append)
            try:
                work(engine)
            finally:
                for conn in connections:
                    conn.set_trace_callback(None)
            return [_shape(sql) for sql in raw]
        from psycopg import pq

        with tempfile.TemporaryFile() as trace:
            for conn in connections:
                conn.pgconn.trace(trace.fileno())
                conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            try:
                work(engine)
            finally:
                for conn in connections:
                    conn.pgconn.untrace()
            trace.seek(0)
            return _libpq_statements(trace.read().decode("utf-8", "replace"))
    finally:
        engine.dispose()


_LITERAL = re.compile(r"'(?:[^']|'')*'|(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")


def _shape(sql: str) -> str:
    """One line, literal values (SQLite's trace expands the bound ones) as ``?``."""
    return " ".join(_LITERAL.sub("?", sql).split())


_TRACE_RECORD = re.compile(r"\n(?=[FB]\t\d+\t)")
_TRACE_QUERY = re.compile(r'^F\t\d+\tQuery\t "(?P<sql>.*)"$', re.S)
_TRACE_PARSE = re.compile(r'^F\t\d+\tParse\t "(?P<name>[^"]*)" "(?P<sql>.*)" \d+[ N\d]*$', re.S)
_TRACE_BIND = re.compile(r'^F\t\d+\tBind\t "[^"]*" "(?P<name>[^"]*)"')


def _libpq_statements(trace: str) -> list[str]:
    """The statements a libpq trace shows the client sending: simple queries, and each extended-protocol
    execution (a Bind) as the statement it binds (parsed just before, or prepared earlier: ``[prepared]``)."""
    out: list[str] = []
    parsed: dict[str, str] = {}
    for record in _TRACE_RECORD.split(trace.strip()):
        if m := _TRACE_QUERY.match(record):
            out.append(" ".join(m["sql"].split()))
        elif m := _TRACE_PARSE.match(record):
            parsed[m["name"]] = " ".join(m["sql"].split())
        elif m := _TRACE_BIND.match(record):
            sql = parsed.get(m["name"])
            out.append(sql if sql is not None else f"[prepared statement {m['name']}]")
    return out


# --------------------------------------------------------------------------- bulk loads

BULK_BATCH = 50_000


def bulk_load_signatures(
    db: Database,
    columns: Sequence[str],
    start: int,
    stop: int,
    rows: Callable[[int, int], Iterable[Sequence[Any]]],
) -> None:
    """Signature rows ``rows(lo, hi)`` for ``start``..``stop``, in big batches through the bare driver.

    ``executemany`` on SQLite (one transaction a batch); ``COPY`` on PostgreSQL, then ``VACUUM ANALYZE``
    (what autovacuum does after a big load). Each row holds a value for each of ``columns``.
    """
    names = ", ".join(columns)
    batches = ((lo, min(stop, lo + BULK_BATCH)) for lo in range(start, stop, BULK_BATCH))
    if db.kind == "sqlite":
        assert db.sqlite_path is not None
        conn = raw_sqlite_connect(db.sqlite_path)
        sql = f"INSERT INTO signature ({names}) VALUES ({', '.join('?' * len(columns))})"
        try:
            for lo, hi in batches:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(sql, rows(lo, hi))
                conn.execute("COMMIT")
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(db.raw_conninfo) as conn:
        with conn.cursor() as cur:
            for lo, hi in batches:
                with cur.copy(f"COPY signature ({names}) FROM STDIN") as copy:
                    for row in rows(lo, hi):
                        copy.write_row(row)
            conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE signature")


# --------------------------------------------------------------------------- signers

FIRST = (
    "Ada Grace Alan Barbara Katherine Margaret Dorothy Linus Guido Frances José Zoë Chloé Mateo Aisha Omar "
    "Priya Ravi Mei Hiroshi Sven Ingrid Fatima Kwame Amara Liam Olivia Noah Emma Lucía Björn Siobhan"
).split()
LAST = (
    "Lovelace Hopper Turing Liskov Johnson Hamilton Vaughan Torvalds Rossum Allen García Müller Nguyễn Okafor "
    "Khan Patel Chen Tanaka Larsen Johansson Haddad Mensah Diallo O'Brien Smith Williams Brown Jones Davis "
    "Martínez Kowalski"
).split()
DOMAINS = ("gmail.com",) * 5 + ("yahoo.com", "outlook.com", "hotmail.com", "proton.me", "icloud.com", "example.org")
COMMENTS = (
    "My branch library is where I learned to read.",
    "Weekend hours matter for working families.",
    "Please keep the doors open!",
)
UTM_SOURCES = ("newsletter", "facebook", "twitter", "mastodon", "email")


def _ascii(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isascii() and c.isalnum())


@dataclass(frozen=True)
class GeneratedSigner:
    signer: SignerInput  # what the form would submit
    region_code: str  # the region it resolves to
    email_canonical: str  # good enough for the bare-driver baselines (unique per signer)


class SignerFactory:
    """Distinct, realistic signers across the us-states regions (some with ZIP codes, comments, UTM tags)."""

    def __init__(self, seed: int = 7) -> None:
        self._rng = random.Random(seed)
        self._seq = itertools.count(1)
        scheme = get_scheme(SCHEME_ID)
        self.region_codes = [r.code for r in scheme.regions]
        self._zips: dict[str, list[str]] = {}
        for prefix in range(1000):
            zip_code = f"{prefix:03d}01"
            try:
                region = scheme.region_for_postal_code(zip_code)
            except InvalidInput:
                continue
            if region is not None:
                self._zips.setdefault(region.code, []).append(zip_code)

    def make(self, n: int) -> list[GeneratedSigner]:
        rng = self._rng
        out = []
        for _ in range(n):
            k = next(self._seq)
            first, last = rng.choice(FIRST), rng.choice(LAST)
            domain = rng.choice(DOMAINS)
            local = f"{_ascii(first).lower()}.{_ascii(last).lower()}{k}"
            if domain == "gmail.com" and rng.random() < 0.2:
                local += "+petition"
            email = f"{local}@{domain}"
            if rng.random() < 0.1:
                email = email.capitalize()
            region = rng.choice(self.region_codes)
            postal = None
            picked: str | None = region
            zips = self._zips.get(region)
            roll = rng.random()
            if zips and roll < 0.25:
                postal = rng.choice(zips)
            elif zips and roll < 0.40:
                postal, picked = rng.choice(zips), None
            signer = SignerInput(
                full_name=f"{first} {last}",
                email=email,
                region_code=picked,
                postal_code=postal,
                comment=rng.choice(COMMENTS) if rng.random() < 0.1 else None,
                contact_consent=rng.random() < 0.5,
                utm_source=rng.choice(UTM_SOURCES) if rng.random() < 0.3 else None,
                utm_medium="social" if rng.random() < 0.2 else None,
            )
            out.append(GeneratedSigner(signer, region, email.lower()))
        return out


# --------------------------------------------------------------------------- timing


def run_threads(
    n_threads: int,
    items: Sequence[Any],
    setup: Callable[[], tuple[Callable[[Any], Any], Callable[[], None]]],
) -> float:
    """Split ``items`` over ``n_threads`` threads and return the wall time to process them all.

    ``setup`` runs in each thread before the clock starts (open a connection, ...) and returns
    (do one item, clean up). The clock runs from the moment every thread is ready until the last ends.
    """
    chunks = [items[i::n_threads] for i in range(n_threads)]
    barrier = threading.Barrier(n_threads + 1)
    errors: list[BaseException] = []

    def body(chunk: Sequence[Any]) -> None:
        try:
            do, close = setup()
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
            return
        try:
            barrier.wait()
            for item in chunk:
                do(item)
        except BaseException as exc:
            errors.append(exc)
        finally:
            close()

    threads = [threading.Thread(target=body, args=(chunk,), daemon=True) for chunk in chunks]
    for t in threads:
        t.start()
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        pass
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return elapsed


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def fmt_ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:,.3f}" if ms < 1 else f"{ms:,.2f}" if ms < 100 else f"{ms:,.0f}"


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A Markdown table (pastes straight into bench/README.md)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
            + " |"
        )

    print(f"\n{title}\n")
    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|")
    for row in cells[1:]:
        print(line(row))
    print(flush=True)


def for_each_database(
    opts: Any, run: Callable[[Any], list[list[Any]]], name: str = BENCH_DB_NAME
) -> tuple[list[list[Any]], list[str]]:
    """Run ``run(db)`` on every database kind available; returns its rows and why others were skipped."""
    rows: list[list[Any]] = []
    skipped: list[str] = []
    for kind, make_db, reason in database_kinds(opts, name):
        if make_db is None:
            skipped.append(f"  {kind}: skipped ({reason})")
            continue
        with make_db() as db:
            rows += run(db)
    return rows, skipped


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def streamlit_server(cwd: Path, script: str, env: dict[str, str], ready_path: str) -> Iterator[tuple[str, int]]:
    """``python -m streamlit run <script>`` on a free loopback port; yields (base URL, server PID)."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}{ready_path}", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{script} did not start (exit code {server.poll()})")
            time.sleep(0.3)
        yield base, server.pid
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(5)


# --------------------------------------------------------------------------- a local SMTP server

_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.M | re.I)


class _Sink:
    """aiosmtpd handler: the Message-ID of every message accepted (None for one without)."""

    def __init__(self) -> None:
        self.received: list[str | None] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        found = _MESSAGE_ID.search(envelope.content)
        self.received.append(found.group(1).decode("ascii", "replace") if found else None)
        return "250 OK"


def _smtp_sink_main(port: int) -> None:
    """The sink process: serve SMTP on ``port``; on stdin, "take" answers (a JSON line on stdout) with the
    Message-IDs received since the last "take"; end of input stops it."""
    import json

    from aiosmtpd.controller import Controller

    sink = _Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        for command in sys.stdin:
            if command.strip() != "take":
                break
            taken, sink.received = sink.received, []
            print(json.dumps(taken), flush=True)
    finally:
        controller.stop()


class SmtpSink:
    """A local aiosmtpd server in its own process (as a real mail server would be: it does not share the
    sender's GIL), counting what it received."""

    def __init__(self, port: int, process: subprocess.Popen[str]) -> None:
        self.port = port
        self._process = process

    def take(self) -> list[str | None]:
        """The Message-IDs received since the last call, in arrival order (a message sent twice is there twice)."""
        import json

        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write("take\n")
        self._process.stdin.flush()
        return list(json.loads(self._process.stdout.readline()))


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", f"from bench.common import _smtp_sink_main; _smtp_sink_main({port})"],
        cwd=Path(__file__).resolve().parent.parent,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the local SMTP server did not start (exit code {process.poll()})")
        yield SmtpSink(port, process)
    finally:
        if process.stdin is not None:
            try:
                process.stdin.close()
            except OSError:
                pass
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@contextmanager
def demo_app(signatures: int, *, prefix: str) -> Iterator[str]:
    """A fresh SQLite demo (``campaigns demo --signatures N``) served by ``rally_app.py``; yields its base URL and
    removes the folder afterwards."""
    root = Path(__file__).resolve().parent.parent
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{folder / 'rally.db'}"}
    try:
        subprocess.run(
            [sys.executable, "-m", "campaigns", "demo", "--signatures", str(signatures)],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
        )
        with streamlit_server(root, "rally_app.py", env, "/api/health") as (base, _):
            yield base
    finally:
        shutil.rmtree(folder, ignore_errors=True)
