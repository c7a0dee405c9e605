"""The fan-out: an update that started sending gets one outbox message per recipient, queued in the background.

Recipients are read in keyset batches by signature id (``updates.recipients_filter``). Each batch is one
transaction: its messages are queued (``core.outbox_bulk.enqueue_many``, dedupe key
``update:<update>:<signature>``) and the update's cursor moves to the batch's last signature, committed together.
A crash between batches loses nothing; a crash inside one rolls it back whole; and were a batch ever queued
twice, the dedupe keys would skip every message queued before. So a restart resumes where the crash stopped
and nobody is queued twice. The outbox worker then sends them at ``RALLY_MAIL_PER_MINUTE``.

The worker's upkeep runs :func:`fan_out_started` (``signatures.upkeep.FREQUENT_TASKS``, every few seconds), in
the app process or in ``python -m campaigns worker``: an update started on a page is queued soon after, and after
any restart. The upkeep runs in the mail worker's thread, so each call has a **budget** (:data:`BUDGET_SECONDS`,
:data:`BUDGET_BATCHES`): it queues a few batches and returns, the worker sends what is due, and the next call goes
on where this one stopped (a million recipients never hold up the sending). An update another worker is queueing
is skipped (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), and an update whose fan-out fails is logged and left for the
next call without stopping the others. The same task then :func:`settles <settle_finished>` the updates whose
every message has gone: their final counts are stored on the update, read from then on instead of the outbox.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from campaigns.core.db import read_session, run_write
from campaigns.core.models import OutboxMessage, OutboxStatus, Signature, SignerUpdate, UpdateStatus, utcnow
from campaigns.core.outbox_bulk import Queued, enqueue_many
from campaigns.core.settings import get_settings
from campaigns.people import supporter_data
from campaigns.updates import message, updates

log = logging.getLogger(__name__)

BATCH = 1000
BUDGET_SECONDS = 2.0  # one upkeep call queues for about this long, then lets the worker send (next call: 5 s later)
BUDGET_BATCHES = 20  # and at most this many batches
KIND = supporter_data.UPDATE_KIND  # opting out drops this kind's queued messages (supporter_data.set_consent)
_U = SignerUpdate.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_S = Signature.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_O = OutboxMessage.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it


def dedupe_key(update_id: int, signature_id: int) -> str:
    return f"update:{update_id}:{signature_id}"


def fan_out_batch(*, session: Session, update_id: int, batch: int = BATCH) -> int | None:
    """Queue the next batch of an update's messages and move its cursor; the number queued, None when done (or, on
    PostgreSQL, when another worker is queueing it now: that one goes on)."""
    row = session.execute(
        select(SignerUpdate).where(_U.c.id == update_id).with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if row is None or row.status != UpdateStatus.sending.value:
        return None
    recipients = session.execute(
        select(_S.c.id, _S.c.email, _S.c.email_canonical, _S.c.full_name)
        .where(*updates.recipients_filter(row.campaign_id, row.region_codes), _S.c.id > row.cursor)
        .order_by(_S.c.id)
        .limit(batch)
    ).all()
    if not recipients:
        session.execute(
            update(_U).where(_U.c.id == update_id).values(status=UpdateStatus.sent.value, finished_at=utcnow())
        )
        return None
    shared = updates.mail_of(session, row)
    text = message.markdown_text(shared.body)
    settings = get_settings()
    queued = enqueue_many(
        session=session,
        kind=KIND,
        campaign_id=row.campaign_id,
        update_id=update_id,
        settings=settings,
        messages=[
            Queued(
                mail=message.compose(
                    shared, signature_id=sid, to_address=email, to_name=name, text=text, settings=settings
                ),
                recipient_canonical=canonical,
                signature_id=sid,
                dedupe_key=dedupe_key(update_id, sid),
            )
            for sid, email, canonical, name in recipients
        ],
    )
    session.execute(
        update(_U)
        .where(_U.c.id == update_id)
        .values(cursor=int(recipients[-1][0]), queued=_U.c.queued + queued, updated_at=utcnow())
    )
    return queued


def fan_out(
    *,
    engine: Engine,
    update_id: int,
    batch: int = BATCH,
    after_batch: Callable[[int], None] | None = None,
    max_batches: int | None = None,
    deadline: float | None = None,
) -> int:
    """Queue the messages of one update that started sending, a committed batch at a time; returns how many were
    queued by this call. It runs to the end unless ``max_batches`` batches were queued or the monotonic clock
    passed ``deadline`` (the upkeep's budget: the next call goes on from the cursor). ``after_batch`` (tests, the
    benchmark) is called with each batch's count once committed."""
    total = 0
    batches = 0
    while True:
        queued = run_write(engine, lambda s: fan_out_batch(session=s, update_id=update_id, batch=batch))
        if queued is None:
            return total
        total += queued
        batches += 1
        if after_batch is not None:
            after_batch(queued)
        if (max_batches is not None and batches >= max_batches) or (
            deadline is not None and time.monotonic() >= deadline
        ):
            return total


