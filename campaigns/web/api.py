"""Rally's JSON API (``/api/*``): health, the public campaigns, their per-region counts and updates, region shapes.

Handlers are plain functions: Starlette runs them in a worker thread, so blocking
database work never stalls the event loop that serves every websocket session.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from campaigns.catalog import listing
from campaigns.core.db import get_engine, ping, read_session
from campaigns.core.errors import NotFound, StorageError
from campaigns.core.ttl_cache import TTLCache
from campaigns.signatures import counts
from campaigns.updates import updates
from campaigns.web import errors

API_CACHE_SECONDS = 5


def health(request: Request) -> JSONResponse:
    try:
        ok = ping(get_engine())
    except StorageError as exc:  # e.g. a read-only data folder
        errors.log_unavailable(exc)
        ok = False
    if ok:
        return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})
    return JSONResponse({"status": "unavailable"}, status_code=503, headers={"Cache-Control": "no-store"})


def list_campaigns(request: Request) -> JSONResponse:
    try:
        with read_session(get_engine()) as session:
            summaries = listing.list_public_campaigns(session=session)
    except StorageError as exc:
        return errors.json_error(exc)
    body = [{"slug": s.slug, "title": s.title, "total": s.total, "goal": s.goal, "status": s.status} for s in summaries]
    return JSONResponse(body, headers={"Cache-Control": f"public, max-age={API_CACHE_SECONDS}"})


_campaign_cache = TTLCache(API_CACHE_SECONDS)
NO_CAMPAIGN = "There is no published campaign at that address."
NO_SHAPES = "No shapes for that region scheme."
_JSON_HEADERS = {"Cache-Control": f"public, max-age={API_CACHE_SECONDS}"}


async def campaign_detail(request: Request) -> Response:
    """One public campaign's totals and per-region counts (they add up to the total).

    The encoded answer is kept for a few seconds: a hit is served from memory on the event
    loop; a miss reads the database in a worker thread, once per slug and interval.
    """
    slug = request.path_params["slug"]
    try:
        encoded = await campaign_json(slug)
    except StorageError as exc:
        return errors.json_error(exc)
    if encoded == b"":
        return errors.json_not_found(NO_CAMPAIGN, headers=_JSON_HEADERS)  # cached for as long as an answer
    return Response(encoded, media_type="application/json", headers=_JSON_HEADERS)


async def campaign_json(slug: str) -> bytes:
    """The encoded body of ``/api/campaigns/<slug>`` (b"" for no public campaign there), from the few seconds'
    cache: the embed widget's first paint reads the same answer. StorageError while the database is away."""
    encoded = _campaign_cache.peek(slug)
    if encoded is None:
        encoded = await anyio.to_thread.run_sync(lambda: _campaign_cache.get(slug, lambda: _encoded_body(slug)))
    return encoded


def _encoded_body(slug: str) -> bytes:
    body = _campaign_body(slug)
    return b"" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _campaign_body(slug: str) -> dict[str, Any] | None:
    with read_session(get_engine()) as session:
        try:
            page = listing.get_campaign_page(session=session, slug=slug)
        except NotFound:
            return None
        campaign = listing.get_campaign_by_slug(session=session, slug=slug)
        assert campaign is not None and campaign.id is not None
        regions = counts.rank_regions(session=session, campaign_id=campaign.id, scheme_id=campaign.region_scheme)
        updated = counts.get_last_updated(session=session, campaign_id=campaign.id)
    return {
        "slug": page.slug,
        "title": page.title,
        "status": page.status,
        "goal": page.goal,
        "total": int(regions["count"].sum()) if len(regions) else 0,
        "updated": (updated or campaign.updated_at).isoformat(),
        "light_share_link": page.light_share_link,  # spike mode: the share link is the light page /s/<slug>
        "regions": [{"code": c, "name": n, "count": int(k)} for c, n, k in regions.itertuples(index=False)],
    }


