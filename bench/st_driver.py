"""A browserless Streamlit client for the bench: hold many live-dashboard sessions over the websocket.

Trimmed and adapted from the viewers mode of ``st_form_load.py`` (the project's shared load driver
for Streamlit 1.67, ``../shared/tools/st_form_load.py``), so that ``make bench`` carries its own load
generator. It speaks Streamlit's own protocol (BackMsg / ForwardMsg protobufs) the way the React
frontend does, so one Python process holds hundreds of sessions:

* ``GET /_stcore/health`` for the XSRF cookie, then ``ws://HOST/_stcore/stream``;
* the first ``rerun_script`` names the page (``page_name`` = the URL path, ``query_string``) and
  waits for ``script_finished``; later reruns name the ``page_script_hash`` from ``new_session``;
* ``st.fragment(run_every=...)``: the server sends ``auto_rerun{interval, fragment_id}``; the
  frontend then runs ``setInterval`` -> ``rerun_script{fragment_id, is_auto_rerun=true}``, answered
  by ``script_finished = FINISHED_FRAGMENT_RUN_SUCCESSFULLY``. ``Viewer`` emulates that timer,
  keeping its phase like ``setInterval`` (a tick that comes due while the previous refresh is still
  running is skipped and counted, as a browser would drop it);
* like the browser, it keeps a cache of cacheable messages and reports their hashes with each
  rerun, so the server may answer with ``ref_hash`` instead of resending an unchanged chart.

Bounded by design: loopback hosts only, at most ``MAX_SESSIONS`` sessions, every wait has a timeout.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

FINISHED_OK = ForwardMsg.FINISHED_SUCCESSFULLY
FINISHED_EARLY = ForwardMsg.FINISHED_EARLY_FOR_RERUN
FINISHED_FRAGMENT = ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
MAX_SESSIONS = 1_000
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MESSAGE_CACHE = 256  # cacheable messages remembered per session (the browser keeps a similar LRU)


WIDGET_KINDS = {"text_input", "text_area", "checkbox", "selectbox", "button"}  # what a sign form holds
TEXT_FIELDS = {"markdown": "body", "alert": "body", "heading": "body", "text": "body"}
TRIGGERS = ("trigger_value", "string_trigger_value", "json_trigger_value")


class ProtocolError(Exception):
    pass


@dataclass
class Widget:
    """A widget as the frontend learns it from its delta: its id, label, form and fragment."""

    kind: str
    id: str
    label: str
    form_id: str
    fragment_id: str
    options: list[str]
    is_submit: bool


@dataclass
class RunResult:
    """What one rerun produced, up to its final ``script_finished``."""

    status: int | None = None
    exceptions: list[str] = field(default_factory=list)
    metrics: list[tuple[str, str]] = field(default_factory=list)  # (label, value) of st.metric
    page_not_found: bool = False
    nbytes: int = 0
    elements: int = 0  # new elements drawn (every run of the reply, an st.rerun()'s too)
    runs: int = 0  # script runs in the reply (2 when the page called st.rerun())
    texts: list[str] = field(default_factory=list)  # markdown, alerts, headings
    full_run: bool = False
    widgets: dict[str, Widget] = field(default_factory=dict)


class Session:
    """One emulated browser tab on one page."""

    def __init__(self, base_url: str, path: str, query: str = "", timeout: float = 30.0) -> None:
        parts = urlsplit(base_url)
        if parts.hostname not in LOOPBACK:
            raise ValueError(f"the bench driver only talks to loopback hosts, not {parts.hostname!r}")
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.ws_url = self.base.replace("http://", "ws://", 1) + "/_stcore/stream"
        self.path = "/" + path.lstrip("/")
        self.page_name = self.path.strip("/")  # the frontend sends the URL path relative to the app root
        self.query = query
        self.timeout = timeout
        self.page_script_hash = ""
        self.auto_reruns: dict[str, float] = {}  # fragment id -> run_every seconds
        self.widgets: dict[str, Widget] = {}  # the widgets on the page now, by id
        self.states: dict[str, WidgetState] = {}  # values the frontend holds and sends with every rerun
        self._cache: dict[str, ForwardMsg] = {}
        self._cur = RunResult()
        self._waiter: asyncio.Future[RunResult] | None = None
        self._ws: websockets.ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._fragment = ""

    async def connect(self, http: httpx.AsyncClient) -> None:
        response = await http.get(f"{self.base}/_stcore/health")
        xsrf = response.cookies.get("_streamlit_xsrf") or ""
        headers = {"Origin": self.base}
        if xsrf:
            headers["Cookie"] = f"_streamlit_xsrf={xsrf}"
        self._ws = await websockets.connect(
            self.ws_url,
            subprotocols=["streamlit", xsrf] if xsrf else ["streamlit"],  # type: ignore[list-item]
            additional_headers=headers,
            max_size=2**26,
            open_timeout=self.timeout,
            ping_interval=20,
            ping_timeout=max(60.0, self.timeout),
        )
        self._reader = asyncio.create_task(self._read_loop())

    async def close(self) -> None:
        if self._ws is not None:
            try:
                await asyncio.wait_for(self._ws.close(), 5)
            except Exception:
                pass
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except BaseException:
                pass

    async def _read_loop(self) -> None:
        error: BaseException | None = None
        try:
            assert self._ws is not None
            async for raw in self._ws:
                self._on_message(raw)  # type: ignore[arg-type]
        except Exception as exc:
            error = exc
        finally:
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_exception(ProtocolError(f"websocket closed: {error!r}"))

    def _on_message(self, raw: bytes) -> None:
        msg = ForwardMsg()
        msg.ParseFromString(raw)
        cur = self._cur
        cur.nbytes += len(raw)
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":  # the server skipped a message we hold (as the browser's cache would)
            cached = self._cache.get(msg.ref_hash)
            if cached is None:
                cur.exceptions.append(f"driver: ref_hash {msg.ref_hash} not in cache")
                return
            msg, kind = cached, cached.WhichOneof("type")
        elif msg.metadata.cacheable and msg.hash:
            self._cache[msg.hash] = msg
            if len(self._cache) > MESSAGE_CACHE:
                self._cache.pop(next(iter(self._cache)))
        if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            which = element.WhichOneof("type")
            cur.elements += 1
            if which == "exception":
                cur.exceptions.append(f"{element.exception.type}: {element.exception.message}")
            elif which == "metric":
                cur.metrics.append((element.metric.label, element.metric.body))
            elif which in TEXT_FIELDS:
                cur.texts.append(getattr(getattr(element, which), TEXT_FIELDS[which]))
            elif which in WIDGET_KINDS:
                self._on_widget(which, getattr(element, which), msg.delta.fragment_id, cur)
        elif kind == "new_session":
            cur.runs += 1
            if msg.new_session.page_script_hash:
                self.page_script_hash = msg.new_session.page_script_hash
            if not msg.metadata.run.fragment_ids:  # a full run: the page's widgets are drawn anew
                cur.full_run = True
                cur.widgets = {}
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "auto_rerun":
            self.auto_reruns[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            for fragment_id in msg.stop_auto_rerun.fragment_ids:
                self.auto_reruns.pop(fragment_id, None)
        elif kind == "page_not_found":
            cur.page_not_found = True
        elif kind == "session_event" and msg.session_event.HasField("script_compilation_exception"):
            exc = msg.session_event.script_compilation_exception
            cur.exceptions.append(f"{exc.type}: {exc.message}")
        elif kind == "script_finished":
            if msg.script_finished == FINISHED_EARLY:  # st.rerun(): a new run follows
                return
            cur.status = msg.script_finished
            if cur.full_run:
                self.widgets = dict(cur.widgets)
            else:  # a fragment run redraws that fragment's widgets only
                ran = {w.fragment_id for w in cur.widgets.values()} | {self._fragment}
                self.widgets = {k: w for k, w in self.widgets.items() if w.fragment_id not in ran}
                self.widgets.update(cur.widgets)
            for gone in [k for k in self.states if k not in self.widgets]:  # as the browser forgets them
                del self.states[gone]
            self._cur = RunResult()
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(cur)

    def _on_widget(self, kind: str, proto: object, fragment_id: str, cur: RunResult) -> None:
        widget_id = getattr(proto, "id", "")
        if widget_id:
            cur.widgets[widget_id] = Widget(
                kind,
                widget_id,
                getattr(proto, "label", ""),
                getattr(proto, "form_id", ""),
                fragment_id,
                [str(o) for o in getattr(proto, "options", [])],
                bool(getattr(proto, "is_form_submitter", False)),
            )

    async def rerun(
        self,
        *,
        fragment_id: str = "",
        initial: bool = False,
        states: list[WidgetState] | None = None,
        auto: bool = True,
    ) -> RunResult:
        """Send ``rerun_script`` like the frontend and wait for the final ``script_finished``.

        ``states``: widget values to send on top of those the session holds (a form's values and its
        submit trigger); ``auto``: with ``fragment_id``, a timer's rerun (False: a widget's in the fragment)."""
        if self._ws is None:
            raise ProtocolError("not connected")
        self._fragment = fragment_id
        back = BackMsg()
        rs = back.rerun_script
        rs.query_string = self.query
        if self.page_script_hash and not initial:
            rs.page_script_hash = self.page_script_hash
        else:
            rs.page_name = self.page_name
        if fragment_id:
            rs.fragment_id = fragment_id
            rs.is_auto_rerun = auto
        merged = dict(self.states)
        for ws in states or ():
            merged[ws.id] = ws
        if merged:
            rs.widget_states.widgets.extend(merged.values())
        ci = rs.context_info
        ci.timezone, ci.timezone_offset, ci.locale = "UTC", 0, "en-US"
        ci.url = f"{self.base}{self.path}" + (f"?{self.query}" if self.query else "")
        ci.is_embedded, ci.color_scheme = False, "light"
        if self._cache:
            rs.cached_message_hashes.extend(self._cache)
        self._waiter = asyncio.get_running_loop().create_future()
        await self._ws.send(back.SerializeToString())
        try:
            result = await asyncio.wait_for(self._waiter, self.timeout)
        except TimeoutError:
            raise ProtocolError(f"no script_finished within {self.timeout:.0f} s") from None
        finally:
            self._waiter = None
        if result.page_not_found:
            raise ProtocolError(f"the server has no page {self.path!r}")
        for ws in states or ():  # the frontend keeps values (not triggers) of widgets still on the page
            if ws.id in self.widgets and ws.WhichOneof("value") not in TRIGGERS:
                self.states[ws.id] = ws
        return result


async def open_session(
    http: httpx.AsyncClient, base_url: str, path: str, query: str = "", timeout: float = 30.0
) -> tuple[Session, RunResult]:
    """Connect and run the page once, as a browser opening it; raises if the page raised."""
    session = Session(base_url, path, query, timeout)
    await session.connect(http)
    first = await session.rerun(initial=True)
    if first.exceptions:
        await session.close()
        raise ProtocolError(f"the page raised: {first.exceptions[0][:200]}")
    return session, first


def fragment_of(session: Session) -> tuple[str, float]:
    """The page's auto-refreshing fragment (id, run_every); raises when the page has none."""
    if not session.auto_reruns:
        raise ProtocolError(f"page {session.path!r} declares no st.fragment(run_every=...)")
    return next(iter(session.auto_reruns.items()))


