"""Signer export: a million signers to CSV and XLSX with ``python -m campaigns export``, beside the raw dumps.

One campaign gets 1,000,000 signers (``--quick``: 20,000), loaded with the bare driver (``executemany``
on SQLite, ``COPY`` on PostgreSQL), every one of them exportable (counted, consenting). Then, each as
a separate process so its time and peak memory are its own (``os.wait4`` gives the child's max RSS):

* ``sqlite3 -csv``      the baseline on SQLite: Debian's ``sqlite3`` shell running the exporter's own
                        SELECT (same rows, same columns, timestamps formatted by the database);
* ``psql COPY``         the baseline on PostgreSQL: ``COPY (that SELECT) TO STDOUT WITH (FORMAT csv)``;
* ``export csv/xlsx``   the CLI as an operator runs it (start-up, migrations check, one snapshot, the
                        batches, the writer, the audit entry, the rename); "in-process" is the time the
                        CLI itself reports for the export, without the interpreter's start-up.

Targets (printed PASS/MISS, on wall-clock time): CSV within 3x of the raw dump and under 10 s; XLSX under
60 s; peak memory under 250 MB. Each run's CPU seconds (user + system) are shown too: on a shared machine they
move far less than the wall clock. On SQLite both processes do the database's work themselves, so their CPU
compares like for like; on PostgreSQL the server does it, and neither figure includes the server's CPU.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

from bench.common import (
    FIRST,
    LAST,
    UTM_SOURCES,
    Database,
    Options,
    bulk_load_signatures,
    for_each_database,
    make_published_campaign,
    print_table,
)
from campaigns.core.db import read_session
from campaigns.core.models import Campaign
from campaigns.export.filters import ExportFilter, check_filter
from campaigns.export.snapshot import rows_statement
from campaigns.regions.schemes import get_scheme

NAME = "export"
DB_NAME = "rally_bench_export"
ROOT = Path(__file__).resolve().parent.parent
CSV_FACTOR, CSV_SECONDS, XLSX_SECONDS, PEAK_MB = 3.0, 10.0, 60.0, 250.0
COLUMNS = (
    "campaign_id, full_name, email, email_canonical, region_code, postal_code, comment, contact_consent, "
    "consent_hash, consent_at, utm_source, utm_medium, utm_campaign, referrer, status, created_at, source"
).split(", ")
COMMENTS = ("Libraries matter.", "My branch taught me to read, and I want the same for my kids.", "=1+1 tricky")


def _rows(campaign_id: int, consent_hash: str, lo: int, hi: int, kind: str, rng: random.Random) -> list[tuple]:
    regions = [r.code for r in get_scheme("us-states").regions]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for n in range(lo, hi):
        at = start + timedelta(seconds=n * 7)
        stamp: Any = at.replace(tzinfo=None).isoformat(sep=" ") if kind == "sqlite" else at
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"signer{n}@example.org"
        tagged = rng.random() < 0.3
        out.append(
            (
                campaign_id,
                f"{first} {last}",
                email,
                email,
                regions[n % len(regions)],
                f"{10000 + n % 89999}" if rng.random() < 0.25 else None,
                rng.choice(COMMENTS) if rng.random() < 0.1 else None,
                True if kind != "sqlite" else 1,
                consent_hash,
                stamp,
                rng.choice(UTM_SOURCES) if tagged else None,
                "social" if tagged else None,
                "spring-push" if tagged else None,
                "https://news.example/story" if rng.random() < 0.1 else None,
                "counted",
                stamp,
                "online",
            )
        )
    return out


def load(db: Database, campaign_id: int, consent_hash: str, total: int) -> None:
    rng = random.Random(3)
    bulk_load_signatures(db, COLUMNS, 0, total, lambda lo, hi: _rows(campaign_id, consent_hash, lo, hi, db.kind, rng))


LAUNCHER = """
import os, subprocess, sys, time
started = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(proc.pid, 0)
seconds = time.perf_counter() - started
print(f"{seconds:.4f} {usage.ru_utime + usage.ru_stime:.4f} {usage.ru_maxrss}", file=sys.stderr)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measured(cmd: list[str], out: Path, env: dict[str, str] | None = None) -> tuple[float, float, float, str]:
    """Run ``cmd`` with stdout to ``out``: (seconds, its CPU seconds, its peak RSS in MB, its stderr)."""
    err = out.with_suffix(".stderr")
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        # a small launcher forks the command: a child forked from this (big) process would report
        # this process's memory as its own peak until it execs
        proc = subprocess.run(
            [sys.executable, "-c", LAUNCHER, *cmd], stdout=stdout, stderr=stderr, env=env, cwd=ROOT, check=False
        )
    message = err.read_text(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {message[-1000:]}")
    lines = message.rstrip().splitlines()
    seconds, cpu, peak_kb = lines[-1].split()
    return float(seconds), float(cpu), int(peak_kb) / 1024, "\n".join(lines[:-1])


def raw_sql(db: Database, slug: str) -> str:
    """The exporter's own SELECT with its values inlined, for the database's command-line client."""
    with read_session(db.engine) as session:
        checked = check_filter(session=session, export_filter=ExportFilter(campaigns=(slug,)))
    dialect = sqlite.dialect() if db.kind == "sqlite" else postgresql.dialect()
    statement = rows_statement(checked, db.kind)
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def bench_database(db: Database, total: int, folder: Path) -> list[list[Any]]:
    campaign_id, slug = make_published_campaign(db.engine, "export")
    with read_session(db.engine) as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        consent_hash = campaign.consent_hash
    t0 = time.perf_counter()
    load(db, campaign_id, consent_hash, total)
    print(f"  [{db.kind}] loaded {total:,} signers in {time.perf_counter() - t0:.1f} s", flush=True)
    sql = raw_sql(db, slug)
    rows: list[list[Any]] = []
    raw_seconds = raw_cpu = None
    if db.kind == "sqlite":
        tool = shutil.which("sqlite3")
        if tool is None:
            print("  [sqlite] baseline skipped: no sqlite3 shell (apt-get install sqlite3)")
        else:
            assert db.sqlite_path is not None
            command = [tool, "-csv", "-header", str(db.sqlite_path), sql]
            raw_seconds, raw_cpu, raw_mb, _ = measured(command, folder / "raw.csv")
            rows.append([db.kind, "sqlite3 -csv (baseline)", f"{total:,}", f"{raw_seconds:.2f}", f"{raw_cpu:.2f}"])
            rows[-1] += ["", "", f"{raw_mb:.0f}"]
    else:
        tool = shutil.which("psql")
        if tool is None:
            print("  [postgresql] baseline skipped: no psql (apt-get install postgresql-client)")
        else:
            copy = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)"
            command = [tool, "-X", "-q", db.raw_conninfo, "-c", copy]
            raw_seconds, raw_cpu, raw_mb, _ = measured(command, folder / "raw.csv")
            rows.append([db.kind, "psql COPY (baseline)", f"{total:,}", f"{raw_seconds:.2f}", f"{raw_cpu:.2f}"])
            rows[-1] += ["", "", f"{raw_mb:.0f}"]
    env = {**os.environ, "DATABASE_URL": db.url, "RALLY_LOG_LEVEL": "WARNING"}
    for fmt in ("csv", "xlsx"):
        out = folder / f"export.{fmt}"
        log = folder / f"export-{fmt}.stdout"
        cmd = [sys.executable, "-m", "campaigns", "export", "--campaign", slug, "--format", fmt, "--output", str(out)]
        seconds, cpu, peak_mb, _ = measured(cmd, log, env)
        said = log.read_text()
        match = re.search(r"Exported ([\d,]+) signers .* in ([\d.]+) s", said)
        if not match or int(match.group(1).replace(",", "")) != total:
            raise AssertionError(f"export {fmt} did not export {total:,} signers: {said!r}")
        inside = float(match.group(2))
        size_mb = out.stat().st_size / 1e6
        verdicts = [f"memory {'PASS' if peak_mb < PEAK_MB else 'MISS'}"]
        ratio = ""
        if fmt == "xlsx":
            verdicts.insert(0, f"under {XLSX_SECONDS:.0f} s {'PASS' if seconds < XLSX_SECONDS else 'MISS'}")
        if fmt == "csv":
            within = f"under {CSV_SECONDS:.0f} s {'PASS' if seconds < CSV_SECONDS else 'MISS'}"
            verdicts.insert(0, within)
            if raw_seconds and raw_cpu:
                ratio = f"{seconds / raw_seconds:.1f}× ({cpu / raw_cpu:.1f}× CPU)"
                verdicts.insert(
                    0, f"≤{CSV_FACTOR:.0f}× raw {'PASS' if seconds <= CSV_FACTOR * raw_seconds else 'MISS'}"
                )
        rows.append(
            [
                db.kind,
                f"export {fmt} ({size_mb:,.0f} MB)",
                f"{total:,}",
                f"{seconds:.2f}",
                f"{cpu:.2f}",
                f"{inside:.2f}",
                ratio,
                f"{peak_mb:.0f}",
                ", ".join(verdicts),
            ]
        )
        print(f"  [{db.kind}] {fmt}: {seconds:.2f} s (in-process {inside:.2f} s), peak {peak_mb:.0f} MB", flush=True)
        out.unlink()
    for row in rows:
        row += [""] * (9 - len(row))
    return rows


def run(opts: Options) -> None:
    total = 20_000 if opts.quick else 1_000_000
    print(f"\n== {NAME}: {total:,} signers to CSV and XLSX, beside the raw dumps ==", flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rally-bench-export-") as folder:
        # its own scratch database: a million rows take minutes, and another benchmark's rally_bench
        # being dropped and re-created meanwhile would cut the connection
        rows, skipped = for_each_database(opts, lambda db: bench_database(db, total, Path(folder)), DB_NAME)
    print_table(
        "Signer export (separate processes; seconds wall-clock, peak RSS of that process)",
        ["db", "run", "rows", "seconds", "CPU s", "in-process s", "vs raw", "peak MB", "targets"],
        rows,
    )
    for line in skipped:
        print(line)
    print(f"  ({NAME} took {time.perf_counter() - started:.0f} s)")
