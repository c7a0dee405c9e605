"""Link previews, against a running app: a share link's page carries its campaign's og:/twitter: tags, the
image they name is a PNG, and every other page is served exactly as Streamlit serves it."""

from __future__ import annotations

import importlib.util
import io
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from campaigns.core.db import run_write
from campaigns.sharing.preview import REFRESH_SECONDS
from campaigns.signatures.signing import sign
from tests.support.factories import make_campaign, signer
from tests.support.html_head import parsed

pytestmark = pytest.mark.xdist_group("live")
NASTY = "Stop the \"<script>alert(1)</script>\" & the 'quote' trick"

STATIC = Path(importlib.util.find_spec("streamlit").origin).parent / "static"  # type: ignore[arg-type, union-attr]  # streamlit is installed
INDEX = (STATIC / "index.html").read_bytes()


@pytest.mark.parametrize("path", ["/", "/campaigns"])
def test_a_share_link_page_carries_its_campaigns_preview_tags(live_server, path):
    slug = "preview-tags" + path.replace("/", "-").rstrip("-")
    make_campaign(live_server.engine(), slug=slug, title=NASTY)
    response = httpx.get(f"{live_server.url}{path}?campaign={slug}&utm_source=whatsapp")  # httpx asks for gzip
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert int(response.headers["content-length"]) == len(response.content)
    assert "etag" not in response.headers  # Streamlit's file's tag would let a browser keep the generic page
    assert response.headers["cache-control"] == "no-cache"
    assert "frame-ancestors 'self'" in response.headers["content-security-policy"]
    head = parsed(response.text)
    assert head.titles == [NASTY]
    assert head.scripts == parsed(INDEX.decode()).scripts
    assert head.meta["og:title"] == head.meta["twitter:title"] == NASTY
    purpose = "Keep every branch library open on weekends."
    assert head.meta["og:description"] == head.meta["twitter:description"] == purpose
    assert head.meta["og:url"] == f"{live_server.url}/?campaign={slug}"
    assert head.meta["og:image"] == head.meta["twitter:image"] == f"{live_server.url}/share/{slug}/preview.png"
    assert head.meta["twitter:card"] == "summary_large_image" and head.meta["og:type"] == "website"
    assert "<script>alert" not in response.text


def test_the_preview_image_is_a_cached_png_with_a_validator(live_server):
    engine = live_server.engine()
    campaign = make_campaign(engine, slug="preview-image", goal=10)
    run_write(engine, lambda s: sign(session=s, campaign_slug=campaign.slug, signer=signer()))
    image_url = parsed(httpx.get(f"{live_server.url}/?campaign=preview-image").text).meta["og:image"]
    response = httpx.get(image_url)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    picture = Image.open(io.BytesIO(response.content))
    assert picture.format == "PNG" and picture.size == (1200, 630)
    assert response.headers["cache-control"] == f"public, max-age={REFRESH_SECONDS}"
    assert response.headers["last-modified"].endswith(" GMT")
    etag = response.headers["etag"]
    again = httpx.get(image_url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    run_write(engine, lambda s: sign(session=s, campaign_slug=campaign.slug, signer=signer()))
    kept = httpx.get(image_url)  # within its window the card is not drawn again for each new signature
    assert kept.content == response.content and kept.headers["etag"] == etag
    engine.dispose()


def test_closed_campaigns_have_previews_and_drafts_have_none(live_server):
    engine = live_server.engine()
    make_campaign(engine, slug="preview-closed", status="closed", title="Closed and counted")
    make_campaign(engine, slug="preview-draft", status="draft", title="Not yet public")
    closed = parsed(httpx.get(f"{live_server.url}/?campaign=preview-closed").text)
    assert closed.meta["og:title"] == "Closed and counted"
    assert httpx.get(f"{live_server.url}/share/preview-closed/preview.png").status_code == 200
    for slug in ("preview-draft", "no-such-campaign"):
        page = httpx.get(f"{live_server.url}/?campaign={slug}")
        assert page.content == INDEX  # the generic page, byte for byte: nothing about a draft shows
        image = httpx.get(f"{live_server.url}/share/{slug}/preview.png")
        assert image.status_code == 404 and image.headers["content-type"].startswith("text/plain")
        assert "Not yet public" not in image.text
    assert httpx.get(f"{live_server.url}/share/Not%20A%20Slug/preview.png").status_code == 404
    engine.dispose()


def test_every_other_page_and_file_is_served_as_streamlit_serves_it(live_server):
    make_campaign(live_server.engine(), slug="preview-other")
    for path in (
        "/",
        "/campaigns",
        "/dashboard?campaign=preview-other",  # not the share link
        "/?campaign=",
        "/?campaign=Preview-Other",
    ):
        response = httpx.get(f"{live_server.url}{path}", headers={"Accept-Encoding": "identity"})
        assert response.content == INDEX, path
        assert "etag" in response.headers, path  # Streamlit's own answer, validators and all
    head = httpx.head(f"{live_server.url}/?campaign=preview-other")
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(INDEX)
    assert httpx.get(f"{live_server.url}/favicon.png").content == (STATIC / "favicon.png").read_bytes()
    assert "Traceback" not in live_server.log_path.read_text()


def test_an_archived_campaign_loses_its_card_and_tags_within_seconds(live_server):
    from campaigns.catalog.lifecycle import archive_campaign

    engine = live_server.engine()
    campaign = make_campaign(engine, slug="preview-archived", status="closed", title="Soon archived")
    image_url = f"{live_server.url}/share/preview-archived/preview.png"
    assert httpx.get(image_url).status_code == 200  # drawn and kept for minutes
    run_write(engine, lambda s: archive_campaign(session=s, campaign_id=campaign.id))
    deadline = time.monotonic() + 15  # the page's tags and the card's public check are kept 5 s
    while httpx.get(image_url).status_code != 404 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert httpx.get(image_url).status_code == 404
    page = httpx.get(f"{live_server.url}/?campaign=preview-archived")
    assert page.content == INDEX and "Soon archived" not in page.text
    engine.dispose()