# --------------------------------------------------------------------------- measuring


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class CpuMonitor:
    """CPU seconds of a server process (``/proc/<pid>/stat``), of this process, and of the machine."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self._tick = os.sysconf("SC_CLK_TCK")

    def _server(self) -> float | None:
        if not self.pid:
            return None
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / self._tick
        except OSError:
            return None

    @staticmethod
    def _machine() -> tuple[int, int]:
        with open("/proc/stat") as f:
            values = [int(x) for x in f.readline().split()[1:]]
        return sum(values), values[3] + values[4]

    def start(self) -> None:
        self._t0 = time.perf_counter()
        self._server0 = self._server()
        self._me0 = sum(os.times()[:2])
        self._machine0 = self._machine()

    def stop(self) -> dict[str, float]:
        elapsed = max(1e-9, time.perf_counter() - self._t0)
        out = {"driver_cpu_pct": 100 * (sum(os.times()[:2]) - self._me0) / elapsed}
        total, idle = self._machine()
        out["machine_busy_pct"] = 100 * (1 - (idle - self._machine0[1]) / max(1, total - self._machine0[0]))
        server = self._server()
        if server is not None and self._server0 is not None:
            out["server_cpu_pct"] = 100 * (server - self._server0) / elapsed
        return out


@dataclass
class StepResult:
    viewers: int
    alive: int
    refreshes: int
    window_s: float
    p50_s: float
    p95_s: float
    p99_s: float
    skipped: int
    errors: int
    failed: int
    ramp_s: float
    kb_per_refresh: float
    cpu: dict[str, float]
    error_samples: list[str]

    @property
    def per_s(self) -> float:
        return self.refreshes / self.window_s if self.window_s else 0.0

    def ok(self, slo_s: float) -> bool:
        return self.p95_s < slo_s and self.errors == 0 and self.failed == 0 and self.skipped == 0 and self.refreshes > 0


class _Window:
    """What the viewers record while the measurement window is open."""

    def __init__(self) -> None:
        self.measuring = False
        self.latencies: list[float] = []
        self.skipped = self.failed = self.errors = self.nbytes = 0
        self.error_samples: dict[str, int] = {}

    def error(self, exc: BaseException) -> None:
        key = f"{type(exc).__name__}: {str(exc)[:160]}"
        self.error_samples[key] = self.error_samples.get(key, 0) + 1
        self.errors += 1


async def _viewer(
    http: httpx.AsyncClient,
    base_url: str,
    path: str,
    query: str,
    window: list[_Window],
    stop: asyncio.Event,
    opening: asyncio.Semaphore,
    ready: list[int],
    timeout: float,
) -> None:
    session: Session | None = None
    try:
        async with opening:  # a bounded ramp: a few sessions open at once, like visitors arriving
            session, _ = await open_session(http, base_url, path, query, timeout)
        fragment_id, interval = fragment_of(session)
        ready.append(1)
        due = time.perf_counter() + random.uniform(0, interval)  # each tab opened at its own moment
        while not stop.is_set():
            delay = due - time.perf_counter()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                    break
                except TimeoutError:
                    pass
            w = window[0]
            t0 = time.perf_counter()
            result = await session.rerun(fragment_id=fragment_id)
            latency = time.perf_counter() - t0
            if w.measuring:
                w.latencies.append(latency)
                w.nbytes += result.nbytes
                if result.exceptions or result.status != FINISHED_FRAGMENT:
                    w.failed += 1
            due += interval  # setInterval keeps its phase; ticks that came due meanwhile are dropped
            now = time.perf_counter()
            while due < now:
                due += interval
                if window[0].measuring:
                    window[0].skipped += 1
    except asyncio.CancelledError:
        raise
    except (ProtocolError, OSError, websockets.exceptions.WebSocketException, httpx.HTTPError) as exc:
        window[0].error(exc)
    finally:
        if session is not None:
            await session.close()


async def run_viewers(
    base_url: str,
    path: str,
    query: str,
    steps: list[int],
    *,
    window_s: float,
    warmup_s: float,
    slo_s: float,
    server_pid: int | None,
    connect_batch: int = 10,
    timeout: float = 30.0,
    on_step: object = None,
) -> list[StepResult]:
    """Hold ``steps[0]`` sessions, then grow to each next step; measure each for ``window_s`` seconds.

    Stops stepping once a step misses the target (p95 >= ``slo_s``, or errors, or dropped ticks).
    ``on_step(result)`` is called after each step (for printing as it goes)."""
    if max(steps) > MAX_SESSIONS:
        raise ValueError(f"at most {MAX_SESSIONS} sessions")
    stop = asyncio.Event()
    opening = asyncio.Semaphore(connect_batch)
    window = [_Window()]
    ready: list[int] = []
    tasks: list[asyncio.Task[None]] = []
    results: list[StepResult] = []
    monitor = CpuMonitor(server_pid)
    limits = httpx.Limits(max_connections=connect_batch * 2, max_keepalive_connections=connect_batch)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as http:
        try:
            for n in steps:
                window[0] = _Window()
                started = time.perf_counter()
                for _ in range(len(tasks), n):
                    tasks.append(
                        asyncio.create_task(_viewer(http, base_url, path, query, window, stop, opening, ready, timeout))
                    )
                while len(ready) + window[0].errors < n and time.perf_counter() - started < 60 + n:
                    await asyncio.sleep(0.1)
                ramp_s = time.perf_counter() - started
                await asyncio.sleep(warmup_s)
                w = window[0] = _Window()
                w.measuring = True
                monitor.start()
                t0 = time.perf_counter()
                await asyncio.sleep(window_s)
                w.measuring = False
                elapsed = time.perf_counter() - t0
                cpu = monitor.stop()
                lat = w.latencies
                result = StepResult(
                    viewers=n,
                    alive=sum(1 for t in tasks if not t.done()),
                    refreshes=len(lat),
                    window_s=elapsed,
                    p50_s=percentile(lat, 0.50),
                    p95_s=percentile(lat, 0.95),
                    p99_s=percentile(lat, 0.99),
                    skipped=w.skipped,
                    errors=w.errors,
                    failed=w.failed,
                    ramp_s=ramp_s,
                    kb_per_refresh=w.nbytes / 1024 / max(1, len(lat)),
                    cpu=cpu,
                    error_samples=[f"x{v} {k}" for k, v in list(w.error_samples.items())[:3]],
                )
                results.append(result)
                if callable(on_step):
                    on_step(result)
                if not result.ok(slo_s):
                    break
        finally:
            stop.set()
            await asyncio.wait(tasks, timeout=timeout + 5) if tasks else None
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return results


async def time_fragment_reruns(
    targets: dict[str, tuple[str, str, str]], rounds: int, per_round: int, timeout: float = 30.0
) -> dict[str, list[float]]:
    """One session per target (label -> (base_url, path, query)); the fragment of each is rerun
    ``per_round`` times back to back, target after target, for ``rounds`` rounds (interleaved, so
    a noisy neighbour hits every target alike). Returns the round-trip seconds of each rerun."""
    samples: dict[str, list[float]] = {label: [] for label in targets}
    async with httpx.AsyncClient(timeout=timeout) as http:
        sessions: dict[str, tuple[Session, str]] = {}
        try:
            for label, (base_url, path, query) in targets.items():
                session, _ = await open_session(http, base_url, path, query, timeout)
                sessions[label] = (session, fragment_of(session)[0])
                for _ in range(5):  # warm: the page's cache, the message cache
                    await session.rerun(fragment_id=sessions[label][1])
            for _ in range(rounds):
                for label, (session, fragment_id) in sessions.items():
                    for _ in range(per_round):
                        t0 = time.perf_counter()
                        result = await session.rerun(fragment_id=fragment_id)
                        samples[label].append(time.perf_counter() - t0)
                        if result.exceptions or result.status != FINISHED_FRAGMENT:
                            raise ProtocolError(f"{label}: fragment rerun failed: {result.exceptions[:1]}")
        finally:
            for session, _ in sessions.values():
                await session.close()
    return samples


async def time_health(base_url: str, calls: int) -> list[float]:
    """Round trips of ``GET /_stcore/health`` on one kept-alive connection."""
    if urlsplit(base_url).hostname not in LOOPBACK:
        raise ValueError("loopback only")
    out = []
    async with httpx.AsyncClient() as http:
        for _ in range(5):
            await http.get(f"{base_url}/_stcore/health")
        for _ in range(calls):
            t0 = time.perf_counter()
            (await http.get(f"{base_url}/_stcore/health")).raise_for_status()
            out.append(time.perf_counter() - t0)
    return out


# --------------------------------------------------------------------------- sign-ons through a form


@dataclass
class FormSpec:
    """How to fill one page's sign form: label patterns (case-insensitive regexes) and what proves it worked.

    ``fields`` maps a label pattern to a value: a string (``{n}`` is the sign-on's number) for a text
    widget, True/False for a checkbox, ``"@random"`` for a selectbox (one of its options at random).
    ``done_text`` must appear in the reply's texts for the sign-on to count. ``again``: the label of
    the button that brings the form back after signing (none: the form stays on the page)."""

    fields: dict[str, str | bool]
    done_text: str
    again: str = ""


@dataclass
class SignStats:
    done: int = 0  # acknowledged: the thank-you was drawn
    failed: int = 0  # a reply without the thank-you (an error under a field, an exception)
    errors: int = 0  # protocol, socket, timeouts
    latencies: list[float] = field(default_factory=list)
    elements: list[int] = field(default_factory=list)  # elements drawn per sign-on, every reply of it
    runs: list[int] = field(default_factory=list)  # script runs per sign-on
    acked: int = 0  # every thank-you of the run, warm-up and the sign-ons in flight at the end included
    samples: dict[str, int] = field(default_factory=dict)

    def note(self, text: str) -> None:
        key = text[:200]
        self.samples[key] = self.samples.get(key, 0) + 1


def _encode(widget: Widget, value: str | bool) -> WidgetState:
    ws = WidgetState(id=widget.id)
    if widget.kind in ("text_input", "text_area"):
        ws.string_value = str(value)
    elif widget.kind == "checkbox":
        ws.bool_value = bool(value)
    elif widget.kind == "selectbox":  # 1.67 sends the option's label, not its index
        ws.string_value = random.choice(widget.options) if value == "@random" else str(value)
    elif widget.kind == "button":
        ws.trigger_value = True
    else:
        raise ProtocolError(f"cannot fill a {widget.kind} ({widget.label!r})")
    return ws


def _form_states(session: Session, spec: FormSpec, n: int) -> tuple[Widget, list[WidgetState]]:
    """The submit button and the form's values, in ONE rerun as the browser sends a submit."""
    submits = [w for w in session.widgets.values() if w.is_submit]
    if not submits:
        raise ProtocolError(f"no form on the page (widgets: {[w.label for w in session.widgets.values()]})")
    button = submits[0]
    states = []
    for pattern, value in spec.fields.items():
        rx = re.compile(pattern, re.I)
        found = [w for w in session.widgets.values() if w.form_id == button.form_id and rx.search(w.label)]
        if not found:
            raise ProtocolError(f"no field /{pattern}/ in the form")
        states.append(_encode(found[0], value.replace("{n}", str(n)) if isinstance(value, str) else value))
    states.append(_encode(button, True))
    return button, states


async def sign_once(session: Session, spec: FormSpec, n: int) -> RunResult:
    """Fill and submit the form; the reply (its texts say whether the thank-you came)."""
    button, states = _form_states(session, spec, n)
    return await session.rerun(fragment_id=button.fragment_id, states=states, auto=False)


async def press(session: Session, label: str) -> RunResult:
    """Press the button labelled ``label`` (in its fragment, when it has one)."""
    rx = re.compile(label, re.I)
    found = [w for w in session.widgets.values() if w.kind == "button" and not w.is_submit and rx.search(w.label)]
    if not found:
        raise ProtocolError(f"no button /{label}/ on the page")
    return await session.rerun(fragment_id=found[0].fragment_id, states=[_encode(found[0], True)], auto=False)


def _thanked(result: RunResult, spec: FormSpec) -> bool:
    return not result.exceptions and spec.done_text in " ".join(result.texts)


async def run_sign_ons(
    base_url: str,
    query: str,
    spec: FormSpec,
    *,
    sessions: int,
    new_visitors: bool,
    window_s: float,
    warmup_s: float,
    server_pid: int | None,
    first: int = 0,
    timeout: float = 30.0,
) -> tuple[SignStats, dict[str, float], float]:
    """``sessions`` users signing as fast as the server answers, for ``warmup_s`` then ``window_s`` seconds.

    ``new_visitors``: each sign-on is a new visitor (GET /_stcore/health for the XSRF cookie, connect,
    the page's first run, submit, until the thank-you; then disconnect). Otherwise each session stays
    open and signs again and again (pressing ``spec.again`` first, when the page has that button).
    Latency: the whole visit for a new visitor; the reset and the submit for a repeat sign-on.
    Returns (stats of the window, CPU figures of the window, elapsed): ``stats.done`` counts the sign-ons
    whose thank-you arrived within the window, ``stats.acked`` every thank-you of the run (for the
    caller to check against the database)."""
    if sessions > MAX_SESSIONS:
        raise ValueError(f"at most {MAX_SESSIONS} sessions")
    counter = itertools.count(first)
    window = [SignStats()]
    measuring = [False]
    stop = asyncio.Event()
    acked = [0]
    go, ready = asyncio.Event(), [0]
    limits = httpx.Limits(max_connections=sessions * 2, max_keepalive_connections=sessions)

    async def user(http: httpx.AsyncClient) -> None:
        session: Session | None = None
        signed = False
        try:
            while not stop.is_set():
                t0 = time.perf_counter()
                try:
                    elements = runs = 0
                    if session is None:
                        session, opened = await open_session(http, base_url, "/", query, timeout)
                        elements, runs = opened.elements, opened.runs
                        if not new_visitors and not go.is_set():  # open tabs: all open before the load starts
                            ready[0] += 1
                            await go.wait()
                            elements = runs = 0
                            t0 = time.perf_counter()
                    if signed and spec.again:
                        reset = await press(session, spec.again)
                        elements, runs = reset.elements, reset.runs
                    result = await sign_once(session, spec, next(counter))
                    latency = time.perf_counter() - t0
                    ok = _thanked(result, spec)
                    w = window[0]
                    acked[0] += ok
                    if measuring[0]:
                        if ok:
                            w.done += 1
                            w.latencies.append(latency)
                            w.elements.append(elements + result.elements)
                            w.runs.append(runs + result.runs)
                        else:
                            w.failed += 1
                            w.note((result.exceptions or [" | ".join(result.texts)[-200:]])[0])
                    signed = ok
                    if new_visitors:
                        await session.close()
                        session, signed = None, False
                except (ProtocolError, OSError, websockets.exceptions.WebSocketException, httpx.HTTPError) as exc:
                    if measuring[0]:
                        window[0].errors += 1
                        window[0].note(f"{type(exc).__name__}: {exc}")
                    if session is not None:
                        await session.close()
                    session, signed = None, False
                    await asyncio.sleep(0.2)
        finally:
            if session is not None:
                await session.close()

    monitor = CpuMonitor(server_pid)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as http:
        tasks = [asyncio.create_task(user(http)) for _ in range(sessions)]
        try:
            opening = time.perf_counter()
            while not new_visitors and ready[0] < sessions and time.perf_counter() - opening < timeout + sessions:
                await asyncio.sleep(0.05)
            go.set()
            await asyncio.sleep(warmup_s)
            window[0] = SignStats()
            measuring[0] = True
            monitor.start()
            t0 = time.perf_counter()
            await asyncio.sleep(window_s)
            measuring[0] = False
            elapsed = time.perf_counter() - t0
            cpu = monitor.stop()
            cpu["server_cpu_s"] = cpu.get("server_cpu_pct", float("nan")) * elapsed / 100
        finally:
            stop.set()  # users finish the sign-on in flight, then leave
            await asyncio.wait(tasks, timeout=timeout + 5)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    window[0].acked = acked[0]
    return window[0], cpu, elapsed
