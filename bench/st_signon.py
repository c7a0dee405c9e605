"""Sign-ons through the campaign page in a real app process, beside a naive one-form Streamlit app.

Rally is started the way production runs it (``streamlit run rally_app.py`` with the repository's
``.streamlit/config.toml``) on a fresh demo SQLite (``campaigns demo``) holding one more published
campaign made for the bench: us-states, no letter, no confirmation (the page's cheapest honest path).
The naive baseline (``bench/naive_app.py``: one ``st.form``, one ``INSERT``, a thank-you) is served
with the same settings: the same config file, and Rally's ``TCP_NODELAY`` fix in an ``st.App``
lifespan. Both are driven over Streamlit's own websocket protocol by ``bench/st_driver.py``:

1. **New visitors**, 10 at once: each sign-on is a new visitor (``GET /_stcore/health`` for the XSRF
   cookie, connect, first run of ``/?campaign=<slug>``, fill the form, submit, until the thank-you is
   drawn, disconnect). Targets: at least 2x today's page and at least 0.8x the naive app.
2. **Repeat sign-ons from 50 open tabs**: each tab signs, presses "Sign as someone else" (the naive
   form stays on its page), signs again. Target: at least 0.6x the naive app.

A sign-on counts only when its thank-you arrived. Rally, naive, Rally, naive... interleaved, so a
noisy neighbour hits both alike. After the run, each database must hold exactly the acknowledged
sign-ons. The flood limits are off for the bench server (every visitor comes from 127.0.0.1).

"Today" is the page before issue 14's changes (``TODAY_COMMIT``), measured in the same run from a
``git archive`` of that commit (or the checkout ``BENCH_SIGNON_TODAY`` names); ``--quick`` and a copy
without git history use the figures recorded in bench/README.md instead.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import st_driver
from bench.common import Options, fmt_ms, median, percentile, print_table, streamlit_server

NAME = "st_signon"
ROOT = Path(__file__).resolve().parent.parent
# The page before issue 14: main at TODAY_COMMIT, measured in the same run from a `git archive` of it (not in
# --quick), else these figures of bench/README.md's "before" run.
TODAY_COMMIT = "b68ecfc"
TODAY = {"new": 11.2, "repeat": 9.3}
TARGETS = {"new": (2.0, 0.8), "repeat": (None, 0.6)}  # (x today, x naive)
MODES = {"new": ("new visitors, 10 at once", 10, True), "repeat": ("repeat sign-ons, 50 open tabs", 50, False)}

NAIVE_SERVER = '''"""The naive baseline behind st.App, with Rally's TCP_NODELAY fix, like rally_app.py."""
from contextlib import asynccontextmanager

import streamlit as st

from campaigns.web.lifespan import enable_tcp_nodelay


@asynccontextmanager
async def lifespan(app):
    enable_tcp_nodelay()
    yield


