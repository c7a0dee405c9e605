"""Fixtures: every DB test runs on a real SQLite file and, when TEST_DATABASE_URL is set, on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from campaigns import settings as settings_module
from campaigns.db import make_engine, normalize_url
from campaigns.migrate import upgrade
from campaigns.settings import Settings, load_settings

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
NO_PG_REASON = "TEST_DATABASE_URL is not set: PostgreSQL variants skipped (CI always sets it)"
TABLES = ("signature", "region_count", "campaign", "consent_wording")


@pytest.fixture(autouse=True)
def default_settings(tmp_path: Path) -> Iterator[Settings]:
    """Each test starts from the documented defaults, untouched by a developer's .env."""
    previous = settings_module._current
    settings_module._current = load_settings(environ={}, env_file=tmp_path / "no.env")
    yield settings_module._current
    settings_module._current = previous


def _worker_database_url() -> str:
    base = make_url(normalize_url(TEST_DATABASE_URL))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return base.set(database=f"rally_test_{worker}").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    if not TEST_DATABASE_URL:
        pytest.skip(NO_PG_REASON)
    url = _worker_database_url()
    name = make_url(url).database
    admin = make_engine(normalize_url(TEST_DATABASE_URL)).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _pg_engine(url: str) -> Engine:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    return engine


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty database: a SQLite file in tmp_path, or this worker's PostgreSQL database."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'rally.db'}")
        upgrade(eng)
    else:
        eng = _pg_engine(request.getfixturevalue("pg_url"))
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'rally.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()
