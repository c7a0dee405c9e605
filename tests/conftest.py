"""Fixtures every kind of test shares: every DB test runs on a real SQLite file and, when TEST_DATABASE_URL is
set, on PostgreSQL; a running app; a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from campaigns.core import settings as settings_module
from campaigns.core.db import make_engine, normalize_url
from campaigns.core.migrate import upgrade
from campaigns.core.settings import Settings, load_settings
from tests.support.mail import CollectMail
from tests.support.servers import LiveServer, free_port, running_app
from tests.support.storage import (
    NO_PG_REASON,
    TEST_DATABASE_URL,
    drop_pg_database,
    emptied_pg_engine,
    fresh_pg_database,
    worker_database_name,
    worker_database_url,
)


@pytest.fixture(autouse=True)
def default_settings(tmp_path: Path) -> Iterator[Settings]:
    """Each test starts from the documented defaults, untouched by a developer's .env."""
    # the documented defaults, except that a development outbox folder is this test's own (never the repo's var/)
    settings = replace(load_settings(environ={}, env_file=tmp_path / "no.env"), mail_outbox=str(tmp_path / "outbox"))
    previous = settings_module.use_settings(settings)
    yield settings
    settings_module.use_settings(previous)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    if not TEST_DATABASE_URL:
        pytest.skip(NO_PG_REASON)
    url = worker_database_url()
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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty database: a SQLite file in tmp_path, or this worker's PostgreSQL database."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'rally.db'}")
        upgrade(eng)
    else:
        eng = emptied_pg_engine(request.getfixturevalue("pg_url"))
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'rally.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def live_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app started with `make run` against a fresh database (SQLite file or PostgreSQL)."""
    folder = tmp_path_factory.mktemp("live")
    if request.param == "sqlite":
        database_url = f"sqlite:///{folder / 'rally.db'}"
    else:
        if not TEST_DATABASE_URL:
            pytest.skip(NO_PG_REASON)
        database_url = fresh_pg_database(worker_database_name("rally_live"))
    with running_app(database_url, folder) as server:
        yield server
    if request.param == "postgres":
        drop_pg_database(make_url(database_url).database or "")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Expose each phase's report on the item, so fixtures can screenshot failed browser tests."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def smtp_server() -> Iterator[tuple[object, CollectMail]]:
    from aiosmtpd.controller import Controller

    handler = CollectMail()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()
