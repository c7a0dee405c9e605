"""Named locks held until commit, so that a limit counted in a transaction (per account, per mailbox, per client
address) holds however many requests arrive at once.

PostgreSQL: a transaction-level advisory lock per name. SQLite needs none: ``db.run_write`` holds its only write
lock from ``BEGIN IMMEDIATE`` on.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlmodel import Session


def advisory_lock(session: Session, *names: str) -> None:
    """Take a lock per name, in the order given (callers keep one order, so two writers never wait on each other in
    a circle), held until the transaction ends: what one name guards takes turns."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for name in names:
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
