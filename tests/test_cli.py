"""The command line, run as a person would: python -m campaigns ..."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from campaigns.catalog import list_public_campaigns
from campaigns.db import read_session
from campaigns.demo import DEMO_CAMPAIGNS

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "campaigns", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_init_then_demo_twice_loads_each_signer_once(engine):
    url = engine.url.render_as_string(hide_password=False)
    first = cli("init", database_url=url)
    assert first.returncode == 0 and "Database ready" in first.stdout
    for _ in range(2):
        run = cli("demo", "--signatures", "400", database_url=url)
        assert run.returncode == 0, run.stderr
        assert "save-our-libraries: 400 signatures" in run.stdout
    with read_session(engine) as session:
        totals = {c.slug: c.total for c in list_public_campaigns(session=session)}
    assert totals == {d.slug: round(400 * d.share) for d in DEMO_CAMPAIGNS}


def test_unusable_database_gives_one_clear_line_and_exit_1(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    run = cli("init", database_url=f"sqlite:///{blocker}/sub/rally.db")
    assert run.returncode == 1
    assert run.stderr.startswith("error: Cannot create the folder") and "Traceback" not in run.stderr


def test_bad_arguments_are_refused_with_usage():
    run = cli("demo", "--signatures", "-5", database_url="sqlite:///unused.db")
    assert run.returncode == 2 and "choose a number" in run.stderr
