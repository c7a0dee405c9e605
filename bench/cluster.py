"""Several app processes behind HAProxy on one PostgreSQL database: sign-ons per second with 1, 2 and 4 processes.

The same load for each N: new visitors (a fresh cookie jar and websocket each, so HAProxy's round robin spreads
them) signing one campaign over Streamlit's websocket (bench/st_sign.py), from a few client processes with
threads each, for a fixed window. Printed per N: sign-ons/s, p50/p95 of one sign-on (connect, first run,
submit, thank-you), failures, and the ratio to N=1 measured in the same run. The cluster is the one
`make cluster` starts (campaigns/ops/cluster.py, deploy/haproxy.cfg).

Then the JSON API under ``wrk`` through the balancer while its cache entry keeps expiring (``-c32`` for longer
than the cache's 5 s: every expiry is a stampede of 32 waiting requests that the single-flight cache answers
with one database read): p99 beside Streamlit's own ``/_stcore/health`` in the same run.

On a 2-core machine (this one) the client processes share the cores with the apps, HAProxy and PostgreSQL: more
than 2 app processes cannot add throughput here, and the table says so rather than hiding it.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import Options, fmt_ms, make_published_campaign, percentile, postgres_database, print_table

NAME = "cluster"
CLIENT_PROCESSES = 2
THREADS_PER_CLIENT = 6
NO_LIMITS = {"RALLY_SIGN_LIMIT_PER_MINUTE": "0", "RALLY_SIGN_LIMIT_PER_HOUR": "0"}


def _client(url: str, slug: str, seconds: float, threads: int, first: int) -> tuple[list[tuple[bool, float]], float]:
    """One client process: ``threads`` visitors signing one after another until the window closes."""
    import threading

    from bench.st_sign import sign_once

    results: list[tuple[bool, float]] = []
    lock = threading.Lock()
    started = time.monotonic()  # after the imports: the window is the visitors' own
    end = started + seconds

    def visitor(k: int) -> None:
        n = 0
        while time.monotonic() < end:
            number = first + k * 1_000_000 + n
            outcome = sign_once(url, slug, f"Signer {number}", f"s{number}@example.org", timeout=30)
            with lock:
                results.append((outcome.signed, outcome.seconds))
            n += 1

    workers = [threading.Thread(target=visitor, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return results, time.monotonic() - started


def _load(url: str, slug: str, seconds: float, offset: int) -> tuple[float, list[float], int]:
    with concurrent.futures.ProcessPoolExecutor(CLIENT_PROCESSES) as pool:
        futures = [
            pool.submit(_client, url, slug, seconds, THREADS_PER_CLIENT, offset + i * 100_000_000)
            for i in range(CLIENT_PROCESSES)
        ]
        done = [f.result() for f in futures]
    results = [r for rs, _ in done for r in rs]
    elapsed = max(e for _, e in done)
    ok = [s for signed, s in results if signed]
    return len(ok) / elapsed, ok, len(results) - len(ok)


def free_block(size: int) -> int:
    """A port with the ``size`` ports after it free (HAProxy on it, the apps after)."""
    import socket

    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + size > 65000:
            continue
        try:
            for offset in range(1, size + 1):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port + offset))
        except OSError:
            continue
        return port
    raise RuntimeError("no block of free ports")


def _wrk(url: str, seconds: int) -> str:
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", url], capture_output=True, text=True, check=True
    ).stdout
    p99 = re.search(r"99%\s+(\S+)", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return f"{float(rate.group(1)):,.0f}/s, p99 {p99.group(1)}" if rate and p99 else "?"


def run(opts: Options) -> None:
    from campaigns.ops import cluster as ops

    print(f"== {NAME}: sign-ons/s with 1, 2 and 4 app processes behind HAProxy on PostgreSQL ==", flush=True)
    if not opts.postgres_url:
        print("  skipped: no PostgreSQL URL (--postgres-url, BENCH_DATABASE_URL or TEST_DATABASE_URL)")
        return
    if not Path(ops.HAPROXY).exists():
        print(f"  skipped: no HAProxy at {ops.HAPROXY} (apt-get install haproxy)")
        return
    counts = (1, 2) if opts.quick else (1, 2, 4)
    seconds = 4.0 if opts.quick else 20.0
    rows = []
    api_rows = []
    base_rate = 0.0
    with postgres_database(opts.postgres_url, f"rally_bench_cluster_{os.getpid()}") as db:
        for index, n in enumerate(counts):
            _, slug = make_published_campaign(db.engine, "cluster")
            with tempfile.TemporaryDirectory(prefix="rally-bench-cluster-") as folder:
                with ops.running_cluster(
                    database_url=db.url,
                    workers=n,
                    port=free_block(n),
                    folder=Path(folder),
                    extra_env=NO_LIMITS,
                    mail_worker=False,
                ) as cluster:
                    _load(cluster.url, slug, 1.5, 900_000_000 + index * 10_000_000)  # warm every process
                    rate, ok, failed = _load(cluster.url, slug, seconds, index * 10_000_000)
                    if n == 1 and shutil.which("wrk"):
                        wrk_seconds = 3 if opts.quick else 12  # past the API cache's 5 s: stampedes included
                        api_rows.append(["/_stcore/health (baseline)", _wrk(f"{cluster.url}/_stcore/health", 3)])
                        api_rows.append(
                            [
                                f"/api/campaigns/<slug>, {wrk_seconds} s",
                                _wrk(f"{cluster.url}/api/campaigns/{slug}", wrk_seconds),
                            ]
                        )
            base_rate = base_rate or rate
            rows.append(
                [
                    n,
                    f"{rate:,.1f}",
                    fmt_ms(percentile(ok, 0.5)),
                    fmt_ms(percentile(ok, 0.95)),
                    failed,
                    f"{rate / base_rate:.2f}x" if base_rate else "-",
                ]
            )
    print_table(
        f"New visitors signing through HAProxy ({CLIENT_PROCESSES}x{THREADS_PER_CLIENT} client threads, "
        f"{seconds:.0f} s; {os.cpu_count()} CPUs shared by clients, apps, HAProxy and PostgreSQL)",
        ["app processes", "sign-ons/s", "p50 ms", "p95 ms", "failed", "vs 1 process"],
        rows,
    )
    if (os.cpu_count() or 1) <= 2:
        print("  (2 cores: a third and fourth process only share the same cores; no gain past 2 is expected here)")
    if api_rows:
        print_table("JSON API through HAProxy, wrk -t2 -c32 (1 app process)", ["route", "rate, p99"], api_rows)
    else:
        print("  JSON API part skipped: wrk is not installed (apt-get install wrk)")
