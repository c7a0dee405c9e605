"""Link previews over HTTP: a campaign's preview image, and its ``og:``/``twitter:`` tags in the share link's page.

Streamlit serves one ``index.html`` for every page and gives a script no say over it, so ``LinkPreviewMiddleware``
rewrites that HTML on its way out for a share link (``GET /?campaign=<slug>`` or ``/campaigns?campaign=<slug>``)
of a public campaign: its title and the tags from ``sharing/meta.py``. Every other request, and every other
response (websockets, static files, streamed downloads, the routes), passes through untouched.

Link-preview crawlers and a spike of visitors all fetch that HTML, so the tags are kept ``META_CACHE_SECONDS``
per campaign and the image (``sharing/preview.py``) ``preview.REFRESH_SECONDS``: one database read per campaign
and interval per process, however many ask.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from email.utils import formatdate
from typing import cast
from urllib.parse import parse_qs

import anyio
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from campaigns.catalog import listing
from campaigns.core.db import get_engine, read_session
from campaigns.core.errors import CampaignNotFound, RallyError
from campaigns.core.settings import get_settings
from campaigns.core.ttl_cache import TTLCache
from campaigns.sharing import links, meta, preview
from campaigns.web import errors

log = logging.getLogger(__name__)

META_CACHE_SECONDS = 5  # as long as the JSON API keeps a campaign: a new title shows in previews this quickly
SHARE_PATHS = frozenset({"/", "/campaigns"})  # the public page, at its two addresses
MAX_PAGE_BYTES = 1 << 20  # Streamlit's index.html is ~8 KB; anything this big is passed on as it came
NO_CAMPAIGN = "There is no published campaign at that address."
# request headers a rewritten page must not be answered from: a compressed body, or Streamlit's own 304
_DROPPED_REQUEST_HEADERS = frozenset({b"accept-encoding", b"if-none-match", b"if-modified-since"})

Meta = tuple[str, str] | tuple[()]  # a public campaign's title element and tags, or () for any other slug
_meta_cache = TTLCache(META_CACHE_SECONDS)  # (slug, base) -> (title element, tags), or () when not public
_preview_cache = TTLCache(preview.REFRESH_SECONDS)  # slug -> RenderedPreview
_public_cache = TTLCache(META_CACHE_SECONDS)  # slug -> whether the public may see it now (a kept card or not)


# --------------------------------------------------------------------------- the preview image


@dataclass(frozen=True)
class RenderedPreview:
    png: bytes
    etag: str
    last_modified: str  # an HTTP date


def is_public_slug(slug: str) -> bool:
    with read_session(get_engine()) as session:
        campaign = listing.get_campaign_by_slug(session=session, slug=slug)
        return campaign is not None and listing.is_public(campaign)


def render_for(slug: str) -> RenderedPreview:
    """The preview image of the public campaign ``slug``, drawn now (``CampaignNotFound`` otherwise)."""
    with read_session(get_engine()) as session:
        card = preview.read_preview_card(session=session, slug=slug, org_name=get_settings().org_name)
    png = preview.render_preview(card)
    etag = '"' + hashlib.sha256(png).hexdigest()[:32] + '"'
    return RenderedPreview(png=png, etag=etag, last_modified=formatdate(usegmt=True))


def preview_image(request: Request) -> Response:
    """``GET /share/<slug>/preview.png``: the 1200×630 card, kept ``preview.REFRESH_SECONDS``; 404 for drafts,
    archived and unknown campaigns."""
    slug = request.path_params["slug"]
    if not listing.is_possible_slug(slug):
        return _not_found()
    try:
        # asked again every few seconds, so a card kept for minutes stops being served once its campaign is
        # archived (or back to draft) as quickly as its page and its tags stop
        if not _public_cache.get(slug, lambda: is_public_slug(slug)):
            return _not_found()
        rendered: RenderedPreview = _preview_cache.get(slug, lambda: render_for(slug))
    except CampaignNotFound:
        return _not_found()
    except RallyError as exc:  # the database can't be reached: 503, never cached
        return errors.html_error(exc, _plain_page)
    headers = {
        "Cache-Control": f"public, max-age={preview.REFRESH_SECONDS}",
        "ETag": rendered.etag,
        "Last-Modified": rendered.last_modified,
    }
    if rendered.etag in _etags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    return Response(rendered.png, media_type="image/png", headers=headers)


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def _not_found() -> Response:
    return _plain_page(404, NO_CAMPAIGN, cache=f"public, max-age={META_CACHE_SECONDS}")


def _plain_page(status: int, message: str, *, cache: str = "no-store") -> Response:
    return PlainTextResponse(message, status_code=status, headers={"Cache-Control": cache})


ROUTES = [Route("/share/{slug}/preview.png", preview_image, methods=["GET"])]


# --------------------------------------------------------------------------- the tags in the page


def shared_slug(scope: Scope) -> str | None:
    """The campaign a request for the share link's page names (``GET /?campaign=<slug>``), else None."""
    if scope["type"] != "http" or scope.get("method") != "GET" or scope.get("path") not in SHARE_PATHS:
        return None
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("campaign")
    slug = values[0] if values else None
    return slug if listing.is_possible_slug(slug) else None


