"""Storage behaviour: SQLite set-up, lock retries, clear errors, migrations from several processes."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, text

from campaigns.core.db import (
    get_engine,
    make_engine,
    normalize_url,
    ping,
    read_session,
    run_write,
    snapshot_session,
    write_session,
)
from campaigns.core.errors import StorageBusy, StorageError
from campaigns.core.migrate import alembic_config, get_current_revision, upgrade
from campaigns.core.models import Campaign
from campaigns.core.settings import override_settings
from campaigns.signatures.counts import count_total
from campaigns.signatures.signing import sign
from tests.support.factories import make_campaign, signer


def head_revision() -> str:
    """The newest revision of the migrations upgrade() runs."""
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(alembic_config()).get_current_head())


def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(sqlite_engine):
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


def test_default_database_is_a_sqlite_file_under_var(default_settings):
    assert default_settings.effective_database_url.startswith("sqlite:///")
    assert default_settings.effective_database_url.endswith("/var/rally.db")


def test_postgres_urls_are_normalized_to_psycopg3():
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def test_unknown_database_kind_is_refused_clearly():
    with pytest.raises(StorageError, match="sqlite:/// or postgresql://"):
        make_engine("mysql://root@localhost/db")


def _open_as_nobody(path: str, conn) -> None:  # child process
    if os.geteuid() == 0:
        os.setgid(65534)
        os.setuid(65534)  # drop root: root can write anywhere
    try:
        make_engine(f"sqlite:///{path}")
        conn.send("opened")
    except StorageError as exc:
        conn.send(exc.detail)


def test_unwritable_folder_gives_a_clear_error():
    folder = tempfile.mkdtemp(prefix="rally-readonly-")
    try:
        os.chmod(folder, 0o555)  # others may enter, nobody may write
        ctx = multiprocessing.get_context("fork")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_open_as_nobody, args=(os.path.join(folder, "rally.db"), child))
        proc.start()
        proc.join(30)
        message = parent.recv()
        assert "is not writable" in message and folder in message
    finally:
        os.chmod(folder, 0o755)
        shutil.rmtree(folder)


def test_folder_that_cannot_be_created_gives_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match="Cannot create the folder"):
        make_engine(f"sqlite:///{blocker / 'sub' / 'rally.db'}")


def test_a_file_that_is_not_a_database_is_reported(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is not a database file at all" * 100)
    with pytest.raises(StorageError, match="could not be opened or upgraded"):
        upgrade(make_engine(f"sqlite:///{path}"))


def test_write_that_stays_locked_is_retried_then_reported_and_stores_nothing(tmp_path):
    path = tmp_path / "rally.db"
    with override_settings(sqlite_busy_timeout_ms=50, write_retries=2):
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        campaign = make_campaign(engine)
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            with pytest.raises(StorageBusy) as info:
                run_write(engine, lambda s: sign(session=s, campaign_slug=campaign.slug, signer=signer()))
            assert "Nothing was saved" in info.value.user_message
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        with read_session(engine) as session:
            assert count_total(session=session, campaign_id=campaign.id) == 0
        # once the lock is gone the same write succeeds
        run_write(engine, lambda s: sign(session=s, campaign_slug=campaign.slug, signer=signer()))


def test_a_write_takes_sqlite_write_lock_with_its_first_statement(sqlite_engine):
    """``BEGIN IMMEDIATE``: even a write that starts by reading holds the write lock at once."""
    path = sqlite_engine.url.database
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        with write_session(sqlite_engine) as session:
            session.execute(text("SELECT count(*) FROM campaign"))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        with read_session(sqlite_engine) as session:  # a read takes no write lock
            session.execute(text("SELECT count(*) FROM campaign"))
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
    finally:
        other.close()


def test_a_snapshot_session_does_not_see_what_is_committed_after_its_first_read(engine):
    make_campaign(engine, slug="first")
    count = text("SELECT count(*) FROM campaign")
    with snapshot_session(engine) as session:
        assert session.execute(count).scalar_one() == 1
        make_campaign(engine, slug="second")
        assert session.execute(count).scalar_one() == 1
    with snapshot_session(engine) as session:
        assert session.execute(count).scalar_one() == 2


def test_times_are_stored_in_utc_and_come_back_timezone_aware(engine):
    deadline = datetime(2031, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=-7)))
    campaign = make_campaign(engine, deadline=deadline)
    with read_session(engine) as session:
        stored = session.get(Campaign, campaign.id)
        assert stored.deadline == deadline and stored.deadline.tzinfo == UTC
        assert stored.deadline.hour == 19


def test_upgrade_is_idempotent_and_reaches_head(engine):
    assert upgrade(engine) == head_revision() == get_current_revision(engine=engine)
    assert {"campaign", "signature", "region_count", "consent_wording"} <= set(inspect(engine).get_table_names())


def _migrate(url: str) -> None:
    upgrade(make_engine(url))


def test_several_processes_can_migrate_a_fresh_database_at_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_migrate, args=(url,)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert get_current_revision(engine=make_engine(url)) == head_revision()


def test_ping_reports_a_dead_database(tmp_path):
    assert ping(make_engine(f"sqlite:///{tmp_path / 'ok.db'}"))
    dead = make_engine("postgresql://nobody@127.0.0.1:1/none")
    assert ping(dead) is False


def test_get_engine_reuses_one_engine_per_url(tmp_path):
    with override_settings(database_url=f"sqlite:///{tmp_path / 'one.db'}") as settings:
        assert get_engine(settings) is get_engine(settings)
        with get_engine(settings).connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1


def test_sign_on_path_stores_times_exactly_as_the_orm_does(engine):
    """The hot path binds values itself: a timestamp with zero microseconds must round-trip the same."""
    from sqlalchemy import select

    from campaigns.core.models import Signature

    campaign = make_campaign(engine)
    exact = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    run_write(
        engine, lambda s: sign(session=s, campaign_slug=campaign.slug, signer=signer(contact_consent=True), now=exact)
    )
    with read_session(engine) as session:
        row = session.execute(select(Signature)).scalar_one()
        assert row.created_at == exact == row.consent_at
        later = session.execute(
            select(Signature).where(Signature.created_at > datetime(2030, 1, 2, 3, 4, 4, tzinfo=UTC))
        )
        assert later.scalar_one().id == row.id  # the stored text sorts and compares like the ORM's own


def test_driver_statements_bind_list_items_by_their_compiled_names_and_close_their_cursors(engine):
    """``HotStatement`` binds each item of an ``IN (...)`` under the name SQLAlchemy gave it, converted by its
    column's type, even where a guess from the name would take another parameter's; its cursors are closed."""
    import psycopg
    from sqlalchemy import String, bindparam, select

    from campaigns.core import audit
    from campaigns.core.db import HotStatement
    from campaigns.core.models import AuditEntry

    at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    run_write(engine, lambda s: audit.record(session=s, actor=audit.CLI, action="kept", at=at))
    statement = select(AuditEntry.action).where(
        AuditEntry.at.in_([at, at + timedelta(hours=1)]),  # items "at_1_1__1", "at_1_2": "at_1_1" is taken
        AuditEntry.action != bindparam("at_1_1", "other", type_=String),
    )
    hot = HotStatement(statement)
    with engine.connect() as conn, conn.begin():
        with hot.cursor(conn) as cursor:
            assert cursor.fetchall() == [("kept",)]
        with pytest.raises((sqlite3.ProgrammingError, psycopg.InterfaceError), match="closed"):
            cursor.fetchall()
        assert hot.fetchall(conn, {}) == [("kept",)] and hot.first(conn, {}) == ("kept",)


def test_raw_driver_conflicts_are_retried_like_wrapped_ones(engine):
    """Hot paths run on the driver's cursor, so its own exceptions must count as conflicts too."""
    import psycopg

    attempts = []

    def work(session):
        attempts.append(1)
        if len(attempts) < 3:
            raise psycopg.errors.SerializationFailure("could not serialize access")
        return "done"

    assert run_write(engine, work) == "done" and len(attempts) == 3


