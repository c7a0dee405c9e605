"""The field kit's downloads for a public campaign, at addresses anyone can open, print or pass on:

- ``GET /share/<slug>/qr.png`` and ``/share/<slug>/qr.svg``: the QR code of its share link (``utm_source=qr``);
- ``GET /share/<slug>/poster.pdf?paper=a4|letter``: the poster (A4 when no size is given);
- ``GET /share/<slug>/sheet.pdf?paper=a4|letter``: the paper signature sheet;
- ``GET /share/<slug>/sheet.csv``: its blank CSV template (headers only).

Only published and closed campaigns: all of it is public information, the same as the campaign page. A draft
or an archived campaign looks not found here for everyone, staff included; its organizers get the same files
from the Status tab of the campaign editor (``ui/share_kit.py``, through Streamlit's own downloads), so this
module never has to tell staff from the public. A PDF takes a few tenths of a second of CPU to build (most of
it parsing and subsetting the fonts), so the last ``BUILT_KEPT`` files built are kept in memory, keyed by
everything they print (the campaign's title, purpose, consent wording, region label, its share link, the
paper): an edit or another public address builds a new one, and a crowd of volunteers costs one build.
Browsers and proxies may keep a file for ``CACHE_SECONDS``. Handlers are plain functions: Starlette runs
them in a worker thread.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from functools import lru_cache

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from campaigns.core import theme
from campaigns.core.db import get_engine, read_session
from campaigns.core.errors import RallyError
from campaigns.core.pdf_text import Paper
from campaigns.fieldkit import kit, poster, qr, sheet
from campaigns.sharing import links
from campaigns.web import errors

CACHE_SECONDS = 300
BUILT_KEPT = 64  # files, about 25 kB each
PREFIX = "/share/{slug}"

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Field kit</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 30rem; margin: 3rem auto; padding: 0 1.25rem; }}
a {{ color: {primary}; }}</style></head>
<body><h1>Field kit</h1><p role="alert">{message}</p><p><a href="/">Browse all campaigns</a></p></body></html>"""


def _page(status: int, message: str) -> Response:
    body = _PAGE.format(message=html.escape(message), primary=theme.primary_hex())
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


Build = Callable[[kit.KitCampaign, Paper], bytes]


@lru_cache(maxsize=BUILT_KEPT)
def _built(build: Build, found: kit.KitCampaign, paper: Paper, address: str) -> bytes:
    """``build(found, paper)``, once per campaign text, paper and share link (``address``: its public base)."""
    return build(found, paper)


def _serve(item: str, extension: str, build: Build, *, paper: bool = False) -> Callable[[Request], Response]:
    """The endpoint for one download: ``build(campaign, paper size)`` makes its bytes."""

    def endpoint(request: Request) -> Response:
        try:
            size = kit.check_paper(request.query_params.get("paper")) if paper else None
            with read_session(get_engine()) as session:
                found = kit.read_public_kit_campaign(session=session, slug=request.path_params["slug"])
        except RallyError as exc:
            return errors.html_error(exc, _page)
        disposition = "attachment" if extension == "csv" else "inline"  # PDFs open in the browser, to print
        headers = {
            "Content-Disposition": f'{disposition}; filename="{kit.file_name(found.slug, item, extension, size)}"',
            "Cache-Control": f"public, max-age={CACHE_SECONDS}",
        }
        # the QR code and printed link point at the address this request used, when its host is allowed
        with links.answering(host=request.headers.get("host"), scheme=request.url.scheme) as base:
            body = _built(build, found, size or "a4", base)
        return Response(body, media_type=kit.MEDIA_TYPES[extension], headers=headers)

    return endpoint


ROUTES = [
    Route(f"{PREFIX}/qr.png", _serve("qr", "png", lambda k, _: qr.qr_png(k.slug, light=k.light_share_link))),
    Route(f"{PREFIX}/qr.svg", _serve("qr", "svg", lambda k, _: qr.qr_svg(k.slug, light=k.light_share_link))),
    Route(f"{PREFIX}/poster.pdf", _serve("poster", "pdf", lambda k, p: poster.poster_pdf(k, paper=p), paper=True)),
    Route(f"{PREFIX}/sheet.pdf", _serve("sheet", "pdf", lambda k, p: sheet.sheet_pdf(k, paper=p), paper=True)),
    Route(f"{PREFIX}/sheet.csv", _serve("sheet", "csv", lambda k, _: sheet.template_csv())),
]
