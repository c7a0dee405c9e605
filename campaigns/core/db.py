"""Storage: engines for SQLite (the embedded default) and PostgreSQL, sessions, retries.

SQLite runs in WAL mode with a busy timeout and foreign keys on. The driver's own
transaction handling is switched off so that we issue ``BEGIN`` ourselves: writes
use ``BEGIN IMMEDIATE`` (take the write lock up front, so two writers never deadlock
upgrading a read lock), reads a plain deferred ``BEGIN``. A write that still finds
the database locked is retried a bounded number of times, then reported as
``StorageBusy``. PostgreSQL uses psycopg 3 with ``pool_pre_ping``.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, create_engine

from campaigns.core.errors import StorageBusy, StorageError
from campaigns.core.settings import Settings, get_settings

log = logging.getLogger(__name__)
T = TypeVar("T")


def normalize_url(url: str) -> str:
    """Accept the URL spellings people paste (``postgres://``) and pick the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_file(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser().resolve()


def _check_sqlite_path(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"Cannot create the folder {path.parent} for the database ({exc.strerror}). "
            "Create it, fix its permissions, or point DATABASE_URL somewhere else."
        ) from exc
    if _read_only_filesystem(path.parent):
        raise StorageError(
            f"The database folder {path.parent} is on a read-only filesystem. SQLite needs to write the database "
            "and its journal there: mount it read-write, or point DATABASE_URL somewhere else."
        )
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise StorageError(
            f"The database folder {path.parent} is not writable by this user. "
            "SQLite needs to write its journal there: fix the permissions or set DATABASE_URL."
        )
    if path.exists() and (path.is_dir() or not os.access(path, os.R_OK | os.W_OK)):
        raise StorageError(f"The database file {path} cannot be read and written by this user.")


def _read_only_filesystem(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs (Windows): os.access below still answers
        return False


def make_engine(url: str, settings: Settings | None = None) -> Engine:
    settings = settings or get_settings()
    url = normalize_url(url)
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        path = _sqlite_file(url)
        if path is not None:
            _check_sqlite_path(path)
        engine = create_engine(
            url,
            connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000, "check_same_thread": False},
        )
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    if backend == "postgresql":
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            pool_timeout=10,
        )
    raise StorageError(f"DATABASE_URL must be a sqlite:/// or postgresql:// URL, not “{backend}”.")


_BEGIN = {"DEFERRED": "BEGIN DEFERRED", "IMMEDIATE": "BEGIN IMMEDIATE"}


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode except on power loss
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.connection.driver_connection.execute(_BEGIN[mode])  # straight to the driver: on every write


def insert_for(dialect_name: str, table: Any) -> Any:
    """An INSERT that knows ON CONFLICT, for a database by its dialect name: the one place that chooses
    PostgreSQL's or SQLite's (statements built once per dialect, such as ``HotStatement``\'s, start here)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql.insert if dialect_name == "postgresql" else sqlite.insert)(table)


def dialect_insert(session: Session, table: Any) -> Any:
    """An INSERT that knows ON CONFLICT, for the session's database (SQLite or PostgreSQL)."""
    return insert_for(session.get_bind().dialect.name, table)


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(settings: Settings | None = None) -> Engine:
    """The process-wide engine for the configured database (one pool per process)."""
    settings = settings or get_settings()
    url = normalize_url(settings.effective_database_url)
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url, settings)
        return engine


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@contextmanager
def snapshot_session(engine: Engine) -> Iterator[Session]:
    """A read session whose statements all see one snapshot of the database.

    For pages that show several numbers that must agree (a total, its regions, its hours):
    PostgreSQL runs it in REPEATABLE READ; SQLite's read transaction in WAL mode is a
    snapshot from its first read already.
    """
    bind = engine
    if not is_sqlite(engine):
        bind = engine.__dict__.get("_rally_snapshot_bind")
        if bind is None:
            bind = engine.__dict__["_rally_snapshot_bind"] = engine.execution_options(isolation_level="REPEATABLE READ")
    with Session(bind, expire_on_commit=False) as session:
        yield session


def _write_bind(engine: Engine) -> Engine:
    """The engine with ``BEGIN IMMEDIATE`` for writes (SQLite), made once per engine."""
    bind = engine.__dict__.get("_rally_write_bind")
    if bind is None:
        bind = engine.__dict__["_rally_write_bind"] = engine.execution_options(sqlite_begin="IMMEDIATE")
    return bind


