"""Periodic upkeep, run by the outbox worker about once a minute (in the app process or ``python -m campaigns
worker``): writes that belong to no visitor's request.

Each task is safe to run in several processes at once and at any time; a failing task is logged and the
others still run.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from sqlalchemy.engine import Engine

from campaigns.core.db import is_sqlite, run_write
from campaigns.core.errors import RallyError
from campaigns.proposals import expiry
from campaigns.signatures import confirmation, count_writes
from campaigns.updates import fanout

log = logging.getLogger(__name__)

FOLD_EVERY_SECONDS = 300
_fold_lock = threading.Lock()
_folded_at = -math.inf


def fold_past_hours(engine: Engine) -> None:
    """PostgreSQL: fold past hours' count shards into one row per hour (``count_writes.fold_past_hours``), at most
    every 5 minutes per process, so the dashboard's read sums one row per past hour. SQLite has one shard."""
    global _folded_at
    now = time.monotonic()
    with _fold_lock:
        if now - _folded_at < FOLD_EVERY_SECONDS or is_sqlite(engine):
            return
        _folded_at = now
    run_write(engine, lambda session: count_writes.fold_past_hours(session=session))


TASKS: list[Callable[[Engine], None]] = [
    fold_past_hours,
    confirmation.remind_and_expire,
    expiry.expire,
    fanout.fan_out_started,
]


# run every few seconds as well (cheap when there is nothing to do): an update starts going out soon after "Send"
FREQUENT_TASKS: list[Callable[[Engine], None]] = [fanout.fan_out_started]


def run_frequent(*, engine: Engine) -> None:
    """The quick tasks, between the minute's upkeep runs (which run them too)."""
    _run(FREQUENT_TASKS, engine)


def run_all(*, engine: Engine) -> None:
    """Every task once: the outbox worker's periodic upkeep, and ``python -m campaigns worker --once``. A failing
    task is logged, the others still run."""
    _run(TASKS, engine)


def _run(tasks: list[Callable[[Engine], None]], engine: Engine) -> None:
    for task in tasks:
        try:
            task(engine)
        except RallyError as exc:
            log.warning("upkeep %s: %s", task.__name__, exc.user_message)
        except Exception:
            log.exception("upkeep %s failed", task.__name__)
