"""Rally's HTTP routes and middleware, mounted on Streamlit's ASGI app (see rally_app.py).

Handlers are plain functions: Starlette runs them in a worker thread, so blocking
database work never stalls the event loop that serves every websocket session.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import logging
import os
import re
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from campaigns.catalog import listing
from campaigns.core import outbox
from campaigns.core.db import get_engine, ping, read_session
from campaigns.core.errors import RallyError, StorageError
from campaigns.core.mail import mail_mode, outbox_folder
from campaigns.core.migrate import upgrade
from campaigns.core.settings import Settings, get_settings
from campaigns.signatures import counts, upkeep
from campaigns.web.auth import is_own_origin

log = logging.getLogger(__name__)
API_CACHE_SECONDS = 5


def _inline_script_hashes() -> str:
    """CSP hashes of the inline scripts in the page Streamlit serves (its index.html sets one flag inline)."""
    spec = importlib.util.find_spec("streamlit")  # where it is installed, without importing it here
    assert spec is not None and spec.origin is not None
    index = Path(spec.origin).parent / "static" / "index.html"
    scripts = re.findall(r"<script\b(?![^>]*\bsrc=)[^>]*>(.*?)</script>", index.read_text("utf-8"), re.DOTALL)
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts)


# What a Streamlit 1.67 page needs, and nothing from any other site. Every directive is 'self' (this origin),
# so nothing a page shows (organizer markdown included) makes a visitor's browser contact a third party.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        # Streamlit's bundles and its one inline script. Vega runs its CSP-safe expression interpreter, so no
        # 'unsafe-eval'; long.js (in Streamlit's protobuf bundle) compiles a tiny WebAssembly module, which only
        # 'wasm-unsafe-eval' allows (it falls back to JavaScript, but every page would report the refusal).
        f"script-src 'self' {_inline_script_hashes()} 'wasm-unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",  # Emotion (Streamlit's CSS-in-JS) writes <style> elements at run time
        "img-src 'self' data:",  # images in campaign text from this site only; icons and charts' exports as data:
        "font-src 'self' data:",
        "connect-src 'self'",  # the websocket (/_stcore/stream), host config, /api/shapes for the maps
        "worker-src 'self' blob:",
        "media-src 'self'",
        "frame-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    )
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": f"{CONTENT_SECURITY_POLICY}; frame-ancestors 'self'",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
REFERRER_COOKIE = "rally_ref"
# The embeddable widget (campaigns/ui/embed.py) is the one page other sites may frame. Streamlit serves the same
# index.html for every path, so the decision is made on the request path, exactly: any other path keeps 'self'
# ("/Embed" is no page of ours, and Streamlit answers it with the default page, which must never be framed).
EMBED_PATH = "/embed"
FRAME_ANYWHERE = f"{CONTENT_SECURITY_POLICY}; frame-ancestors *"


def health(request: Request) -> JSONResponse:
    try:
        ok = ping(get_engine())
    except StorageError as exc:  # e.g. a read-only data folder
        log.error("database unavailable: %s", exc.detail)
        ok = False
    if ok:
        return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})
    return JSONResponse({"status": "unavailable"}, status_code=503, headers={"Cache-Control": "no-store"})


def _unavailable(exc: StorageError) -> JSONResponse:
    """The JSON API's answer when the database can't be reached: 503 and the apology; the detail goes to the log."""
    log.error("database unavailable: %s", exc.detail)
    body = {"error": "unavailable", "message": exc.user_message}
    return JSONResponse(body, status_code=503, headers={"Cache-Control": "no-store", "Retry-After": "30"})


def list_campaigns(request: Request) -> JSONResponse:
    try:
        with read_session(get_engine()) as session:
            summaries = listing.list_public_campaigns(session=session)
    except StorageError as exc:
        return _unavailable(exc)
    body = [{"slug": s.slug, "title": s.title, "total": s.total, "goal": s.goal, "status": s.status} for s in summaries]
    return JSONResponse(body, headers={"Cache-Control": f"public, max-age={API_CACHE_SECONDS}"})


class _TTLCache:
    """A few seconds of memory per key, shared by all requests of this process (thread-safe)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._items: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def peek(self, key: str) -> Any:
        """The fresh value for ``key``, or None (no locking: a dict read is atomic)."""
        hit = self._items.get(key)
        return hit[1] if hit and time.monotonic() - hit[0] < self.seconds else None

    def get(self, key: str, make: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit and now - hit[0] < self.seconds:
                return hit[1]
        value = make()  # outside the lock: a slow database never blocks other keys
        with self._lock:
            if len(self._items) > 1000:
                self._items.clear()
            self._items[key] = (now, value)
        return value


_campaign_cache = _TTLCache(API_CACHE_SECONDS)
_NOT_FOUND = {"error": "not_found", "message": "There is no published campaign at that address."}


_JSON_HEADERS = {"Cache-Control": f"public, max-age={API_CACHE_SECONDS}"}


async def campaign_detail(request: Request) -> Response:
    """One public campaign's totals and per-region counts (they add up to the total).

    The encoded answer is kept for a few seconds: a hit is served from memory on the event
    loop; a miss reads the database in a worker thread, once per slug and interval.
    """
    slug = request.path_params["slug"]
    encoded = _campaign_cache.peek(slug)
    if encoded is None:
        try:
            encoded = await anyio.to_thread.run_sync(lambda: _campaign_cache.get(slug, lambda: _encoded_body(slug)))
        except StorageError as exc:
            return _unavailable(exc)
    if encoded == b"":
        return JSONResponse(_NOT_FOUND, status_code=404, headers=_JSON_HEADERS)
    return Response(encoded, media_type="application/json", headers=_JSON_HEADERS)


def _encoded_body(slug: str) -> bytes:
    body = _campaign_body(slug)
    return b"" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _campaign_body(slug: str) -> dict[str, Any] | None:
    with read_session(get_engine()) as session:
        try:
            page = listing.get_campaign_page(session=session, slug=slug)
        except RallyError:
            return None
        campaign = listing.get_campaign_by_slug(session=session, slug=slug)
        assert campaign is not None and campaign.id is not None
        regions = counts.region_counts(session, campaign.id, campaign.region_scheme)
        updated = counts.last_updated(session, campaign.id)
    return {
        "slug": page.slug,
        "title": page.title,
        "status": page.status,
        "goal": page.goal,
        "total": int(regions["count"].sum()) if len(regions) else 0,
        "updated": (updated or campaign.updated_at).isoformat(),
        "regions": [{"code": c, "name": n, "count": int(k)} for c, n, k in regions.itertuples(index=False)],
    }


SHAPES_CACHE_SECONDS = 86_400


CUSTOM_SHAPES_CACHE_SECONDS = 300
_custom_shapes_cache = _TTLCache(CUSTOM_SHAPES_CACHE_SECONDS)


def shapes(request: Request) -> Response:
    """A scheme's shapes, for maps drawn in the browser: shipped files cached a day (they never change),
    uploaded ones normalized for Vega and cached a few minutes."""
    from campaigns.regions.custom import CUSTOM_PREFIX, custom_map_shapes
    from campaigns.regions.schemes import SchemeInfo, list_schemes, shape_path

    wanted = request.path_params["scheme"].lower()
    if wanted.startswith(CUSTOM_PREFIX):

        def read() -> bytes:
            with read_session(get_engine()) as session:
                return custom_map_shapes(session, wanted) or b""

        try:
            body = _custom_shapes_cache.get(wanted, read)
        except StorageError as exc:
            return _unavailable(exc)
        if body:
            cache = f"public, max-age={CUSTOM_SHAPES_CACHE_SECONDS}"
            return Response(body, media_type="application/json", headers={"Cache-Control": cache})
        return JSONResponse({"error": "not_found", "message": "No shapes for that region scheme."}, status_code=404)
    info: SchemeInfo | None = next((i for i in list_schemes() if i.id == wanted and i.shapes), None)
    path = shape_path(info) if info else None
    if path is None or not path.is_file():
        return JSONResponse({"error": "not_found", "message": "No shapes for that region scheme."}, status_code=404)
    return Response(
        path.read_bytes(),
        media_type="application/json",
        headers={"Cache-Control": f"public, max-age={SHAPES_CACHE_SECONDS}, immutable"},
    )


ROUTES = [
    Route("/api/health", health, methods=["GET"]),
    Route("/api/shapes/{scheme}.json", shapes, methods=["GET"]),
    Route("/api/campaigns", list_campaigns, methods=["GET"]),
    Route("/api/campaigns/{slug}", campaign_detail, methods=["GET"]),
]


# Headers a client might send to claim an identity. Rally reads identity only from its own
# signed session cookie, so these are removed before anything (Streamlit's st.user included) sees them.
IDENTITY_HEADERS = frozenset(
    {
        b"remote-user",
        b"x-remote-user",
        b"x-forwarded-user",
        b"x-forwarded-email",
        b"x-auth-request-user",
        b"x-auth-request-email",
        b"x-user",
        b"x-email",
        b"x-user-email",
        b"x-ms-client-principal",
        b"x-ms-client-principal-name",
    }
)


class StripIdentityHeadersMiddleware:
    """Drops identity headers (and any ``X-Rally-*``) from HTTP and websocket requests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = scope.get("headers", [])
            kept = [
                (k, v)
                for k, v in headers
                if k.lower() not in IDENTITY_HEADERS and not k.lower().startswith(b"x-rally-")
            ]
            if len(kept) != len(headers):
                scope = {**scope, "headers": kept}
        await self.app(scope, receive, send)


class WebsocketOriginMiddleware:
    """Refuses (HTTP 403) a websocket whose browser says it was opened by a page of another origin.

    Streamlit's own check accepts any page on localhost, 127.0.0.1 or this machine's addresses, whatever
    its port, so another local web page could open a session (with the staff cookie) while Rally is used
    at localhost. Only Rally's own origins pass (``web_auth.is_own_origin``); clients that send no
    ``Origin`` (not browsers) are left to Streamlit.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            headers = {k.lower(): v for k, v in scope.get("headers", [])}
            origin = headers.get(b"origin")
            if origin is not None:
                text = origin.decode("latin-1")
                scheme = "https" if scope.get("scheme") == "wss" else "http"
                if not is_own_origin(text, scheme=scheme, host=headers.get(b"host", b"").decode("latin-1")):
                    log.warning("refused a websocket opened by another site's page (Origin: %s)", text[:200])
                    await send({"type": "websocket.close", "code": 1008})  # before accept: HTTP 403
                    return
        await self.app(scope, receive, send)


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response, and remembers where a visitor came from.

    Every response may be framed by Rally's own pages only, except the embed widget's HTML page
    (``GET /embed``), which any site may frame. What that page loads afterwards (scripts, styles,
    the websocket) are not documents, so ``frame-ancestors`` does not apply to them.

    The referring page is only visible on the first page load (the websocket that runs
    the script does not carry it), so an outside ``Referer`` on a page request is kept
    in a short-lived cookie that the sign form reads.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        referrer = _outside_referrer(scope)
        embed = scope.get("path") == EMBED_PATH and scope.get("method") in ("GET", "HEAD")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if embed and headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = FRAME_ANYWHERE
                if referrer and headers.get("content-type", "").startswith("text/html"):
                    secure = "; Secure" if scope.get("scheme") == "https" else ""
                    headers.append(
                        "Set-Cookie",
                        f"{REFERRER_COOKIE}={referrer}; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax{secure}",
                    )
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _outside_referrer(scope: Scope) -> str | None:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    referer, host = headers.get("referer", ""), headers.get("host", "")
    if not referer or scope.get("method") != "GET":
        return None
    parts = urlsplit(referer)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.netloc == host:
        return None
    # keep it cookie-safe: origin and path only, no query (it may carry someone else's tokens)
    value = f"{parts.scheme}://{parts.netloc}{parts.path}"[:500]
    return "".join(ch for ch in value if ch.isascii() and ch.isprintable() and ch not in ' ;,"\\') or None


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Create or upgrade the schema before serving (a broken database is reported, not fatal), say where mail
    goes, and run the outbox worker in this process unless ``RALLY_OUTBOX_WORKER=off``."""
    log.debug("TCP_NODELAY set on %d listening socket(s)", enable_tcp_nodelay())
    try:
        await anyio.to_thread.run_sync(lambda: upgrade(get_engine()))
    except RallyError as exc:
        log.error("database not ready: %s", getattr(exc, "detail", exc.user_message))
    print(mail_notice(), file=sys.stderr, flush=True)
    worker = None
    if get_settings().outbox_worker == "app":
        try:
            worker = outbox.Worker(get_engine(), maintenance=upkeep.TASKS)
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


def enable_tcp_nodelay() -> int:
    """Turn off Nagle's algorithm for this process's listening TCP sockets; returns how many.

    Streamlit binds its socket with protocol 0, so asyncio does not set TCP_NODELAY on
    accepted connections and small websocket frames wait for delayed ACKs (about 40 ms
    per round trip). Linux copies TCP_NODELAY from a listening socket to the connections
    it accepts, so setting it on the listener, once, at start-up, is enough. Runs in the
    lifespan, after the server has bound its socket and before it accepts anything;
    elsewhere than Linux it does nothing.
    """
    fd_dir = "/proc/self/fd"
    if not os.path.isdir(fd_dir):
        return 0
    changed = 0
    for name in os.listdir(fd_dir):
        try:
            sock = socket.socket(fileno=os.dup(int(name)))
        except (OSError, ValueError):
            continue  # not a socket (or already closed)
        with sock:
            try:
                listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                if listening and sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    changed += 1
            except OSError:
                continue
    return changed
