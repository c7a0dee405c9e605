"""Rally's middleware on every request: identity headers dropped, other sites' websockets refused, staff pages
opened without a log-in sent to the log-in first, and the security headers (the Content-Security-Policy among
them) added, with the outside referrer remembered."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import logging
import re
from pathlib import Path
from urllib.parse import urlsplit

from anyio import to_thread
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from campaigns.core.errors import RallyError
from campaigns.people import logins
from campaigns.web.auth import current_person, is_own_origin

log = logging.getLogger(__name__)


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
    at localhost. Only Rally's own origins pass (``auth.is_own_origin``); clients that send no
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
    (``GET /embed``), which any site may frame: web/embed.py sets its own policy (its inline script allowed by
    hash, ``frame-ancestors *``), which is kept; any other HTML at that path gets ``FRAME_ANYWHERE``. What a page
    loads afterwards (scripts, the JSON it fetches) are not documents, so ``frame-ancestors`` does not apply.

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
                own_policy = "content-security-policy" in headers  # the embed widget's (web/embed.py)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if embed and not own_policy and headers.get("content-type", "").startswith("text/html"):
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


class StaffLoginMiddleware:
    """Sends a browser that opens a staff page (``paths``, e.g. "/overview") without a live log-in to the log-in
    page (303), which brings it back to that page and its query once logged in.

    Streamlit would otherwise serve the page and then, as the page is not in an anonymous visitor's navigation,
    show its "page not found" popup. Only full page loads (``GET``/``HEAD`` of those exact paths) are looked at;
    within a running app, an expired log-in meets the page's own "log in" message (``ui/access.require``).
    While the database cannot be reached the page is served, and says so itself.
    """

    def __init__(self, app: ASGIApp, *, paths: frozenset[str]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope.get("method") in ("GET", "HEAD")
            and (scope.get("path", "").rstrip("/") or "/") in self.paths
        ):
            request = Request(scope)
            if logins.COOKIE_NAME not in request.cookies or not await self._logged_in(request):
                query = scope.get("query_string", b"").decode("latin-1")
                here = request.url.path + (f"?{query}" if query else "")
                await RedirectResponse(logins.login_url(here), status_code=303)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _logged_in(request: Request) -> bool:
        try:
            return await to_thread.run_sync(lambda: current_person(request)) is not None
        except RallyError:  # the database is down: let the page show its own message
            log.warning("could not check a staff page's log-in", exc_info=True)
            return True
