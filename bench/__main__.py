"""``python -m bench [--quick] [--only NAME] [--postgres-url URL]``: run Rally's benchmarks."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime

from bench import (
    api_json,
    cluster,
    dashboard_read,
    export,
    letters,
    light_sign,
    live_dashboard,
    moderation,
    outbox_drain,
    pdf_bundle,
    questions,
    read_counts,
    share_preview,
    sign_write,
    st_signon,
    updates,
)
from bench.common import Options

BENCHMARKS = {sign_write.NAME: sign_write.run, read_counts.NAME: read_counts.run, letters.NAME: letters.run}
BENCHMARKS[pdf_bundle.NAME] = pdf_bundle.run
BENCHMARKS[api_json.NAME] = api_json.run
BENCHMARKS[dashboard_read.NAME] = dashboard_read.run
BENCHMARKS[live_dashboard.NAME] = live_dashboard.run
BENCHMARKS[export.NAME] = export.run
BENCHMARKS[outbox_drain.NAME] = outbox_drain.run
BENCHMARKS[share_preview.NAME] = share_preview.run
BENCHMARKS[moderation.NAME] = moderation.run
BENCHMARKS[questions.NAME] = questions.run
BENCHMARKS[updates.NAME] = updates.run
BENCHMARKS[light_sign.NAME] = light_sign.run
BENCHMARKS[st_signon.NAME] = st_signon.run
BENCHMARKS[cluster.NAME] = cluster.run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke check, not figures to quote")
    parser.add_argument("--only", choices=sorted(BENCHMARKS), help="run one benchmark")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or None,
        help="server to create a scratch `rally_bench_<pid>` database on (default: $BENCH_DATABASE_URL, "
        "then $TEST_DATABASE_URL); PostgreSQL parts are skipped without one",
    )
    args = parser.parse_args(argv)
    opts = Options(quick=args.quick, postgres_url=args.postgres_url or None)
    print(
        f"Rally bench {'(quick) ' if opts.quick else ''}{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"PostgreSQL: {'yes' if opts.postgres_url else 'skipped (no URL)'}",
        flush=True,
    )
    started = time.perf_counter()
    for name, run in BENCHMARKS.items():
        if args.only and name != args.only:
            continue
        run(opts)
    print(f"\nAll done in {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
