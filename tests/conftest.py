"""Fixtures: every DB test runs on a real SQLite file and, when TEST_DATABASE_URL is set, on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from campaigns.core import settings as settings_module
from campaigns.core.db import make_engine, normalize_url
from campaigns.core.migrate import upgrade
from campaigns.core.settings import ENV_NAMES, Settings, load_settings

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


@pytest.fixture(autouse=True)
def default_settings(tmp_path: Path) -> Iterator[Settings]:
    """Each test starts from the documented defaults, untouched by a developer's .env."""
    previous = settings_module._current
    # the documented defaults, except that a development outbox folder is this test's own (never the repo's var/)
    settings_module._current = replace(
        load_settings(environ={}, env_file=tmp_path / "no.env"), mail_outbox=str(tmp_path / "outbox")
    )
    yield settings_module._current
    settings_module._current = previous


# --- the app's pages under Streamlit's AppTest -----------------------------------------------------

ENTRY_SCRIPT = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")


def point_app_at(engine: Engine, base: Settings, **changes: object) -> Settings:
    """Settings for pages run in this process: ``base`` on the test database, plus ``changes``.

    Public reads are cached per database URL for a few seconds, by design: an earlier test's are forgotten.
    """
    from campaigns.ui import common

    url = engine.url.render_as_string(hide_password=False)
    settings_module._current = replace(base, database_url=url, **changes)  # type: ignore[arg-type]
    common.forget_public_reads()
    return settings_module._current


def run_with_query(at: Any, **query: str) -> Any:
    """Run an AppTest as if opened at ``?key=value&...``."""
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def open_app(**query: str) -> Any:
    """The real entry script (``streamlit_app.py``) under AppTest, opened at ``?key=value&...``."""
    from streamlit.testing.v1 import AppTest

    return run_with_query(AppTest.from_file(ENTRY_SCRIPT, default_timeout=30), **query)


@pytest.fixture
def app(engine: Engine, default_settings: Settings) -> Any:
    """``open_app``, pointed at the test database."""
    point_app_at(engine, default_settings)
    return open_app


def run_id() -> str:
    """Unique per test run (shared by its xdist workers), so two runs on one server never collide."""
    return os.environ.get("PYTEST_XDIST_TESTRUNUID", f"p{os.getpid()}")[:10]


def worker_database_name(prefix: str) -> str:
    return f"{prefix}_{run_id()}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


def _worker_database_url() -> str:
    base = make_url(normalize_url(TEST_DATABASE_URL))
    return base.set(database=worker_database_name("rally_test")).render_as_string(hide_password=False)


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


# --- a real small or read-only filesystem ---------------------------------------------------------


@contextmanager
def mounted_tmpfs(folder: Path, size: str = "64k") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``folder`` (a disk that really fills up); skips where it can't be mounted.

    ``read_only()`` on the result remounts it read-only (a data folder that became read-only: root's
    permission bits would not stop root, a read-only filesystem does).
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


# --- a running app, started with the README's command -------------------------------------------

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


class LiveServer:
    def __init__(self, url: str, database_url: str, log_path: Path) -> None:
        self.url = url
        self.database_url = database_url
        self.log_path = log_path

    def engine(self) -> Engine:
        return make_engine(self.database_url)


UVICORN = [str(REPO / ".venv" / "bin" / "uvicorn"), "rally_app:app", "--host", "127.0.0.1", "--port", "{port}"]


@contextmanager
def running_app(
    database_url: str,
    folder: Path,
    extra_env: dict[str, str] | None = None,
    command: list[str] | None = None,
    *,
    make: bool = True,
) -> Iterator[LiveServer]:
    """`make run` (the README's command), or ``command`` ("{port}" filled in, e.g. ``UVICORN``), on a free
    port; the whole process group is stopped afterwards.

    ``make=False``: `streamlit run rally_app.py` (the README's command without make, which does not stop at a
    database that `python -m campaigns init` refuses), ready once /api/health answers at all, even 503.
    """
    import signal
    import subprocess
    import time

    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": database_url, "RALLY_PUBLIC_URL": url, **(extra_env or {})}
    log_path = folder / f"server-{port}.log"
    with open(log_path, "wb") as log:
        if command:
            argv = [a.format(port=port) for a in command]
        elif make:
            argv = ["make", "--no-print-directory", "run", f"PORT={port}"]
        else:
            argv = [str(REPO / ".venv" / "bin" / "streamlit"), "run", "rally_app.py", "--server.port", str(port)]
        proc = subprocess.Popen(
            argv,
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"`make run` exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code in ((200,) if make else (200, 503)):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the app did not answer within 90 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield LiveServer(url, database_url, log_path)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


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


# --- a real browser (Debian's Chromium, driven by Playwright) -------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
E2E = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("live"),
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM) and not os.environ.get("RALLY_REQUIRE_BROWSER"),
        reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@contextmanager
def browser_page(browser: object, request: pytest.FixtureRequest, tmp_path: Path, **context_options: object):
    """A fresh browser context and page; a full-page screenshot is saved if the test failed."""
    context = browser.new_context(**context_options)  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        yield page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            shot = tmp_path / f"{request.node.name}.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failure: {shot}")
        context.close()


def log_in(page: Any, base_url: str, email: str, password: str) -> None:
    """Log in through the app's form (``/auth/login``) and wait for the home page it leads to."""
    page.goto(f"{base_url}/auth/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/")


# --- a real SMTP server (aiosmtpd) -------------------------------------------------------------------


class CollectMail:
    """aiosmtpd handler keeping every envelope it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[object] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.envelopes.append(envelope)
        return "250 OK"


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


class Mailbox:
    """What the test SMTP server received once the outbox has sent everything due: drained on every look."""

    def __init__(self, engine: Engine, handler: CollectMail) -> None:
        self.engine = engine
        self.handler = handler

    @property
    def envelopes(self) -> list[Any]:
        from campaigns.core import outbox

        outbox.drain(self.engine)
        return self.handler.envelopes

    def __getitem__(self, index: int) -> Any:
        return self.envelopes[index]

    def __len__(self) -> int:
        return len(self.envelopes)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self.envelopes))

    def __eq__(self, other: object) -> bool:
        return self.envelopes == other


def wait_for_mail(handler: CollectMail, count: int, seconds: float = 30) -> list[Any]:
    """The envelopes, once the test SMTP server has received ``count`` (a running app's worker sends them)."""
    import time

    deadline = time.monotonic() + seconds
    while len(handler.envelopes) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(handler.envelopes) >= count, f"{len(handler.envelopes)} of {count} messages arrived in {seconds} s"
    return handler.envelopes


def smtp_settings(controller: Any, mail_from: str) -> dict[str, Any]:
    """Settings that send mail, from ``mail_from``, to the test SMTP server of ``controller`` (plain SMTP)."""
    return {"smtp_host": "127.0.0.1", "smtp_port": controller.port, "smtp_security": "none", "mail_from": mail_from}


def smtp_environment(controller: Any, mail_from: str) -> dict[str, str]:
    """``smtp_settings`` as the environment of an app started with ``running_app``."""
    return {ENV_NAMES[name]: str(value) for name, value in smtp_settings(controller, mail_from).items()}
