"""How a page reaches the database and learns who is looking: the engine, a read session, a write, the person.

The one page module that imports ``campaigns.core.db``. Pages read in ``with access.reading() as session:``,
write with ``access.write(lambda session: ...)``, and ask ``access.current_person()`` (or ``access.require``)
who is looking; services that open their own transactions get ``engine=access.engine()``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import streamlit as st
from sqlalchemy.engine import Engine
from streamlit.runtime.scriptrunner import get_script_run_ctx

from campaigns.core import client_address as address_rule
from campaigns.core.audit import Actor
from campaigns.core.db import get_engine, read_session, run_write, snapshot_session
from campaigns.core.db_failures import unreachable
from campaigns.core.errors import RallyError
from campaigns.core.migrate import upgrade
from campaigns.core.settings import get_settings
from campaigns.people import logins
from campaigns.ui import widgets

log = logging.getLogger("campaigns.ui")
T = TypeVar("T")


@st.cache_resource(show_spinner=False)
def _engine_for(url: str) -> Engine:
    engine = get_engine()
    upgrade(engine)
    return engine


def engine() -> Engine:
    """The process-wide engine, with the schema brought up to date once per process."""
    return _engine_for(get_settings().effective_database_url)


@contextmanager
def reading(*, snapshot: bool = False) -> Iterator[Any]:
    """A read-only session (pages never import SQLAlchemy, hence ``Any``). ``snapshot``: every statement sees
    one snapshot of the database, for figures that must agree (a total, its regions, its hours)."""
    try:
        with (snapshot_session if snapshot else read_session)(engine()) as session:
            yield session
    except Exception as exc:
        storage = unreachable(exc)  # the database is down or restarting: the page's apology, not "something broke"
        if storage is None:
            raise
        raise storage from exc


def write(work: Callable[[Any], T]) -> T:
    """``work(session)`` in one write transaction, committed, and run again while the database is locked by
    other writers (which is why it takes a function, not a block)."""
    return run_write(engine(), work)


# --- who is looking ---------------------------------------------------------------------------


def session_cookie() -> str | None:
    """The browser's Rally session cookie (HttpOnly: sent with the websocket that runs this script)."""
    value = st.context.cookies.get(logins.COOKIE_NAME)
    return value if isinstance(value, str) else None


def client_address() -> str:
    """This visitor's address by Rally's one rule (campaigns/core/client_address.py), from the websocket's peer and
    its X-Forwarded-For. Streamlit reports a loopback peer (a proxy on this machine) as None: it is taken as
    127.0.0.1 when there is a connection at all (its headers), "unknown" otherwise."""
    headers = st.context.headers
    reported = st.context.ip_address
    peer = reported if isinstance(reported, str) else ("127.0.0.1" if headers else None)
    forwarded = [value for value in headers.get_all("X-Forwarded-For") if isinstance(value, str)] if headers else []
    return address_rule.client_address(peer, ", ".join(forwarded) or None)


def request_address() -> tuple[str | None, str | None]:
    """The request this page run answers, for links built on the address the visitor used (sharing/links.py,
    which checks the host against RALLY_ALLOWED_HOSTS): the browser's URL, and the Host its websocket named.
    (None, None) outside a page run, such as the mail worker's thread."""
    if get_script_run_ctx(suppress_warning=True) is None:
        return None, None
    url, host = st.context.url, st.context.headers.get("host")
    return (url if isinstance(url, str) else None), (host if isinstance(host, str) else None)


_SEEN = "rally:session-seen"
RECONNECTED = (
    "We reconnected you to another server: if you were signing, check your details and press the button again."
)


def resumed_elsewhere() -> bool:
    """True in the first run of a session that the browser opened to resume an earlier one this process never
    had: the process it was on went away (a crash, a restart, the balancer moved it), so whatever that session
    held (a thank-you, a form's state) is gone. Streamlit's frontend names its last session in the websocket's
    subprotocols (``streamlit, <xsrf>, <session id>``); a new tab names none. One lookup on later runs."""
    if _SEEN in st.session_state:
        return False
    st.session_state[_SEEN] = True
    ctx = get_script_run_ctx(suppress_warning=True)
    protocols = st.context.headers.get("Sec-WebSocket-Protocol") if ctx is not None else None
    if ctx is None or not isinstance(protocols, str):
        return False
    entries = [entry.strip() for entry in protocols.split(",")]
    previous = entries[2] if len(entries) > 2 else ""
    return bool(previous) and previous != ctx.session_id


def current_person() -> Actor | None:
    """The logged-in person, checked against the database on every run (logout and deactivation apply at once)."""
    cookie = session_cookie()
    if not cookie:
        return None
    try:
        return write(lambda session: logins.identify(session=session, cookie_value=cookie))
    except RallyError:
        log.exception("could not check the session")
        return None


def _here() -> str:
    """This page's path and query, as the browser shows them ("/editor?edit=x"), for the log-in to come back to."""
    url = st.context.url
    if not url:  # the browser has not said (no page to come back to): the home page
        return "/"
    path, query = urlsplit(url).path or "/", urlencode(st.query_params.to_dict())
    return f"{path}?{query}" if query else path


def require(*roles: str) -> Actor:
    """Stop the page unless the person holds one of ``roles`` (pages are also hidden from navigation)."""
    actor = current_person()
    if actor is None:  # never logged in here, or the log-in ended (logged out elsewhere, expired)
        st.error("This page is for Rally staff. Log in to open it: you come back to this page afterwards.")
        st.link_button("Log in", logins.login_url(_here()), type="primary")
        st.stop()
    if not any(actor.has(role) for role in roles):
        st.error("This page is for Rally staff with the right role. Ask an admin for access, or log in as another.")
        st.link_button("Log in", logins.login_url(_here()))  # and back to this page
        st.stop()
    assert actor is not None
    widgets.mail_banner()  # every staff page says so when supporters can't receive email
    return actor
