"""Create or upgrade the database schema (Alembic), safely from several processes at once.

On PostgreSQL the upgrade holds a transaction-level advisory lock, so replicas starting
together run the migrations once; on SQLite the whole upgrade runs in one
``BEGIN IMMEDIATE`` transaction, which serializes it the same way.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError

from campaigns.core.errors import StorageError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_ADVISORY_LOCK_KEY = 7_245_551  # any constant shared by every Rally process


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Bring the schema to ``revision`` (the newest by default); returns the revision reached. Idempotent.

    On SQLite, foreign keys are switched off while migrating: altering a table there means
    copying it and dropping the old one, and with foreign keys on that drop would cascade
    and delete every row that points at it. The keys are checked before the commit.
    """
    cfg = alembic_config()
    sqlite = engine.dialect.name == "sqlite"
    bind = engine.execution_options(sqlite_begin="IMMEDIATE") if sqlite else engine
    try:
        with bind.connect() as conn:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]  # None only once closed; only works outside a transaction
            try:
                with conn.begin():
                    if conn.dialect.name == "postgresql":
                        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, revision)
                    if sqlite:
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            raise StorageError(
                                f"The upgrade would break {len(broken)} references; nothing was changed."
                            )
            finally:
                if sqlite:
                    conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]  # None only once closed
    except DatabaseError as exc:
        raise StorageError(
            f"The database at {engine.url.render_as_string(hide_password=True)} could not be opened or "
            f"upgraded: {exc.orig}. Is it a Rally database, and is the server reachable?"
        ) from exc
    return current_revision(engine) or ""
