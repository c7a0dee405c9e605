"""Real-browser field kit on a phone: the Status tab shows the QR code and the downloads; the poster and the
signature sheet downloaded from it render (pdftoppm) and say what they must; the template comes back in."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pypdf
import pytest
from PIL import Image

from campaigns.core.db import read_session
from campaigns.core.models import utcnow
from campaigns.signatures import paper
from campaigns.signatures.paper_rows import COLUMNS
from tests.support.browser import E2E, browser_page, log_in
from tests.support.factories import PASSWORD, make_campaign, make_user

pytestmark = [
    *E2E,
    pytest.mark.skipif(
        shutil.which("pdftoppm") is None and not os.environ.get("RALLY_REQUIRE_BROWSER"),
        reason="no pdftoppm to render the PDFs (apt-get install poppler-utils)",
    ),
]


def first_page_png(pdf: Path) -> Image.Image:
    """The PDF's first page as pdftoppm renders it (what a printer would get), at 50 dpi."""
    out = pdf.with_suffix("")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(out)], check=True
    )
    return Image.open(out.with_suffix(".png")).convert("L")


def dark_share(image: Image.Image, box: tuple[int, int, int, int]) -> float:
    region = image.crop(box)
    pixels = region.tobytes()  # one byte per pixel: the image is greyscale
    return sum(1 for p in pixels if p < 128) / len(pixels)


def test_an_organizer_downloads_the_poster_and_the_sheet_on_a_phone(live_server, browser, request, tmp_path):
    engine = live_server.engine()
    make_campaign(engine, slug="kit-e2e", title="Fund the branch libraries")
    make_user(engine, email="kit-organizer@example.org", roles=["organizer"])
    with browser_page(browser, request, tmp_path, viewport={"width": 390, "height": 900}) as page:
        log_in(page, live_server.url, "kit-organizer@example.org", PASSWORD)
        page.goto(f"{live_server.url}/editor?edit=kit-e2e")
        page.get_by_role("tab", name="Status").click()
        page.get_by_role("heading", name="Share and print").wait_for()
        qr = page.get_by_test_id("stImage").locator("img")
        qr.scroll_into_view_if_needed()
        assert qr.evaluate("img => img.complete && img.naturalWidth") > 100  # the QR code, loaded
        for label in ("QR code (PNG)", "QR code (SVG)", "Poster, A4 (PDF)", "Signature sheet, A4 (PDF)"):
            assert page.get_by_role("button", name=label).is_visible()
        page.screenshot(path=str(tmp_path / "status-kit-390.png"), full_page=True)

        with page.expect_download() as poster_download:
            page.get_by_role("button", name="Poster, A4 (PDF)").click()
        page.get_by_text("US Letter").click()
        page.get_by_role("button", name="Signature sheet, US Letter (PDF)").wait_for()
        with page.expect_download() as sheet_download:
            page.get_by_role("button", name="Signature sheet, US Letter (PDF)").click()
        with page.expect_download() as template_download:
            page.get_by_role("button", name="Blank sheet template (CSV)").click()
        poster, sheet, template_file = tmp_path / "poster.pdf", tmp_path / "sheet.pdf", tmp_path / "template.csv"
        poster_download.value.save_as(poster)
        sheet_download.value.save_as(sheet)
        template_download.value.save_as(template_file)

    assert poster_download.value.suggested_filename == "kit-e2e-poster-a4.pdf"
    text = pypdf.PdfReader(io.BytesIO(poster.read_bytes())).pages[0].extract_text()
    words = " ".join(text.split())  # the title and purpose wrap in large type
    assert "Fund the branch libraries Keep every branch library open on weekends." in words
    assert f"{live_server.url}/?campaign=kit-e2e" in text.splitlines()
    image = first_page_png(poster)
    width, height = image.size
    assert abs(height / width - 297 / 210) < 0.01  # A4 portrait
    assert dark_share(image, (width // 3, height // 2, 2 * width // 3, 3 * height // 4)) > 0.3  # the QR code
    assert dark_share(image, (0, height - 20, width, height)) == 0  # nothing runs off the bottom

    assert sheet_download.value.suggested_filename == "kit-e2e-sheet-letter.pdf"
    text = pypdf.PdfReader(io.BytesIO(sheet.read_bytes())).pages[0].extract_text()
    assert " ".join(COLUMNS) in text.splitlines()
    assert "“Yes, the organizers of this campaign may email me about it and about related actions." in " ".join(
        text.split()
    )
    image = first_page_png(sheet)
    assert abs(image.size[0] / image.size[1] - 11 / 8.5) < 0.01  # US Letter landscape

    template = template_file.read_bytes()
    filled = template + f"Ada Lovelace,ada@example.org,CA,{utcnow().date().isoformat()},yes\r\n".encode()
    with read_session(engine) as session:
        check = paper.preview_import(session=session, campaign_slug="kit-e2e", data=filled)
    assert (check.ready, check.errors) == (1, 0)
    engine.dispose()
