"""Test databases (a PostgreSQL database per xdist worker) and real small or read-only filesystems."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from campaigns.core.db import make_engine, normalize_url

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
NO_PG_REASON = "TEST_DATABASE_URL is not set: PostgreSQL variants skipped (CI always sets it)"
TABLES = (
    "outbox",
    "sign_rule",
    "outreach",
    "letter",
    "signature",
    "region_count",
    "hourly_count",
    "region_day_count",
    "supporter_token",
    "target",
    "audit_log",
    "campaign",
    "consent_wording",
    "custom_region",
    "custom_region_scheme",
    "auth_session",
    "login_attempt",
    "user_role",
    "app_user",
)


def run_id() -> str:
    """Unique per test run (shared by its xdist workers), so two runs on one server never collide."""
    return os.environ.get("PYTEST_XDIST_TESTRUNUID", f"p{os.getpid()}")[:10]


def worker_database_name(prefix: str) -> str:
    return f"{prefix}_{run_id()}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


def worker_database_url() -> str:
    base = make_url(normalize_url(TEST_DATABASE_URL))
    return base.set(database=worker_database_name("rally_test")).render_as_string(hide_password=False)


def emptied_pg_engine(url: str) -> Engine:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    return engine


def drop_pg_database(name: str) -> None:
    admin = make_engine(normalize_url(TEST_DATABASE_URL)).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fresh_pg_database(name: str) -> str:
    """Create (or recreate) an empty, migrated PostgreSQL database; returns its URL."""
    admin = make_engine(normalize_url(TEST_DATABASE_URL)).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(normalize_url(TEST_DATABASE_URL)).set(database=name).render_as_string(hide_password=False)


@contextmanager
def mounted_tmpfs(folder: Path, size: str = "64k") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``folder`` (a disk that really fills up); skips where it can't be mounted.

    For a data folder that became read-only, see ``read_only_view`` (root's permission bits would not stop
    root, a read-only mount does).
    """
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (these tests run as root in CI)")
    folder.mkdir(parents=True, exist_ok=True)
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mount.stderr.strip() or mount.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=False)


@contextmanager
def read_only_view(source: Path, view: Path) -> Iterator[Path]:
    """``source`` seen read-only at ``view`` (a read-only bind mount): what a data folder on a read-only volume
    looks like, even to root, whom permission bits would not stop. Skips where it can't be mounted."""
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root (these tests run as root in CI)")
    view.mkdir(parents=True, exist_ok=True)
    bind = subprocess.run(["mount", "--bind", str(source), str(view)], capture_output=True, text=True)
    if bind.returncode != 0:
        pytest.skip(f"cannot bind-mount a folder here: {bind.stderr.strip() or bind.returncode}")
    try:
        ro = subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], capture_output=True, text=True)
        if ro.returncode != 0:
            pytest.skip(f"cannot make a bind mount read-only here: {ro.stderr.strip() or ro.returncode}")
        yield view
    finally:
        subprocess.run(["umount", "--lazy", str(view)], check=False)