def test_a_nested_write_in_one_thread_fails_instead_of_hanging(tmp_path):
    with override_settings(sqlite_busy_timeout_ms=50, write_retries=1):
        engine = make_engine(f"sqlite:///{tmp_path / 'nested.db'}")
        upgrade(engine)
        campaign = make_campaign(engine)

        def outer(session):
            sign(session=session, campaign_slug=campaign.slug, signer=signer())  # holds the write lock
            return run_write(engine, lambda inner: sign(session=inner, campaign_slug=campaign.slug, signer=signer()))

        with pytest.raises(StorageBusy):
            run_write(engine, outer)
        with read_session(engine) as session:
            assert count_total(session=session, campaign_id=campaign.id) == 0  # the outer write rolled back whole


def test_upgrading_a_database_with_signatures_keeps_every_row(engine):
    """Schema upgrades rebuild tables on SQLite: nothing that points at them may be lost."""
    from campaigns.core.migrate import alembic_config

    with engine.connect() as conn, conn.begin():
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        from alembic import command

        command.downgrade(cfg, "base")
    assert upgrade(engine, "0001") == "0001"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO consent_wording (hash, text, created_at) VALUES ('h', 'ok', '2026-01-01')"))
        conn.execute(
            text(
                "INSERT INTO campaign (id, slug, title, purpose, body, goal, status, region_scheme, consent_hash,"
                " created_at, updated_at) VALUES (1, 'old', 'Old', 'p', '', 10, 'published', 'us-states', 'h',"
                " '2026-01-01', '2026-01-01')"
            )
        )
        for i in range(5):
            conn.execute(
                text(
                    "INSERT INTO signature (campaign_id, full_name, email, email_canonical, region_code,"
                    " contact_consent, status, created_at) VALUES (1, 'N', :e, :e, 'US-CA', false, 'counted',"
                    " '2026-01-02')"
                ),
                {"e": f"p{i}@example.org"},
            )
        conn.execute(
            text(
                "INSERT INTO region_count (campaign_id, region_code, shard, count, updated_at)"
                " VALUES (1, 'US-CA', 0, 5, '2026-01-02')"
            )
        )
    assert upgrade(engine) == head_revision()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM signature")).scalar() == 5
        assert conn.execute(text("SELECT sum(count) FROM region_count")).scalar() == 5
        assert conn.execute(text("SELECT count(*) FROM campaign")).scalar() == 1
        assert conn.execute(text("SELECT DISTINCT source FROM signature")).scalar() == "online"

    from campaigns.signatures.counts import count_by_hour

    with read_session(engine) as session:  # 0004 back-filled the hourly rows from the signatures
        series = count_by_hour(session=session, campaign_id=1)
    hours = [(h.to_pydatetime(), n) for h, n in series.itertuples(index=False)]
    assert hours == [(datetime(2026, 1, 2, tzinfo=UTC), 5)]
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1  # switched back on


def test_the_migrations_build_exactly_the_schema_the_models_describe(engine):
    """Alembic's own comparison: no table, column, index or constraint differs between migrations and models."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import campaigns.core.models  # noqa: F401  (every table registered)

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_a_read_that_cannot_reach_the_database_is_a_storage_error_and_nothing_else_is():
    """What a page's read meets while PostgreSQL is down or restarting (tests/cluster/ restarts one)."""
    from campaigns.core.db_failures import unreachable
    from tests.support.servers import free_port

    down = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/rally")
    try:
        with down.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        failure = unreachable(exc)
    down.dispose()
    assert isinstance(failure, StorageError) and failure.user_message == StorageError.APOLOGY
    assert "Connection refused" in failure.detail or "connection" in failure.detail.lower()
    assert unreachable(sqlite3.OperationalError("database is locked")) is None  # busy: the write retries handle it
    assert unreachable(ValueError("a bug")) is None