def campaign_updates(request: Request) -> Response:
    """A public campaign's updates to its signers, newest first (``?offset=`` pages on, 20 at a time)."""
    slug = request.path_params["slug"]
    offset = request.query_params.get("offset", "0")
    try:
        with read_session(get_engine()) as session:
            campaign = listing.get_public_campaign(session=session, slug=slug)
            items = updates.list_public_updates(
                session=session,
                campaign_id=campaign.id or 0,
                limit=UPDATES_PAGE,
                offset=int(offset) if re.fullmatch(r"[0-9]{1,6}", offset) else 0,  # ASCII digits, bounded
            )
    except NotFound:
        return errors.json_not_found(NO_CAMPAIGN, headers=_JSON_HEADERS)
    except StorageError as exc:
        return errors.json_error(exc)
    body = [
        {"kind": u.kind, "subject": u.subject, "body_markdown": u.body, "published_at": u.published_at.isoformat()}
        for u in items
    ]
    return JSONResponse(body, headers=_JSON_HEADERS)


UPDATES_PAGE = 20
SHAPES_CACHE_SECONDS = 86_400


CUSTOM_SHAPES_CACHE_SECONDS = 300
_custom_shapes_cache = TTLCache(CUSTOM_SHAPES_CACHE_SECONDS)


def shapes(request: Request) -> Response:
    """A scheme's shapes, for maps drawn in the browser: shipped files cached a day (they never change),
    uploaded ones normalized for Vega and cached a few minutes."""
    from campaigns.regions.lookup import CUSTOM_PREFIX, get_custom_map_shapes
    from campaigns.regions.schemes import SchemeInfo, list_schemes, shape_path

    wanted = request.path_params["scheme"].lower()
    if wanted.startswith(CUSTOM_PREFIX):

        def read() -> bytes:
            with read_session(get_engine()) as session:
                return get_custom_map_shapes(session=session, scheme_id=wanted) or b""

        try:
            body = _custom_shapes_cache.get(wanted, read)
        except StorageError as exc:
            return errors.json_error(exc)
        if body:
            cache = f"public, max-age={CUSTOM_SHAPES_CACHE_SECONDS}"
            return Response(body, media_type="application/json", headers={"Cache-Control": cache})
        return errors.json_not_found(NO_SHAPES)
    info: SchemeInfo | None = next((i for i in list_schemes() if i.id == wanted and i.shapes), None)
    path = shape_path(info) if info else None
    if path is None or not path.is_file():
        return errors.json_not_found(NO_SHAPES)
    return Response(
        path.read_bytes(),
        media_type="application/json",
        headers={"Cache-Control": f"public, max-age={SHAPES_CACHE_SECONDS}, immutable"},
    )


# The public JSON (campaigns, totals, shapes) is public data: any site's page may read it from the browser, so a
# partner site can show a campaign's count. "*" never carries cookies or credentials; no other route gets it.
CROSS_ORIGIN = {"Access-Control-Allow-Origin": "*"}


def readable_anywhere(endpoint: Callable[[Request], Any]) -> Callable[[Request], Any]:
    """``endpoint`` with ``CROSS_ORIGIN`` on each of its answers (errors and not-found included)."""

    async def route(request: Request) -> Response:
        if inspect.iscoroutinefunction(endpoint):
            response = await endpoint(request)
        else:  # in a worker thread, as Starlette runs a plain function: it reads the database
            response = await run_in_threadpool(endpoint, request)
        response.headers.update(CROSS_ORIGIN)
        return response

    route.__name__ = getattr(endpoint, "__name__", "route")
    return route


ROUTES = [
    Route("/api/health", health, methods=["GET"]),
    Route("/api/shapes/{scheme}.json", readable_anywhere(shapes), methods=["GET"]),
    Route("/api/campaigns", readable_anywhere(list_campaigns), methods=["GET"]),
    Route("/api/campaigns/{slug}", readable_anywhere(campaign_detail), methods=["GET"]),
    Route("/api/campaigns/{slug}/updates", readable_anywhere(campaign_updates), methods=["GET"]),
]