def fan_out_started(
    engine: Engine,
    *,
    budget_seconds: float = BUDGET_SECONDS,
    budget_batches: int = BUDGET_BATCHES,
    batch: int = BATCH,
) -> None:
    """The upkeep task: the updates that are sending get more of their messages queued, within the budget (at most
    ``budget_batches`` batches, and no new batch after ``budget_seconds``); then the finished ones are settled.
    A failing update is logged and the others still go on."""
    deadline = time.monotonic() + budget_seconds
    with read_session(engine) as session:
        ids = list(
            session.execute(
                select(_U.c.id).where(_U.c.status == UpdateStatus.sending.value).order_by(_U.c.id)
            ).scalars()
        )
    left = budget_batches
    for update_id in ids:
        if left <= 0 or time.monotonic() >= deadline:
            break
        counted: list[int] = []
        try:
            queued = fan_out(
                engine=engine,
                update_id=int(update_id),
                batch=batch,
                after_batch=counted.append,
                max_batches=left,
                deadline=deadline,
            )
        except Exception:
            log.exception("update %d: queueing its messages failed; the next upkeep tries again", update_id)
            continue
        finally:
            left -= len(counted)
        if queued:
            log.info("update %d: %d message(s) queued", update_id, queued)
    settle_finished(engine)


def _settle(session: Session, update_id: int) -> bool:
    """Store an update's final counts if nothing of it is waiting any more (held, queued or being sent)."""
    by_status = dict(
        session.execute(
            select(_O.c.status, func.count()).where(_O.c.update_id == update_id).group_by(_O.c.status)
        ).all()
    )
    waiting = (OutboxStatus.held.value, OutboxStatus.queued.value, OutboxStatus.sending.value)
    if any(by_status.get(s, 0) for s in waiting):
        return False
    failed = int(by_status.get(OutboxStatus.failed.value, 0)) + int(by_status.get(OutboxStatus.uncertain.value, 0))
    settled = session.execute(
        update(_U)
        .where(_U.c.id == update_id, _U.c.status == UpdateStatus.sent.value, _U.c.final_sent.is_(None))
        .values(final_sent=int(by_status.get(OutboxStatus.sent.value, 0)), final_failed=failed)
    ).rowcount  # type: ignore[attr-defined]  # SQLModel types execute() as Result; DML gives a CursorResult
    return bool(settled)


def settle_finished(engine: Engine) -> int:
    """Every update whose messages are all queued and gone (sent, failed or dropped) gets its final counts stored,
    once; its progress is read from them from then on. Returns how many were settled."""
    with read_session(engine) as session:
        ids = list(
            session.execute(
                select(_U.c.id).where(_U.c.status == UpdateStatus.sent.value, _U.c.final_sent.is_(None))
            ).scalars()
        )
    settled = 0
    for update_id in ids:

        def settle(session: Session, update_id: int = int(update_id)) -> bool:
            return _settle(session, update_id)

        try:
            settled += run_write(engine, settle)
        except Exception:
            log.exception("update %d: storing its final counts failed; the next upkeep tries again", update_id)
    return settled
