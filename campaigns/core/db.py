"""Storage: engines for SQLite (the embedded default) and PostgreSQL, sessions, retries.

SQLite runs in WAL mode with a busy timeout and foreign keys on. The driver's own
transaction handling is switched off so that we issue ``BEGIN`` ourselves: writes
use ``BEGIN IMMEDIATE`` (take the write lock up front, so two writers never deadlock
upgrading a read lock), reads a plain deferred ``BEGIN``. A write that still finds
the database locked is retried a bounded number of times, then reported as
``StorageBusy``. PostgreSQL uses psycopg 3 with ``pool_pre_ping``.

This is plumbing, not services: the engine is positional (``read_session(engine)``, ``run_write(engine, work)``),
as context managers and helpers used in hundreds of places read best that way.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlmodel import Session, create_engine

from campaigns.core.db_failures import driver_error, is_transient
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
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")  # PRAGMA binds no parameters: int() it is
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode except on power loss
        cursor.close()
        # lower() and LIKE fold ASCII only: rally_lower() folds "École" to "école" as PostgreSQL does (comment search)
        dbapi_conn.create_function("rally_lower", 1, lambda v: v and str(v).lower(), deterministic=True)

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
    PostgreSQL runs it in REPEATABLE READ, on one pooled connection for the block; SQLite's read
    transaction in WAL mode is a snapshot from its first read already.
    """
    if is_sqlite(engine):
        with Session(engine, expire_on_commit=False) as session:
            yield session
        return
    with engine.connect() as connection:
        connection.execution_options(isolation_level="REPEATABLE READ")  # this connection only, reset on release
        with Session(bind=connection, expire_on_commit=False) as session:
            yield session


# SQLite: the lock this process's writers queue on, one per engine (weakly held: it goes with its engine).
_writer_locks: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()