def read_meta(slug: str, base: str) -> Meta:
    """The ``<title>`` and tags of the public campaign ``slug`` on ``base``, or () for any other slug."""
    with read_session(get_engine()) as session:
        campaign = listing.get_campaign_by_slug(session=session, slug=slug)
        if campaign is None or not listing.is_public(campaign):
            return ()
        return meta.page_title(campaign), meta.meta_tags(campaign, base=base, site_name=get_settings().org_name)


def request_base(scope: Scope) -> str:
    """The address the tags' absolute links are built on for this request (crawlers need absolute URLs).

    ``links.base_for_request`` is the one rule (the request's own host when allowed); the key of the tags'
    cache includes the base, which keeps each allowed host's own tags apart."""
    headers = dict(scope.get("headers") or [])
    host = headers.get(b"host")
    return links.base_for_request(host=host.decode("latin-1") if host else None, scheme=scope.get("scheme", "http"))


class LinkPreviewMiddleware:
    """Puts a public campaign's title and preview tags into the HTML of its share link; passes all else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        slug = shared_slug(scope)
        found = await self._meta(slug, request_base(scope)) if slug else ()
        if not found:
            await self.app(scope, receive, send)
            return
        title, tags = found
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() not in _DROPPED_REQUEST_HEADERS]
        held: list[Message] = []  # the response's start, then its body, while it may still be rewritten
        body = bytearray()

        async def rewrite(message: Message) -> None:
            if held:
                if message["type"] != "http.response.body":
                    await send(message)
                    return
                body.extend(message.get("body", b""))
                if message.get("more_body", False) and len(body) <= MAX_PAGE_BYTES:
                    return
                start, more = held.pop(), message.get("more_body", False)
                page = bytes(body) if more else meta.rewrite_index(bytes(body), title=title, tags=tags)
                if not more:
                    out = MutableHeaders(scope=start)
                    out["content-length"] = str(len(page))
                    for stale in ("etag", "last-modified"):  # they describe Streamlit's file, not this page
                        del out[stale]
                await send(start)
                await send({"type": "http.response.body", "body": page, "more_body": more})
                return
            if message["type"] == "http.response.start" and _is_plain_html(message):
                held.append(message)
                return
            await send(message)

        await self.app({**scope, "headers": headers}, receive, rewrite)

    async def _meta(self, slug: str, base: str) -> Meta:
        key = (slug, base)
        found = _meta_cache.peek(key)
        if found is not None:
            return cast(Meta, found)
        try:
            return await anyio.to_thread.run_sync(lambda: _meta_cache.get(key, lambda: read_meta(*key)))
        except Exception:  # the page must open even when its preview can't be read: it goes out without tags
            log.exception("link preview tags for %r could not be read", slug)
            return ()


def _is_plain_html(start: Message) -> bool:
    headers = MutableHeaders(raw=list(start.get("headers", [])))
    return (
        start.get("status") == 200
        and headers.get("content-type", "").startswith("text/html")
        and "content-encoding" not in headers
    )
