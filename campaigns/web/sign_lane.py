"""The light page's sign-ons, written a batch at a time: the service's ``sign()`` for each, in one transaction.

In a spike, hundreds of visitors a second press the button at once. Each sign-on is the same service call as the
Streamlit form's (``signing.sign``: validation, flood control, confirmation, consent, receipt, counts), but the
ones waiting together share one write transaction (``core/db.run_write``) and one trip to a worker thread, each
in its own savepoint: one refused (a mistyped email, a closed campaign) is answered alone and the others are
stored. What a transaction costs (begin, commit, the thread hop) is paid once per batch, not once per visitor,
and the event loop never waits on the database. A batch is at most ``MAX_BATCH`` sign-ons; a lone visitor is
written at once, never held back to wait for company.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

import anyio
from sqlmodel import Session

from campaigns.core.db import get_engine, run_write
from campaigns.core.errors import RallyError
from campaigns.regions.schemes import RegionScheme
from campaigns.sharing import links
from campaigns.signatures.signing import SignerInput, SignResult, sign

MAX_BATCH = 64


@dataclass
class SignOn:
    """One visitor's sign-on, and the request's address (for the links a confirmation email carries)."""

    slug: str
    signer: SignerInput
    client_address: str
    scheme: RegionScheme | None
    host: str | None
    url_scheme: str
    answer: asyncio.Future[SignResult] = field(init=False)


def write_batch(batch: list[SignOn]) -> list[SignResult | RallyError]:
    """``sign()`` for each sign-on of ``batch`` in one write transaction, each in a savepoint: its result, or the
    ``RallyError`` that refused it. A failure of the transaction itself (the database can't be reached) is
    every sign-on's answer."""

    def work(session: Session) -> list[SignResult | RallyError]:
        answers: list[SignResult | RallyError] = []
        for item in batch:
            try:
                with session.begin_nested(), links.answering(host=item.host, scheme=item.url_scheme):
                    answers.append(
                        sign(
                            session=session,
                            campaign_slug=item.slug,
                            signer=item.signer,
                            client_address=item.client_address,
                            scheme=item.scheme,
                        )
                    )
            except RallyError as exc:  # this sign-on's own answer (InvalidInput, CampaignClosed, not found)
                answers.append(exc)
        return answers

    try:
        return run_write(get_engine(), work)
    except RallyError as exc:
        return [exc] * len(batch)


class SignLane:
    """Sign-ons of one process, queued on its event loop and written by one batch at a time."""

    def __init__(self, max_batch: int = MAX_BATCH) -> None:
        self.max_batch = max_batch
        self._waiting: deque[SignOn] = deque()
        self._writer: asyncio.Task[None] | None = None

    async def sign(self, item: SignOn) -> SignResult:
        """``item`` signed (in the next batch); raises the ``RallyError`` that refused it."""
        loop = asyncio.get_running_loop()
        item.answer = loop.create_future()
        self._waiting.append(item)
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write_all())
        return await item.answer

    async def _write_all(self) -> None:
        while self._waiting:
            batch = [self._waiting.popleft() for _ in range(min(len(self._waiting), self.max_batch))]
            try:
                answers: list[SignResult | RallyError] = await anyio.to_thread.run_sync(write_batch, batch)
            except BaseException as exc:  # not a refusal: each of them gets it (the route answers 500)
                for item in batch:
                    if not item.answer.done():
                        item.answer.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for item, answer in zip(batch, answers, strict=True):
                if item.answer.done():  # the visitor went away
                    continue
                if isinstance(answer, RallyError):
                    item.answer.set_exception(answer)
                else:
                    item.answer.set_result(answer)


lane = SignLane()
