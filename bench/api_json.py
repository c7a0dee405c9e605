"""The public JSON API under load: ``GET /api/campaigns/<slug>`` against one app process.

The app is started the way production runs it (``streamlit run rally_app.py``) on a free port,
over a fresh SQLite file holding the demo campaigns, and loaded with ``wrk`` (Debian's ``wrk``
package) on loopback. The baseline in the same run is Streamlit's own ``GET /_stcore/health``
(no database, no work): what the server stack itself sustains. Target: at least 2,000 requests/s.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import httpx

from bench.common import Options, demo_app, print_table

NAME = "api_json"
TARGET_RATE = 2_000


def _wrk(url: str, seconds: int) -> tuple[float, str]:
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", url], capture_output=True, text=True, check=True
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", out)
    return rate, p99.group(1) if p99 else "?"


def run(opts: Options) -> None:
    print(f"== {NAME}: GET /api/campaigns/<slug> requests per second, one app process ==", flush=True)
    if shutil.which("wrk") is None:
        print("  skipped: wrk is not installed (apt-get install wrk)")
        return
    seconds = 3 if opts.quick else 10
    with demo_app(3000, prefix="rally-bench-api-") as base:
        httpx.get(f"{base}/api/campaigns/save-our-libraries")  # warm the cache
        rows = []
        for label, path in (
            ("/_stcore/health (baseline)", "/_stcore/health"),
            ("/api/campaigns/<slug>", "/api/campaigns/save-our-libraries"),
        ):
            rate, p99 = _wrk(base + path, seconds)
            verdict = "PASS" if rate >= TARGET_RATE else "MISS"
            rows.append([label, f"{rate:,.0f}", p99, f">= {TARGET_RATE:,}/s {verdict}" if "slug" in label else ""])
    print_table(
        f"JSON API (wrk -t2 -c32, {seconds} s each; wrk shares the machine's cores)",
        ["route", "requests/s", "p99 latency", "target"],
        rows,
    )