app = st.App({page!r}, lifespan=lifespan)
'''

FIELDS: dict[str, str | bool] = {
    "^Your name$": "Signer {n}",
    "^Email$": "signer{n}@rally-bench.org",
    "^State$": "@random",
    "organizers .*email me": True,
}
RALLY = st_driver.FormSpec(FIELDS, done_text="Your name is on it", again="Sign as someone else")
NAIVE = st_driver.FormSpec(FIELDS, done_text="Your name is on it")


def _prepare_rally(folder: Path, root: Path) -> tuple[str, int, str]:
    """A demo SQLite in ``folder`` plus the bench's campaign: (url, campaign id, slug)."""
    url = f"sqlite:///{folder / 'rally.db'}"
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "campaigns", "demo", "--signatures", "2000"],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
    )
    # the campaign is made by that checkout's own code: its schema may be older than this one's models
    made = subprocess.run(
        [sys.executable, "-c", _MAKE_CAMPAIGN, url],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    campaign_id, slug = made.stdout.split()[-2:]
    return url, int(campaign_id), slug


_MAKE_CAMPAIGN = """
import sys
from bench.common import make_published_campaign
from campaigns.core.db import make_engine
engine = make_engine(sys.argv[1])
print(*make_published_campaign(engine, "signon"))
engine.dispose()
"""


def _today_checkout(folder: Path, quick: bool) -> Path | None:
    """The page before issue 14, to measure in the same run: ``BENCH_SIGNON_TODAY`` (a checkout), else (not in
    ``--quick``) ``git archive TODAY_COMMIT`` of this repository; None (the recorded figures) when neither works."""
    if os.environ.get("BENCH_SIGNON_TODAY"):
        return Path(os.environ["BENCH_SIGNON_TODAY"])
    if quick:
        return None
    target = folder / "today-checkout"
    target.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", TODAY_COMMIT], capture_output=True, check=False)
    if archive.returncode != 0:
        print(f"  (no git archive of {TODAY_COMMIT}: 'today' is bench/README.md's figures)")
        return None
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def _rally_total(url: str, campaign_id: int) -> int:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM signature WHERE campaign_id = ?", (campaign_id,)).fetchone()[0])


def _naive_total(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM signature").fetchone()[0])


def _server_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "RALLY_SIGN_LIMIT_PER_MINUTE": "0",  # every bench visitor comes from 127.0.0.1
        "RALLY_SIGN_LIMIT_PER_HOUR": "0",
        "RALLY_SIGN_BURST_PER_MINUTE": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _row(app: str, mode: str, stats: st_driver.SignStats, cpu: dict[str, float], elapsed: float) -> dict[str, Any]:
    rate = stats.done / elapsed if elapsed else 0.0
    return {
        "app": app,
        "mode": mode,
        "rate": rate,
        "done": stats.done,
        "p50": percentile(stats.latencies, 0.5),
        "p95": percentile(stats.latencies, 0.95),
        "cpu_ms": 1000 * cpu.get("server_cpu_s", float("nan")) / max(1, stats.done),
        "server_pct": cpu.get("server_cpu_pct", float("nan")),
        "machine_pct": cpu["machine_busy_pct"],
        "elements": percentile([float(e) for e in stats.elements], 0.5),
        "runs": percentile([float(r) for r in stats.runs], 0.5),
        "bad": stats.failed + stats.errors,
        "samples": list(stats.samples.items())[:3],
    }


def run(opts: Options) -> None:
    quick = opts.quick
    window_s, warmup_s, repeats = (3.0, 1.0, 1) if quick else (15.0, 3.0, 2)
    print(f"\n== {NAME}: sign-ons through the campaign page, beside a naive one-form app ==", flush=True)
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="rally-bench-signon-"))
    try:
        today_root = _today_checkout(folder, quick)
        apps: dict[str, tuple[str, int | None, st_driver.FormSpec, str]] = {}  # label -> (base, pid, spec, query)
        totals: dict[str, Any] = {}
        with ExitStack() as stack:
            roots = {"Rally": ROOT} | ({"Rally today": today_root} if today_root else {})
            for label, root in roots.items():
                (folder / label).mkdir()
                url, campaign_id, slug = _prepare_rally(folder / label, root)
                base, pid = stack.enter_context(streamlit_server(root, "rally_app.py", _server_env(url), "/api/health"))
                apps[label] = (base, pid, RALLY, f"campaign={slug}")
                totals[label] = lambda url=url, c=campaign_id: _rally_total(url, c)
            naive_dir = folder / "naive"
            (naive_dir / ".streamlit").mkdir(parents=True)
            shutil.copy(ROOT / ".streamlit" / "config.toml", naive_dir / ".streamlit" / "config.toml")
            (naive_dir / "naive_server.py").write_text(NAIVE_SERVER.format(page=str(ROOT / "bench" / "naive_app.py")))
            naive_env = {**_server_env(""), "PYTHONPATH": str(ROOT), "NAIVE_DB": str(naive_dir / "naive.db")}
            base, pid = stack.enter_context(
                streamlit_server(naive_dir, "naive_server.py", naive_env, "/_stcore/health")
            )
            apps["naive"] = (base, pid, NAIVE, "")
            totals["naive"] = lambda: _naive_total(naive_dir / "naive.db")
            rows = _measure(apps, window_s, warmup_s, repeats)
            acked = {label: sum(r["acked"] for r in rows if r["app"] == label) for label in apps}
            stored = {label: totals[label]() for label in apps}
        _report(rows, acked, stored, today_root is not None, quick)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"  ({NAME} took {time.perf_counter() - started:.0f} s)")


def _measure(apps: dict[str, Any], window_s: float, warmup_s: float, repeats: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    first = 0
    for mode, (title, sessions, new_visitors) in MODES.items():
        for repeat in range(repeats):
            for label, (base, pid, spec, query) in apps.items():
                first += 1_000_000
                stats, cpu, elapsed = asyncio.run(
                    st_driver.run_sign_ons(
                        base,
                        query,
                        spec,
                        sessions=sessions,
                        new_visitors=new_visitors,
                        window_s=window_s,
                        warmup_s=warmup_s,
                        server_pid=pid,
                        first=first,
                    )
                )
                row = _row(label, mode, stats, cpu, elapsed)
                row["acked"] = stats.acked
                rows.append(row)
                print(
                    f"  [{title}, {label}, {repeat + 1}/{repeats}] {row['rate']:.1f}/s, p50 {fmt_ms(row['p50'])} ms, "
                    f"p95 {fmt_ms(row['p95'])} ms, {row['cpu_ms']:.1f} ms app CPU each, {row['elements']:.0f} "
                    f"elements, {row['runs']:.0f} runs, not done {row['bad']}",
                    flush=True,
                )
                for sample, count in row["samples"]:
                    print(f"    x{count} {sample}")
    return rows


def _report(
    rows: list[dict[str, Any]], acked: dict[str, int], stored: dict[str, int], same_run: bool, quick: bool
) -> None:
    table, verdicts = [], []
    for mode, (title, _, _) in MODES.items():
        mine = [r for r in rows if r["mode"] == mode]

        def best(label: str, mine: list[dict[str, Any]] = mine) -> dict[str, Any]:
            runs = sorted((r for r in mine if r["app"] == label), key=lambda r: r["rate"])
            return runs[len(runs) // 2]  # the median repeat (the higher of two)

        naive = best("naive")["rate"]
        today = best("Rally today")["rate"] if same_run else TODAY[mode]
        for label in dict.fromkeys(r["app"] for r in mine):
            r = best(label)
            table.append(
                [
                    title,
                    label,
                    f"{r['rate']:.1f}",
                    fmt_ms(r["p50"]),
                    fmt_ms(r["p95"]),
                    f"{r['cpu_ms']:.1f}",
                    f"{r['elements']:.0f}",
                    f"{r['runs']:.0f}",
                    f"{r['rate'] / naive:.2f}" if naive else "-",
                    f"{r['rate'] / today:.2f}" if label == "Rally" and today else "",
                    r["bad"],
                ]
            )
        rally = best("Rally")["rate"]
        x_today, x_naive = TARGETS[mode]
        ok = (x_today is None or rally >= x_today * today) and rally >= x_naive * naive
        wanted = " and ".join(w for w in (f">= {x_today}x today" if x_today else "", f">= {x_naive}x naive") if w)
        verdict = "n/a (quick)" if quick else "PASS" if ok else "MISS"
        verdicts.append(f"  {title}: Rally {rally:.1f}/s ({wanted}): {verdict}")
        cpu = {
            label: median([r["cpu_ms"] for r in mine if r["app"] == label])
            for label in dict.fromkeys(r["app"] for r in mine)
        }
        steadier = [f"naive's {cpu['Rally'] / cpu['naive']:.2f}x"] + (
            [f"today's {cpu['Rally'] / cpu['Rally today']:.2f}x"] if "Rally today" in cpu else []
        )
        verdicts.append(
            f"    app CPU per sign-on (steadier on a shared machine), median of the repeats: Rally "
            f"{cpu['Rally']:.1f} ms, {', '.join(steadier)}"
        )
    print_table(
        "Sign-ons through the campaign page (one process each, SQLite; median repeat; latency: the whole visit "
        "for a new visitor, reset + submit for a repeat; CPU: the app process's, per sign-on; today: "
        + ("measured in this run" if same_run else "bench/README.md's figures before issue 14")
        + ")",
        [
            "load",
            "app",
            "sign-ons/s",
            "p50 ms",
            "p95 ms",
            "CPU ms each",
            "elements",
            "runs",
            "x naive",
            "x today",
            "not done",
        ],
        table,
    )
    for line in verdicts:
        print(line)
    for label in acked:
        same = "OK" if acked[label] == stored[label] else "MISMATCH"
        print(f"  {label}: {acked[label]:,} thank-yous, {stored[label]:,} rows stored: {same}")
