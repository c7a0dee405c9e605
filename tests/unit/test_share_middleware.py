"""The link-preview middleware around a small ASGI app of its own: a page that arrives in pieces is rewritten
whole, and what it must not touch (other answers, compressed or oversized pages, other requests) goes through
exactly as it came."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from campaigns.core.db import get_engine
from campaigns.core.settings import override_settings
from campaigns.web.share import MAX_PAGE_BYTES, LinkPreviewMiddleware, shared_slug
from tests.support.factories import make_campaign
from tests.support.html_head import parsed

PAGE = b"<html><head><title>Streamlit</title></head><body><script src='x.js'></script></body></html>"
seen_headers: list[dict[str, str]] = []


def pieces(request):  # type: ignore[no-untyped-def]
    seen_headers.append(dict(request.headers))
    kind = request.query_params.get("kind", "")
    if kind == "gzip":
        return Response(gzip.compress(PAGE), media_type="text/html", headers={"Content-Encoding": "gzip"})
    if kind == "missing":
        return HTMLResponse(PAGE, status_code=404)
    if kind == "huge":
        return StreamingResponse(iter([PAGE, b" " * MAX_PAGE_BYTES, b"<!-- end -->"]), media_type="text/html")
    if kind == "image":
        return Response(b"\x89PNG", media_type="image/png")
    return StreamingResponse(iter([PAGE[:20], PAGE[20:50], PAGE[50:]]), media_type="text/html")  # in pieces


class Client:
    """Requests straight into the middleware-wrapped app (no server, no network)."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect  # each database gets its own slugs: the tags are cached per slug for a few seconds
        app = Starlette(routes=[Route("/", pieces), Route("/campaigns", pieces), Route("/dashboard", pieces)])
        self.transport = httpx.ASGITransport(app=LinkPreviewMiddleware(app))

    def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        path = path.replace("mw-", f"mw-{self.dialect}-")

        async def fetch() -> httpx.Response:
            async with httpx.AsyncClient(transport=self.transport, base_url="http://rally.test") as client:
                return await client.get(path, headers=headers)

        return asyncio.run(fetch())


@pytest.fixture
def client(engine) -> Iterator[Client]:  # type: ignore[no-untyped-def]
    dialect = engine.dialect.name
    make_campaign(engine, slug=f"mw-{dialect}-open", title='Light "the" <path>')
    make_campaign(engine, slug=f"mw-{dialect}-draft", status="draft")
    with override_settings(database_url=engine.url.render_as_string(hide_password=False)):
        yield Client(dialect)
        get_engine().dispose()


def test_a_page_that_arrives_in_pieces_is_rewritten_whole(client):
    response = client.get("/?campaign=mw-open", headers={"If-None-Match": '"old"', "Accept-Encoding": "gzip"})
    head = parsed(response.text)
    assert head.titles == ['Light "the" <path>'] and head.meta["og:title"] == 'Light "the" <path>'
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.text.endswith("<script src='x.js'></script></body></html>")
    assert "if-none-match" not in seen_headers[-1] and "accept-encoding" not in seen_headers[-1]


@pytest.mark.parametrize(
    "path",
    [
        "/?campaign=mw-draft",
        "/?campaign=no-such-campaign",
        "/dashboard?campaign=mw-open",
        "/?campaign=mw-open&kind=missing",
        "/?campaign=mw-open&kind=gzip",
        "/?campaign=mw-open&kind=image",
    ],
)
def test_other_answers_go_through_as_they_came(client, path):
    response = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert response.content == (b"\x89PNG" if "image" in path else PAGE)  # (httpx undoes the gzip)


def test_an_oversized_page_goes_through_unchanged(client):
    response = client.get("/campaigns?campaign=mw-open&kind=huge")
    assert response.content == PAGE + b" " * MAX_PAGE_BYTES + b"<!-- end -->"


def test_only_a_get_of_the_share_link_names_a_campaign():
    def scope(method: str = "GET", path: str = "/", query: bytes = b"campaign=ok-slug") -> dict[str, object]:
        return {"type": "http", "method": method, "path": path, "query_string": query}

    assert shared_slug(scope()) == "ok-slug"
    assert shared_slug(scope(path="/campaigns", query=b"utm_source=x&campaign=ok-slug")) == "ok-slug"
    assert shared_slug(scope(method="HEAD")) is None
    assert shared_slug(scope(path="/dashboard")) is None
    assert shared_slug(scope(query=b"campaign=Not%20a%20slug")) is None
    assert shared_slug(scope(query=b"")) is None
    assert shared_slug({"type": "websocket", "path": "/", "query_string": b"campaign=ok-slug"}) is None
