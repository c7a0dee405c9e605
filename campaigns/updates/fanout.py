"""The fan-out: an update that started sending gets one outbox message per recipient, queued in the background.

Recipients are read in keyset batches by signature id (``updates.recipients_filter``). Each batch is one
transaction: its messages are queued (``core.outbox_bulk.enqueue_many``, dedupe key
``update:<update>:<signature>``) and the update's cursor moves to the batch's last signature, committed together.
A crash between batches loses nothing; a crash inside one rolls it back whole; and were a batch ever queued
twice, the dedupe keys would skip every message queued before. So a restart resumes where the crash stopped
and nobody is queued twice. The outbox worker then sends them at ``RALLY_MAIL_PER_MINUTE``.

The worker's upkeep runs :func:`fan_out_started` (``signatures.upkeep.TASKS``), in the app process or in
``python -m campaigns worker``: an update started on a page is queued within a minute, and after any restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from campaigns.core.db import read_session, run_write
from campaigns.core.models import Signature, SignerUpdate, UpdateStatus, utcnow
from campaigns.core.outbox_bulk import Queued, enqueue_many
from campaigns.core.settings import get_settings
from campaigns.people import supporter_data
from campaigns.updates import message, updates

log = logging.getLogger(__name__)

BATCH = 1000
KIND = supporter_data.UPDATE_KIND  # opting out drops this kind's queued messages (supporter_data.set_consent)
_U = SignerUpdate.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_S = Signature.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it


def dedupe_key(update_id: int, signature_id: int) -> str:
    return f"update:{update_id}:{signature_id}"


def fan_out_batch(*, session: Session, update_id: int, batch: int = BATCH) -> int | None:
    """Queue the next batch of an update's messages and move its cursor; the number queued, None when done."""
    row = session.execute(select(SignerUpdate).where(_U.c.id == update_id).with_for_update()).scalar_one_or_none()
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
    *, engine: Engine, update_id: int, batch: int = BATCH, after_batch: Callable[[int], None] | None = None
) -> int:
    """Queue every message of one update that started sending, a committed batch at a time; returns how many were
    queued by this call. ``after_batch`` (tests, the benchmark) is called with each batch's count once committed."""
    total = 0
    while True:
        queued = run_write(engine, lambda s: fan_out_batch(session=s, update_id=update_id, batch=batch))
        if queued is None:
            return total
        total += queued
        if after_batch is not None:
            after_batch(queued)


def fan_out_started(engine: Engine) -> None:
    """The upkeep task: every update that is sending gets its remaining messages queued."""
    with read_session(engine) as session:
        ids = list(session.execute(select(_U.c.id).where(_U.c.status == UpdateStatus.sending.value)).scalars())
    for update_id in ids:
        queued = fan_out(engine=engine, update_id=int(update_id))
        if queued:
            log.info("update %d: %d message(s) queued", update_id, queued)
