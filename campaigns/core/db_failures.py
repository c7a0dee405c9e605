"""What a failure from the database driver means: busy for a moment (retry), or out of reach (apologize).

``core/db.py`` retries writes on :func:`is_transient` failures; reads that meet :func:`unreachable` failures (the
server down or restarting, the file gone) become the ``StorageError`` whose apology pages show.
"""

from __future__ import annotations

import sqlite3

import psycopg
from sqlalchemy.exc import DBAPIError

from campaigns.core.errors import StorageError


def driver_error(exc: BaseException) -> BaseException | None:
    """The driver's own exception, whether SQLAlchemy wrapped it or a hot path raised it directly."""
    if isinstance(exc, DBAPIError):
        return exc.orig
    if isinstance(exc, (sqlite3.Error, psycopg.Error)):
        return exc
    return None


def is_transient(orig: BaseException) -> bool:
    """A lock or serialization conflict: the same work may simply be tried again."""
    if isinstance(orig, sqlite3.OperationalError):
        message = str(orig).lower()
        return "locked" in message or "busy" in message
    # serialization_failure, deadlock_detected, lock_not_available
    return getattr(orig, "sqlstate", None) in {"40001", "40P01", "55P03"}


def unreachable(exc: BaseException) -> StorageError | None:
    """A read that failed because the database can't be reached or opened (the server down or restarting, the
    file gone), as the StorageError pages answer with their apology; None for any other failure."""
    orig = driver_error(exc)
    if isinstance(orig, psycopg.OperationalError) or (
        isinstance(orig, sqlite3.OperationalError) and not is_transient(orig)
    ):
        return StorageError(f"The database could not be read: {orig}")
    return None
