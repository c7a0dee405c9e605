"""`make bench` must keep working: run its quick mode once and check the shape of what it prints (no timings)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_bench_runs_both_benchmarks_and_prints_their_tables():
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=ROOT,
        env={**os.environ, "BENCH_DATABASE_URL": os.environ.get("TEST_DATABASE_URL", "")},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    out = run.stdout
    assert "Sign-on write path" in out and "Reading counts" in out and "Signer export" in out
    assert "Sign-on with flood control and confirmation ON vs OFF" in out  # sign_write, both paths
    assert "statements the service sends per sign, both ON" in out and "- INSERT INTO outbox" in out
    assert "Outbox drain" in out and "exactly once" in out  # outbox_drain
    assert "Dashboard read" in out  # dashboard_read
    assert "One live-fragment rerun" in out and "Live viewers per app process" in out  # live_dashboard
    assert "Share link page and preview image over HTTP" in out and "Preview card, drawn and kept" in out
    assert "Moderation at scale" in out and "single approves" in out  # moderation, beside its baseline
    assert "Question results" in out and "naive/results" in out  # questions, beside its baseline
    assert "Update fan-out" in out and "300 (expected 300)" in out  # updates, beside its bulk INSERT baseline
    assert "new visitors (GET the form, POST a distinct signer)" in out and "sign() in-process" in out  # light_sign
    assert "nothing lost:" in out and "-> exact" in out
    assert "Sign-ons through the campaign page" in out and "naive" in out  # st_signon, beside its naive app
    assert "MISMATCH" not in out  # st_signon: every acknowledged sign-on stored, nothing more
    assert "| sqlite " in out and "All done" in out
    if os.environ.get("TEST_DATABASE_URL"):
        assert "| postgresql " in out
        if Path("/usr/sbin/haproxy").exists():  # cluster: 1 and 2 app processes behind HAProxy, beside N=1
            assert "New visitors signing through HAProxy" in out and "1.00x" in out
