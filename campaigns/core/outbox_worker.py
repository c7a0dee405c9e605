"""The outbox worker: the loop that sends what ``outbox`` queued (in a thread of the app process, or ``python
-m campaigns worker``), one pass at a time (:func:`run_once`, :func:`drain`), and what the Mail page shows of it.

Each pass recovers expired leases, claims a batch, hands each message to the transport and marks it, with the
steps ``outbox`` defines; a pass's outcome is a :class:`RunStats`.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from campaigns.core.db import run_write
from campaigns.core.errors import RallyError
from campaigns.core.mail import MailError, Transport, mail_mode, open_transport
from campaigns.core.models import OutboxMessage, OutboxStatus, utcnow
from campaigns.core.outbox import BATCH, claim, mark_failed, mark_sent, recover_expired_leases
from campaigns.core.settings import Settings, get_settings

log = logging.getLogger(__name__)

IDLE_SECONDS = 1.0  # how long an idle worker waits before looking again

_T = OutboxMessage.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it


@dataclass
class RunStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    uncertain: int = 0
    recovered: int = 0  # leases found expired (messages made uncertain)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed + self.uncertain


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{threading.get_ident() % 100_000}"


_COUNTER = {"queued": "retried", "failed": "failed", "uncertain": "uncertain"}


def run_once(
    *,
    engine: Engine,
    worker: str | None = None,
    limit: int = BATCH,
    settings: Settings | None = None,
    transport: Transport | None = None,
    after_send: Callable[[int], None] | None = None,
) -> RunStats:
    """One pass: recover expired leases, claim a batch, hand each message over and mark it. Returns what happened.

    ``after_send`` (tests) is called with each message's id once it was handed over, before it is marked.
    """
    settings = settings or get_settings()
    worker = worker or worker_name()
    stats = RunStats()
    stats.recovered = run_write(engine, lambda s: recover_expired_leases(session=s))
    batch = run_write(engine, lambda s: claim(session=s, worker=worker, limit=limit, settings=settings))
    if not batch:
        return stats
    own_transport = transport is None
    transport = transport or open_transport(settings)
    try:
        for claimed in batch:
            try:
                transport.send(claimed.message, claimed.to_address)
            except MailError as exc:
                status = mark_failed(engine=engine, claimed=claimed, worker=worker, error=exc, settings=settings)
                log.warning("outbox message %d not sent (%s): %s", claimed.id, status, exc.user_message)
                counter = _COUNTER[status]
                setattr(stats, counter, getattr(stats, counter) + 1)
                continue
            if after_send is not None:
                after_send(claimed.id)
            mark_sent(engine=engine, claimed=claimed, worker=worker)
            stats.sent += 1
    finally:
        if own_transport:
            transport.close()
    return stats


def drain(*, engine: Engine, settings: Settings | None = None, max_passes: int = 1000) -> RunStats:
    """Send everything that is due now (tests, the CLI's ``worker --once``)."""
    total = RunStats()
    for _ in range(max_passes):
        stats = run_once(engine=engine, settings=settings)
        for name in ("sent", "retried", "failed", "uncertain", "recovered"):
            setattr(total, name, getattr(total, name) + getattr(stats, name))
        if stats.handled == 0:
            break
    return total


@dataclass(kw_only=True)
class Worker:
    """The outbox worker loop, in a thread of the app process or in ``python -m campaigns worker``."""

    engine: Engine
    idle_seconds: float = IDLE_SECONDS
    # the periodic upkeep (``signatures.upkeep.run_all``), run about once a minute; it logs its own failures
    upkeep: Callable[..., None] | None = None
    upkeep_seconds: float = 60.0
    # the quick upkeep (``signatures.upkeep.run_frequent``: an update's fan-out starts within seconds of "Send")
    frequent: Callable[..., None] | None = None
    frequent_seconds: float = 5.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def run(self) -> None:
        name = worker_name()
        last_upkeep = last_frequent = -math.inf  # both due at once (the monotonic clock may start near 0)
        log.info("outbox worker %s started", name)
        while not self._stop.is_set():
            if self.upkeep is not None and time.monotonic() - last_upkeep >= self.upkeep_seconds:
                last_upkeep = last_frequent = time.monotonic()
                self._guarded(self.upkeep)
            elif self.frequent is not None and time.monotonic() - last_frequent >= self.frequent_seconds:
                last_frequent = time.monotonic()
                self._guarded(self.frequent)
            try:
                stats = run_once(engine=self.engine, worker=name)
            except RallyError as exc:
                log.error("outbox worker: %s", exc.user_message)
                stats = RunStats()
            except Exception:
                log.exception("outbox worker pass failed")
                stats = RunStats()
            if stats.handled == 0:
                self._stop.wait(self.idle_seconds)
        log.info("outbox worker %s stopped", name)

    def _guarded(self, task: Callable[..., None]) -> None:
        try:
            task(engine=self.engine)
        except Exception:  # the upkeep logs its own tasks' failures: this only keeps the loop (and mail) alive
            log.exception("upkeep failed")

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="rally-outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 20.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


# --- what the Mail page shows ------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxSummary:
    counts: dict[str, int]  # status -> messages
    sent_last_hour: int
    per_minute: int
    mode: str | None


def summarize(*, session: Session, campaign_id: int | None = None, now: datetime | None = None) -> OutboxSummary:
    now = now or utcnow()
    where = [_T.c.campaign_id == campaign_id] if campaign_id is not None else []
    counts = {status.value: 0 for status in OutboxStatus}
    for status, n in session.execute(select(_T.c.status, func.count()).where(*where).group_by(_T.c.status)):
        counts[status] = int(n)
    sent = session.execute(
        select(func.count()).where(
            *where, _T.c.status == OutboxStatus.sent.value, _T.c.sent_at > now - timedelta(hours=1)
        )
    ).scalar_one()
    settings = get_settings()
    return OutboxSummary(counts, int(sent), settings.mail_per_minute, mail_mode(settings))


@dataclass(frozen=True)
class ProblemMessage:
    id: int
    kind: str
    status: str
    to_address: str
    subject: str
    attempts: int
    last_error: str | None
    created_at: datetime


def list_problems(*, session: Session, campaign_id: int | None = None, limit: int = 200) -> list[ProblemMessage]:
    """Failed and uncertain messages, newest first: what an organizer may look at and resend."""
    where: list[Any] = [_T.c.status.in_([OutboxStatus.failed.value, OutboxStatus.uncertain.value])]
    if campaign_id is not None:
        where.append(_T.c.campaign_id == campaign_id)
    rows = session.execute(
        select(
            _T.c.id,
            _T.c.kind,
            _T.c.status,
            _T.c.to_address,
            _T.c.subject,
            _T.c.attempts,
            _T.c.last_error,
            _T.c.created_at,
        )
        .where(*where)
        .order_by(_T.c.id.desc())
        .limit(limit)
    ).all()
    return [ProblemMessage(*row) for row in rows]
