"""A small synchronous sign-on client over Streamlit's websocket: one new visitor signing one campaign.

What a browser does, reduced to the messages: ``GET /_stcore/health`` (through a balancer this sets its sticky
cookie, which every later request carries), the websocket ``/_stcore/stream``, the first run of
``/?campaign=<slug>``, then ONE ``rerun_script`` carrying the form's widget values and the submit button's
trigger (with the form's ``fragment_id`` when the form lives in an ``st.fragment``), and the deltas until the
run's final ``script_finished``. The sign-on is acknowledged when the thank-you ("Thank you, <name>.") is drawn.

Used by bench/cluster.py and tests/cluster/. The protocol is the one tests/support/streamlit_ws.py and
bench/st_driver.py speak (Streamlit 1.67). Loopback hosts only; every wait has a timeout.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.sync.client import ClientConnection, connect

from bench.st_driver import Widget  # the widget as the frontend learns it, one definition for both clients

FINISHED_EARLY = ForwardMsg.FINISHED_EARLY_FOR_RERUN
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
THANK_YOU = "Thank you, "
TEXT_KINDS = {"markdown": "body", "alert": "body", "heading": "body", "text": "body"}
WIDGET_KINDS = {"text_input", "text_area", "checkbox", "selectbox", "button"}


class SignError(Exception):
    """The sign-on did not go through the protocol (closed socket, no form, a timeout)."""


@dataclass
class Run:
    texts: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)  # st.error / st.warning / st.info / st.success bodies
    widgets: list[Widget] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    status: int | None = None


@dataclass
class Outcome:
    """``signed``: the thank-you was drawn (acknowledged); else ``message`` is what the visitor read."""

    signed: bool
    message: str
    seconds: float


class SignClient:
    """One browser tab: ``open()`` the campaign page, ``sign(name, email)``, ``close()``."""

    def __init__(self, base_url: str, slug: str, *, timeout: float = 30.0, http: httpx.Client | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.hostname not in LOOPBACK:
            raise ValueError(f"the sign client only talks to loopback hosts, not {parts.hostname!r}")
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.slug = slug
        self.timeout = timeout
        self.http = http or httpx.Client(timeout=timeout)  # its cookie jar keeps the balancer's sticky cookie
        self.query = urlencode({"campaign": slug})
        self.page_script_hash = ""
        self.ws: ClientConnection | None = None
        self.first: Run | None = None

    def open(self) -> Run:
        response = self.http.get(f"{self.base}/_stcore/health")
        if response.status_code != 200:  # e.g. the balancer's own page when no app process is up
            text = re.sub(r"<[^>]+>", " ", response.text)
            raise SignError(f"HTTP {response.status_code}: {' '.join(text.split())[:300]}")
        xsrf = response.cookies.get("_streamlit_xsrf") or self.http.cookies.get("_streamlit_xsrf") or ""
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies.jar)
        headers = {"Origin": self.base}
        if cookies:
            headers["Cookie"] = cookies
        try:
            self.ws = connect(  # entered now and closed in close() (websockets 17 warns about a bare connect)
                self.base.replace("http", "ws", 1) + "/_stcore/stream",
                subprotocols=["streamlit", xsrf] if xsrf else ["streamlit"],  # type: ignore[list-item]
                additional_headers=headers,
                open_timeout=self.timeout,
                max_size=2**26,
            ).__enter__()
        except Exception as exc:  # refused, reset, or the balancer's error page instead of a handshake
            raise SignError(f"websocket: {type(exc).__name__}: {exc}") from None
        self.first = self.run(initial=True)
        return self.first

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
            self.ws = None

    def run(self, states: list[WidgetState] | None = None, *, fragment_id: str = "", initial: bool = False) -> Run:
        if self.ws is None:
            raise SignError("not connected")
        back = BackMsg()
        rerun = back.rerun_script
        rerun.query_string = self.query
        if self.page_script_hash and not initial:
            rerun.page_script_hash = self.page_script_hash
        else:
            rerun.page_name = ""
        if fragment_id:
            rerun.fragment_id = fragment_id
        context = rerun.context_info
        context.timezone, context.timezone_offset, context.locale = "UTC", 0, "en-US"
        context.url = f"{self.base}/?{self.query}"
        context.is_embedded, context.color_scheme = False, "light"
        rerun.widget_states.widgets.extend(states or [])
        try:
            self.ws.send(back.SerializeToString())
            return self._collect()
        except (OSError, TimeoutError) as exc:
            raise SignError(f"{type(exc).__name__}: {exc}") from None
        except Exception as exc:  # websockets' ConnectionClosed and friends
            raise SignError(f"{type(exc).__name__}: {exc}") from None

    def _collect(self) -> Run:
        assert self.ws is not None
        run = Run()
        deadline = time.monotonic() + self.timeout
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))  # type: ignore[arg-type]
            kind = msg.WhichOneof("type")
            if kind == "new_session" and msg.new_session.page_script_hash:
                self.page_script_hash = msg.new_session.page_script_hash
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                _element(run, msg.delta.new_element, msg.delta.fragment_id)
            elif kind == "script_finished" and msg.script_finished != FINISHED_EARLY:
                run.status = msg.script_finished
                return run

    def sign(self, name: str, email: str) -> Outcome:
        """Fill the form (name, email, the first region, consent ticked) and press its button, as one rerun."""
        started = time.perf_counter()
        run = self.first if self.first is not None else self.open()
        button = next((w for w in run.widgets if w.is_submit), None)
        if button is None:  # the last run drew no form (e.g. an apology): rerun once, as a visitor would reload
            run = self.run()
            button = next((w for w in run.widgets if w.is_submit), None)
        if button is None:
            raise SignError(f"no sign form on the page: {' / '.join(run.texts)[:300]}")
        form = [w for w in run.widgets if w.form_id == button.form_id and not w.is_submit]
        states = []
        for widget in form:
            state = WidgetState(id=widget.id)
            if widget.kind == "text_input" and widget.label == "Your name":
                state.string_value = name
            elif widget.kind == "text_input" and widget.label == "Email":
                state.string_value = email
            elif widget.kind == "selectbox" and widget.options:
                state.string_value = widget.options[0]
            elif widget.kind == "checkbox" and not widget.label.startswith("Show my"):
                state.bool_value = True  # the consent box
            else:
                continue
            states.append(state)
        states.append(WidgetState(id=button.id, trigger_value=True))
        done = self.run(states, fragment_id=button.fragment_id)
        self.first = done
        seconds = time.perf_counter() - started
        if done.exceptions:
            return Outcome(False, done.exceptions[0], seconds)
        thanks = next((t for t in done.texts if t.startswith(THANK_YOU)), None)
        if thanks is not None:
            return Outcome(True, thanks, seconds)
        # what the visitor reads: the page's messages (an apology, a field's mistake), else the end of its text
        return Outcome(False, " / ".join(done.alerts) or " / ".join(done.texts)[-300:], seconds)


def _element(run: Run, element: Any, fragment_id: str) -> None:  # a protobuf Element
    kind = element.WhichOneof("type")
    if kind in TEXT_KINDS:
        run.texts.append(getattr(getattr(element, kind), TEXT_KINDS[kind]))
        if kind == "alert":
            run.alerts.append(element.alert.body)
    elif kind == "exception":
        run.exceptions.append(f"{element.exception.type}: {element.exception.message}")
    elif kind in WIDGET_KINDS:
        sub = getattr(element, kind)
        run.widgets.append(
            Widget(
                kind=kind,
                id=sub.id,
                label=sub.label,
                form_id=sub.form_id,
                fragment_id=fragment_id,
                options=list(getattr(sub, "options", [])),
                is_submit=kind == "button" and sub.is_form_submitter,
            )
        )


def sign_once(base_url: str, slug: str, name: str, email: str, *, timeout: float = 30.0) -> Outcome:
    """A new visitor: a fresh cookie jar and websocket, one sign-on, closed; ``seconds`` is the whole visit.
    Protocol failures are outcomes too."""
    started = time.perf_counter()
    with httpx.Client(timeout=timeout) as http:
        client = SignClient(base_url, slug, timeout=timeout, http=http)
        try:
            client.open()
            outcome = client.sign(name, email)
            outcome.seconds = time.perf_counter() - started  # the whole visit: connect, first run, submit
            return outcome
        except (SignError, httpx.HTTPError) as exc:
            return Outcome(False, f"{type(exc).__name__}: {exc}", time.perf_counter() - started)
        finally:
            client.close()
