"""The field kit's public routes, against the app started with `make run`: what they serve, and to whom."""

from __future__ import annotations

import io

import httpx
import pypdf
import pytest
from PIL import Image
from sqlalchemy import update

from campaigns.core.db import run_write
from campaigns.core.models import Campaign
from campaigns.signatures.paper_rows import COLUMNS
from campaigns.web.fieldkit import CACHE_SECONDS
from tests.support.factories import make_campaign

pytestmark = pytest.mark.xdist_group("live")


@pytest.fixture(scope="module")
def slugs(live_server):
    engine = live_server.engine()
    make_campaign(engine, slug="kit-open", title="Open libraries")
    make_campaign(engine, slug="kit-closed", status="closed")
    make_campaign(engine, slug="kit-draft", status="draft", title="Secret plans")
    engine.dispose()
    return "kit-open", "kit-closed", "kit-draft"


def get(server, path: str, **kwargs) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", follow_redirects=False, **kwargs)


@pytest.mark.parametrize(
    ("name", "media_type", "disposition"),
    [
        ("qr.png", "image/png", 'inline; filename="kit-open-qr.png"'),
        ("qr.svg", "image/svg+xml", 'inline; filename="kit-open-qr.svg"'),
        ("poster.pdf", "application/pdf", 'inline; filename="kit-open-poster-a4.pdf"'),
        ("poster.pdf?paper=letter", "application/pdf", 'inline; filename="kit-open-poster-letter.pdf"'),
        ("sheet.pdf?paper=LETTER", "application/pdf", 'inline; filename="kit-open-sheet-letter.pdf"'),
        ("sheet.csv", "text/csv", 'attachment; filename="kit-open-sheet.csv"'),
    ],
)
def test_each_file_of_a_public_campaign_is_served_with_its_type_and_name(
    live_server, slugs, name, media_type, disposition
):
    response = get(live_server, f"/share/kit-open/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    assert response.headers["content-disposition"] == disposition
    assert response.headers["cache-control"] == f"public, max-age={CACHE_SECONDS}"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_files_hold_what_they_say(live_server, slugs):
    png = Image.open(io.BytesIO(get(live_server, "/share/kit-open/qr.png").content))
    assert png.format == "PNG" and png.size[0] == png.size[1] >= 400
    assert (
        f"{live_server.url}/?campaign=kit-open&amp;utm_source=qr&amp;utm_medium=image"
        in get(live_server, "/share/kit-open/qr.svg").text
    )
    poster = pypdf.PdfReader(io.BytesIO(get(live_server, "/share/kit-open/poster.pdf?paper=letter").content))
    assert round(float(poster.pages[0].mediabox.width)) == 612  # US Letter: 8.5 in
    assert "Open libraries" in poster.pages[0].extract_text()
    sheet = pypdf.PdfReader(io.BytesIO(get(live_server, "/share/kit-open/sheet.pdf").content))
    assert " ".join(COLUMNS) in sheet.pages[0].extract_text().splitlines()
    assert (
        get(live_server, "/share/kit-open/sheet.csv").content == b"\xef\xbb\xbf" + ",".join(COLUMNS).encode() + b"\r\n"
    )


def test_a_closed_campaigns_kit_is_public_too(live_server, slugs):
    assert get(live_server, "/share/kit-closed/poster.pdf").status_code == 200


@pytest.mark.parametrize("name", ["qr.png", "qr.svg", "poster.pdf", "sheet.pdf", "sheet.csv"])
@pytest.mark.parametrize("slug", ["kit-draft", "no-such-campaign", "Not%20A%20Slug"])
def test_drafts_and_unknown_campaigns_look_not_found(live_server, slugs, slug, name):
    response = get(live_server, f"/share/{slug}/{name}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "find" in response.text and "Secret plans" not in response.text
    assert response.headers["cache-control"] == "no-store"


def test_an_unknown_paper_size_is_refused_with_the_sizes_there_are(live_server, slugs):
    before = len(live_server.log_path.read_text())
    response = get(live_server, "/share/kit-open/poster.pdf?paper=a3")
    assert response.status_code == 400
    assert "Choose the paper size a4 or letter" in response.text
    assert "Traceback" not in live_server.log_path.read_text()[before:]


def test_the_routes_only_read(live_server, slugs):
    assert httpx.post(f"{live_server.url}/share/kit-open/poster.pdf").status_code == 405


def test_a_poster_kept_in_memory_is_built_again_once_the_campaign_is_edited(live_server, slugs):
    def title() -> str:
        pdf = get(live_server, "/share/kit-closed/poster.pdf?paper=letter").content
        return " ".join(pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())

    assert "Fund the libraries" in title() and "Fund the libraries" in title()  # built, then kept
    engine = live_server.engine()
    run_write(
        engine, lambda s: s.execute(update(Campaign).where(Campaign.slug == "kit-closed").values(title="Open late"))
    )
    engine.dispose()
    assert "Open late" in title() and "Fund the libraries" not in title()