def _writer_lock(engine: Engine) -> AbstractContextManager[Any]:
    """SQLite: one lock per engine that this process's writers queue on (re-entrant: a nested
    write in one thread fails with SQLite's busy error instead of hanging)."""
    if not is_sqlite(engine):
        return nullcontext()
    lock = engine.__dict__.get("_rally_writer_lock")
    if lock is None:
        with _engines_lock:
            lock = engine.__dict__.setdefault("_rally_writer_lock", threading.RLock())
    return lock


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One write transaction: committed at the end of the block, rolled back on error.

    SQLite admits one writer at a time. Threads of this process queue on a lock that hands
    over at once, instead of sleeping in SQLite's busy handler (1, 2, 5, 10... ms steps);
    other processes are still kept out by SQLite's own lock, taken with ``BEGIN IMMEDIATE``
    at the first statement. The session is bound to one pooled connection for the block.
    """
    bind = _write_bind(engine) if is_sqlite(engine) else engine
    with _writer_lock(engine), bind.connect() as connection:
        with Session(bind=connection, expire_on_commit=False) as session, session.begin():
            yield session


def _driver_error(exc: BaseException) -> BaseException | None:
    """The driver's own exception, whether SQLAlchemy wrapped it or a hot path raised it directly."""
    if isinstance(exc, DBAPIError):
        return exc.orig
    if isinstance(exc, (sqlite3.Error, psycopg.Error)):
        return exc
    return None


def _is_transient(orig: BaseException) -> bool:
    if isinstance(orig, sqlite3.OperationalError):
        message = str(orig).lower()
        return "locked" in message or "busy" in message
    # serialization_failure, deadlock_detected, lock_not_available
    return getattr(orig, "sqlstate", None) in {"40001", "40P01", "55P03"}


def run_write(engine: Engine, work: Callable[[Session], T], *, retries: int | None = None) -> T:
    """Run ``work`` in a write transaction, retrying a bounded number of times on lock contention."""
    attempts = 1 + (get_settings().write_retries if retries is None else retries)
    for attempt in range(attempts):
        try:
            with write_session(engine) as session:
                return work(session)
        except Exception as exc:
            orig = _driver_error(exc)
            if orig is None:
                raise
            if not _is_transient(orig):
                if isinstance(orig, (sqlite3.OperationalError, psycopg.OperationalError)):
                    log.error("database write failed: %s", orig)
                    raise StorageError(
                        f"The database could not be written: {orig}",
                        user_message="The database could not be written. Nothing was saved; the organizers have "
                        "been told.",
                    ) from exc
                raise
            log.warning("database busy (attempt %d of %d): %s", attempt + 1, attempts, orig)
        time.sleep(min(0.5, 0.01 * 2**attempt) * (0.5 + random.random()))
    raise StorageBusy()


def ping(engine: Engine) -> bool:
    """True when the database answers a trivial query."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        log.exception("database health check failed")
        return False


class HotStatement:
    """A Core statement compiled once per dialect and run straight on the DBAPI cursor.

    For the few statements on the sign-on path only: SQLAlchemy's per-execution machinery
    (cache-key lookup, execution context, result wrapping) costs more than SQLite's own work
    there. The SQL comes from the same Core construct, values are converted by each column
    type's own bind processor (so timestamps are stored exactly as the ORM stores them), and
    the statement runs on the session's connection, inside its transaction.
    """

    def __init__(self, statement: Any, keys: tuple[str, ...]) -> None:
        self.statement = statement
        self.keys = keys
        self._compiled: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {}
        self._results: dict[str, list[Any]] = {}

    def _prepare(self, dialect: Any) -> tuple[str, Callable[[dict[str, Any]], Any]]:
        compiled = self.statement.compile(dialect=dialect, column_keys=list(self.keys))
        binds = {}  # name -> (processor, value built into the statement, e.g. the 1 in "count + 1")
        for name, bind in compiled.binds.items():
            if name not in self.keys and bind.value is None:
                raise ValueError(f"{name} needs a value: pass every column the statement names")
            binds[name] = (bind.type.dialect_impl(dialect).bind_processor(dialect), bind.value)
        keys = frozenset(self.keys)
        plan = [(name, name in keys, *binds[name]) for name in (compiled.positiontup or binds)]

        def values(params: dict[str, Any]) -> Any:
            for name, given, processor, builtin in plan:
                value = params[name] if given else builtin
                yield processor(value) if processor is not None else value

        if compiled.positional:
            return compiled.string, lambda params: tuple(values(params))
        return compiled.string, lambda params: dict(zip(binds, values(params), strict=True))

    def execute(self, session: Session, params: dict[str, Any]) -> Any:
        """Run inside ``session``'s transaction; returns the DBAPI cursor (fetch from it)."""
        connection = session.connection()
        prepared = self._compiled.get(connection.dialect.name)
        if prepared is None:
            prepared = self._compiled[connection.dialect.name] = self._prepare(connection.dialect)
        sql, convert = prepared
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]  # None only once closed
        cursor.execute(sql, convert(params))
        return cursor

    def first(self, session: Session, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row, each value converted by its column type (as SQLAlchemy would), or None."""
        row = self.execute(session, params).fetchone()
        if row is None:
            return None
        dialect = session.connection().dialect
        processors = self._results.get(dialect.name)
        if processors is None:
            processors = self._results[dialect.name] = [
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in self.statement.selected_columns
            ]
        return tuple(p(v) if p is not None else v for p, v in zip(processors, row, strict=True))
