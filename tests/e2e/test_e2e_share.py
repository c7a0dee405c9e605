"""Link previews in a real browser at 390 px: the share link's rewritten page still runs the app (sign form and
all, under the Content-Security-Policy), and the preview image its tags name loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.browser import E2E, browser_page
from tests.support.factories import make_campaign

pytestmark = E2E
PHONE = {"width": 390, "height": 844}
NATURAL_SIZE = """async (src) => {
  const img = new Image();
  img.src = src;
  await img.decode();
  return [img.naturalWidth, img.naturalHeight];
}"""


@pytest.fixture
def phone(browser, request, tmp_path: Path):
    with browser_page(
        browser, request, tmp_path, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    ) as page:
        yield page


def test_the_share_link_page_with_preview_tags_still_signs_on_a_phone(live_server, phone, tmp_path):
    make_campaign(live_server.engine(), slug="phone-preview", goal=20, title="Light the river path")
    page = phone
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server.url}/?campaign=phone-preview&utm_source=whatsapp")

    image = page.locator('meta[property="og:image"]').get_attribute("content")
    assert image == f"{live_server.url}/share/phone-preview/preview.png"
    assert page.locator('meta[name="twitter:card"]').get_attribute("content") == "summary_large_image"
    page.get_by_role("heading", name="Light the river path").wait_for()
    page.get_by_role("textbox", name="Your name").fill("Wangari Maathai")
    page.get_by_role("textbox", name="Email", exact=True).fill("wangari@example.org")
    page.get_by_role("textbox", name="ZIP code (optional)").fill("10001")  # fills in the state
    page.get_by_role("button", name="Sign the campaign").click()
    page.get_by_text("Thank you, Wangari Maathai").wait_for()
    expect(page.get_by_test_id("stProgress")).to_contain_text("1 of 20 signatures")

    assert page.evaluate(NATURAL_SIZE, image) == [1200, 630]  # the image loads (same origin, allowed by the CSP)
    assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors
    page.screenshot(path=str(tmp_path / "share-link-phone.png"), full_page=True)
