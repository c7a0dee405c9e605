"""A real SMTP server (aiosmtpd) and what it received."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy.engine import Engine

from campaigns.core.settings import ENV_NAMES


class CollectMail:
    """aiosmtpd handler keeping every envelope it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[object] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.envelopes.append(envelope)
        return "250 OK"


class Mailbox:
    """What the test SMTP server received once the outbox has sent everything due: drained on every look."""

    def __init__(self, engine: Engine, handler: CollectMail) -> None:
        self.engine = engine
        self.handler = handler

    @property
    def envelopes(self) -> list[Any]:
        from campaigns.core import outbox_worker

        outbox_worker.drain(engine=self.engine)
        return self.handler.envelopes

    def __getitem__(self, index: int) -> Any:
        return self.envelopes[index]

    def __len__(self) -> int:
        return len(self.envelopes)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self.envelopes))

    def __eq__(self, other: object) -> bool:
        return self.envelopes == other


def wait_for_mail(handler: CollectMail, count: int, seconds: float = 30) -> list[Any]:
    """The envelopes, once the test SMTP server has received ``count`` (a running app's worker sends them)."""
    import time

    deadline = time.monotonic() + seconds
    while len(handler.envelopes) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(handler.envelopes) >= count, f"{len(handler.envelopes)} of {count} messages arrived in {seconds} s"
    return handler.envelopes


def smtp_settings(controller: Any, mail_from: str) -> dict[str, Any]:
    """Settings that send mail, from ``mail_from``, to the test SMTP server of ``controller`` (plain SMTP)."""
    return {"smtp_host": "127.0.0.1", "smtp_port": controller.port, "smtp_security": "none", "mail_from": mail_from}


def smtp_environment(controller: Any, mail_from: str) -> dict[str, str]:
    """``smtp_settings`` as the environment of an app started with ``running_app``."""
    return {ENV_NAMES[name]: str(value) for name, value in smtp_settings(controller, mail_from).items()}