def _writer_lock(engine: Engine) -> AbstractContextManager[Any]:
    """SQLite: the engine's writer lock (re-entrant: a nested write in one thread fails with SQLite's busy
    error instead of hanging)."""
    if not is_sqlite(engine):
        return nullcontext()
    lock = _writer_locks.get(engine)
    if lock is None:
        with _engines_lock:
            lock = _writer_locks.setdefault(engine, threading.RLock())
    return lock


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One write transaction: committed at the end of the block, rolled back on error.

    SQLite admits one writer at a time. Threads of this process queue on a lock that hands
    over at once, instead of sleeping in SQLite's busy handler (1, 2, 5, 10... ms steps);
    other processes are still kept out by SQLite's own lock, taken with ``BEGIN IMMEDIATE``
    at the first statement. The session is bound to one pooled connection for the block.
    """
    with _writer_lock(engine), engine.connect() as connection:
        if is_sqlite(engine):
            connection.execution_options(sqlite_begin="IMMEDIATE")  # read by _on_begin, for this connection only
        with Session(bind=connection, expire_on_commit=False) as session, session.begin():
            yield session


def run_write(engine: Engine, work: Callable[[Session], T], *, retries: int | None = None) -> T:
    """Run ``work`` in a write transaction, retrying a bounded number of times on lock contention."""
    attempts = 1 + (get_settings().write_retries if retries is None else retries)
    for attempt in range(attempts):
        try:
            with write_session(engine) as session:
                return work(session)
        except Exception as exc:
            orig = driver_error(exc)
            if orig is None:
                raise
            if not is_transient(orig):
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
    """A Core statement compiled once per dialect and run straight on the DBAPI cursor, which it closes.

    For the statements where SQLAlchemy's per-execution machinery (cache-key lookup, execution context,
    result wrapping) costs more than the database's own work: those on the sign-on path, and the rows
    of an export. The SQL comes from the same Core construct; every value, given in ``params`` or built
    into the statement, is converted by its column type's own bind processor (so timestamps are stored
    exactly as the ORM stores them), under the bind names of the compiled statement, the items of an
    expanded ``IN (...)`` included. It runs on the session's (or connection's) connection, inside its
    transaction. ``keys`` are the values each call gives (for an INSERT, its columns).
    """

    def __init__(self, statement: Any, keys: tuple[str, ...] = ()) -> None:
        self.statement = statement
        self.keys = keys
        self._compiled: dict[str, Callable[[dict[str, Any]], tuple[str, Any]]] = {}
        self._results: dict[str, list[Any]] = {}

    def _prepare(self, dialect: Any) -> Callable[[dict[str, Any]], tuple[str, Any]]:
        """A function from ``params`` to (the SQL, the driver's parameters), for one dialect."""
        compiled = self.statement.compile(dialect=dialect, column_keys=list(self.keys))
        if compiled.escaped_bind_names:  # names SQLAlchemy quotes in the SQL: not worth the bookkeeping here
            raise ValueError(f"bind names that need escaping: {', '.join(compiled.escaped_bind_names)}")
        processors = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect) for name, bind in compiled.binds.items()
        }
        if compiled.post_compile_params or compiled.literal_execute_params:
            return lambda params: _expanded(compiled, processors, params)
        keys = frozenset(self.keys)
        for name, bind in compiled.binds.items():
            if name not in keys and bind.value is None:
                raise ValueError(f"{name} needs a value: pass every column the statement names")
        names = list(compiled.positiontup or compiled.binds)
        # name, given in params?, processor, value built into the statement (e.g. the 1 in "count + 1")
        plan = [(name, name in keys, processors[name], compiled.binds[name].value) for name in names]
        sql = compiled.string

        def values(params: dict[str, Any]) -> Any:
            for name, given, processor, builtin in plan:
                value = params[name] if given else builtin
                yield processor(value) if processor is not None else value

        if compiled.positional:
            return lambda params: (sql, tuple(values(params)))
        return lambda params: (sql, dict(zip(names, values(params), strict=True)))

    def _execute(self, bind: Session | Connection, params: dict[str, Any], server_side: bool = False) -> Any:
        connection = bind if isinstance(bind, Connection) else bind.connection()
        dialect = connection.dialect
        prepared = self._compiled.get(dialect.name)
        if prepared is None:
            prepared = self._compiled[dialect.name] = self._prepare(dialect)
        sql, values = prepared(params)
        raw = connection.connection.dbapi_connection
        assert raw is not None
        # a named cursor is psycopg's server-side one: rows come over as they are fetched
        cursor = raw.cursor(name="rally_stream") if server_side and dialect.name == "postgresql" else raw.cursor()
        try:
            cursor.execute(sql, values)
        except BaseException:
            cursor.close()
            raise
        return cursor

    def run(self, bind: Session | Connection, params: dict[str, Any]) -> None:
        """Run it for its effect (an INSERT, an UPDATE)."""
        self._execute(bind, params).close()

    def fetchone(self, bind: Session | Connection, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row as the driver returns it, or None."""
        cursor = self._execute(bind, params)
        try:
            return cursor.fetchone()
        finally:
            cursor.close()

    def scalar(self, bind: Session | Connection, params: dict[str, Any]) -> Any:
        """The first value of the first row, as the driver returns it (an aggregate's: a count, a sum)."""
        row = self.fetchone(bind, params)
        return row[0] if row is not None else None

    def fetchall(self, bind: Session | Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Every row as the driver returns them."""
        cursor = self._execute(bind, params)
        try:
            return cursor.fetchall()
        finally:
            cursor.close()

    @contextmanager
    def cursor(
        self, bind: Session | Connection, params: dict[str, Any] | None = None, *, server_side: bool = False
    ) -> Iterator[Any]:
        """The executed cursor, to fetch from in the block (``server_side``: PostgreSQL keeps the rows until
        fetched); closed when the block ends."""
        cursor = self._execute(bind, params or {}, server_side)
        try:
            yield cursor
        finally:
            cursor.close()

    def first(self, bind: Session | Connection, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row, each value converted by its column type (as SQLAlchemy would), or None."""
        row = self.fetchone(bind, params)
        if row is None:
            return None
        dialect = (bind if isinstance(bind, Connection) else bind.connection()).dialect
        processors = self._results.get(dialect.name)
        if processors is None:
            processors = self._results[dialect.name] = [
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in self.statement.selected_columns
            ]
        return tuple(p(v) if p is not None else v for p, v in zip(processors, row, strict=True))


def _expanded(compiled: Any, processors: dict[str, Any], params: dict[str, Any]) -> tuple[str, Any]:
    """(SQL, parameters) for a statement with an expanding ``IN (...)``: SQLAlchemy renders the items and names
    them (``ExpandedState``); each item gets the processor of the parameter it came from."""
    state = compiled.construct_expanded_state(params)
    values = {}
    for name, value in state.parameters.items():
        processor = state.processors.get(name) or processors.get(name)
        values[name] = processor(value) if processor is not None else value
    if compiled.positional:
        return state.statement, tuple(values[name] for name in state.positiontup)
    return state.statement, values
