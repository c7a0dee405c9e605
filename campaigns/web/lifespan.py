"""Rally's start-up and shut-down around serving: the schema, where mail goes, the outbox worker, TCP_NODELAY on
the listening sockets, and the port they listen on (the default address of links, ``sharing/links.py``)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio

from campaigns.core import outbox_worker
from campaigns.core.db import get_engine
from campaigns.core.errors import RallyError
from campaigns.core.mail import mail_mode, outbox_folder
from campaigns.core.migrate import upgrade
from campaigns.core.settings import Settings, get_settings
from campaigns.sharing import links
from campaigns.signatures import upkeep

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Create or upgrade the schema before serving (a broken database is reported, not fatal), say where mail
    goes, and run the outbox worker in this process unless ``RALLY_OUTBOX_WORKER=off``."""
    log.debug("TCP_NODELAY set on %d listening socket(s)", enable_tcp_nodelay())
    remember_port(asyncio.get_running_loop())
    try:
        await anyio.to_thread.run_sync(lambda: upgrade(get_engine()))
    except RallyError as exc:
        log.error("database not ready: %s", getattr(exc, "detail", exc.user_message))
    print(mail_notice(), file=sys.stderr, flush=True)
    worker = None
    if get_settings().outbox_worker == "app":
        try:
            worker = outbox_worker.Worker(engine=get_engine(), upkeep=upkeep.run_all, frequent=upkeep.run_frequent)
        except RallyError as exc:
            log.error("mail worker not started: %s", getattr(exc, "detail", exc.user_message))
        else:
            worker.start()
    try:
        yield
    finally:
        if worker is not None:
            await anyio.to_thread.run_sync(worker.stop)


def mail_notice(settings: Settings | None = None) -> str:
    """One line at start-up: where Rally's mail goes."""
    settings = settings or get_settings()
    mode = mail_mode(settings)
    if mode == "smtp":
        return f"Mail: sending through {settings.smtp_host}:{settings.smtp_port}."
    if mode == "outbox":
        return (
            f"Mail: no SMTP server configured (RALLY_SMTP_HOST), so every message is written to "
            f"{outbox_folder(settings)} as an .eml file (development). Supporters cannot receive "
            "confirmations or links until mail is configured."
        )
    return "Mail: off (RALLY_SMTP_HOST and RALLY_MAIL_OUTBOX are empty): Rally sends no email."


def _listening_sockets() -> Iterator[socket.socket]:
    """This process's listening TCP sockets (Linux: from /proc/self/fd; elsewhere none), each closed after use."""
    fd_dir = "/proc/self/fd"
    if not os.path.isdir(fd_dir):
        return
    for name in os.listdir(fd_dir):
        try:
            sock = socket.socket(fileno=os.dup(int(name)))
        except (OSError, ValueError):
            continue  # not a socket (or already closed)
        with sock:
            try:
                listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
            except OSError:
                continue
            if listening and sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
                yield sock


def remember_port(loop: asyncio.AbstractEventLoop, tries: int = 100) -> None:
    """Tell ``sharing/links.py`` the port this process serves on (links without RALLY_PUBLIC_URL default to
    http://localhost:<port>). Streamlit's server has bound its socket before the lifespan runs; uvicorn run on
    its own binds it just after, so until one socket listens this looks again every 0.1 s (for 10 s)."""
    ports = listening_ports()
    if len(ports) == 1:
        links.serve_on_port(ports[0])
    elif tries > 0:
        loop.call_later(0.1, remember_port, loop, tries - 1)


def listening_ports() -> list[int]:
    """The ports this process listens on (TCP), sorted; empty elsewhere than Linux."""
    ports = set()
    for sock in _listening_sockets():
        try:
            ports.add(int(sock.getsockname()[1]))
        except OSError:
            continue
    return sorted(ports)


def enable_tcp_nodelay() -> int:
    """Turn off Nagle's algorithm for this process's listening TCP sockets; returns how many.

    Streamlit binds its socket with protocol 0, so asyncio does not set TCP_NODELAY on
    accepted connections and small websocket frames wait for delayed ACKs (about 40 ms
    per round trip). Linux copies TCP_NODELAY from a listening socket to the connections
    it accepts, so setting it on the listener, once, at start-up, is enough. Runs in the
    lifespan, after the server has bound its socket and before it accepts anything;
    elsewhere than Linux it does nothing.
    """
    changed = 0
    for sock in _listening_sockets():
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            continue
        changed += 1
    return changed
