"""A SQLite data folder that is read-only (a real read-only mount): visitors get an apology, operators the detail.

SQLite needs to write its journal next to the database, so Rally refuses such a folder (db._check_sqlite_path).
What each audience is told: the load balancer a 503, staff at the log-in form that it is not their password,
visitors a short apology without any path, and the operator, in the log and on the command line, which folder
and what to do.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from campaigns.core import settings as settings_module
from campaigns.core.db import make_engine
from campaigns.core.errors import StorageError
from campaigns.core.migrate import upgrade
from campaigns.ui import reads
from tests.support.apptest import open_app
from tests.support.factories import PASSWORD, make_campaign, make_user
from tests.support.servers import REPO, running_app
from tests.support.storage import read_only_view

pytestmark = pytest.mark.xdist_group("live")
DETAIL = "is on a read-only filesystem"


@pytest.fixture
def read_only_data(tmp_path: Path):
    """A working Rally database (a campaign, a staff account) whose folder is then seen read-only."""
    source = tmp_path / "data"
    source.mkdir()
    engine = make_engine(f"sqlite:///{source / 'rally.db'}")
    upgrade(engine)
    make_campaign(engine, slug="read-only", title="Keep the pool open")
    make_user(engine, email="staff@example.org", roles=["organizer"])
    engine.dispose()
    with read_only_view(source, tmp_path / "data-ro") as view:
        yield view, f"sqlite:///{view / 'rally.db'}"


def test_the_command_line_tells_the_operator_which_folder_and_what_to_do(read_only_data):
    view, url = read_only_data
    run = subprocess.run(
        [sys.executable, "-m", "campaigns", "init"],
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith(f"error: The database folder {view} {DETAIL}") and "mount it read-write" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_the_running_app_answers_503_says_it_is_not_the_password_and_logs_the_detail(read_only_data, tmp_path):
    view, url = read_only_data
    with running_app(url, tmp_path, make=False) as server:
        health = httpx.get(f"{server.url}/api/health")
        assert health.status_code == 503 and health.json() == {"status": "unavailable"}

        api = httpx.get(f"{server.url}/api/campaigns")
        assert api.status_code == 503 and api.json()["error"] == "unavailable"
        assert httpx.get(f"{server.url}/api/campaigns/read-only").status_code == 503

        login = httpx.post(
            f"{server.url}/auth/login",
            data={"email": "staff@example.org", "password": PASSWORD, "next": "/"},
            headers={"Origin": server.url},
        )
        assert login.status_code == 503
        assert "This is not about your password" in login.text and "don't match" not in login.text
        assert str(view) not in login.text

        for answer in (health, api, login):
            assert str(view) not in answer.text and "DATABASE_URL" not in answer.text
        log = server.log_path.read_text()
        assert f"database unavailable: The database folder {view} {DETAIL}" in log
        assert "Traceback" not in log


def test_visitors_see_a_short_apology_without_the_folder(read_only_data, default_settings, caplog):
    view, url = read_only_data
    settings_module.use_settings(replace(default_settings, database_url=url))
    reads.forget_public_reads()
    for query in ({}, {"campaign": "read-only"}):
        at = open_app(**query)
        assert not at.exception
        [error] = at.error
        assert error.value == StorageError.APOLOGY
        shown = "\n".join(e.value for e in [*at.markdown, *at.error, *at.caption, *at.info, *at.warning])
        assert str(view) not in shown and "DATABASE_URL" not in shown
    assert any(f"The database folder {view} {DETAIL}" in r.getMessage() for r in caplog.records)
