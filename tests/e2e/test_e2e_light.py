"""The light sign page in a real browser at 390 px with JavaScript off: a supporter signs through /s/<slug> and
gets the thank-you; the page passes axe-core's checks (run in a second context, with JavaScript, on the same
page) at 390 and 1280 px."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.accessibility import violations
from tests.support.browser import E2E, browser_page
from tests.support.factories import make_campaign

pytestmark = E2E
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SHOTS = Path(os.environ.get("RALLY_LIGHT_SHOTS", "/tmp/shots-light"))


@pytest.fixture
def phone_without_javascript(browser, request, tmp_path: Path):
    with browser_page(
        browser, request, tmp_path, viewport=PHONE, is_mobile=True, has_touch=True, java_script_enabled=False
    ) as page:
        yield page


def test_a_supporter_signs_on_the_light_page_with_javascript_off(live_server, phone_without_javascript):
    make_campaign(live_server.engine(), slug="light-e2e", goal=10, title="Light the river path")
    page = phone_without_javascript
    page.goto(f"{live_server.url}/s/light-e2e?utm_source=tv")
    expect(page.get_by_role("heading", name="Light the river path")).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "light-form-390.png"), full_page=True)
    page.get_by_label("Your name", exact=True).fill("Ada Lovelace")
    page.get_by_label("Email", exact=True).fill("not-an-address")
    page.get_by_role("button", name="Sign the campaign").click()
    expect(page.get_by_role("alert").filter(has_text="email")).to_be_visible()  # under its field, typed text kept
    expect(page.get_by_label("Your name", exact=True)).to_have_value("Ada Lovelace")
    page.screenshot(path=str(SHOTS / "light-errors-390.png"), full_page=True)
    page.get_by_label("Email", exact=True).fill("ada@example.org")
    page.get_by_label("State").select_option(label="California")
    page.get_by_label("Why are you signing? (optional)").fill("The path is dark after six.")
    page.get_by_role("button", name="Sign the campaign").click()
    expect(page.get_by_role("status")).to_have_text("Thank you, Ada Lovelace. Your name is on it.")
    expect(page.get_by_text("You're the first to sign.")).to_be_visible()
    assert (page.get_by_role("link", name="WhatsApp").get_attribute("href") or "").startswith("https://wa.me/?")
    page.screenshot(path=str(SHOTS / "light-thanks-390.png"), full_page=True)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_the_light_page_passes_axe_at_phone_and_desktop_width(live_server, browser, request, tmp_path, viewport):
    slug = f"light-axe-{viewport['width']}"
    make_campaign(live_server.engine(), slug=slug, goal=10, title="Light the river path")
    with browser_page(browser, request, tmp_path, viewport=viewport) as page:
        page.goto(f"{live_server.url}/s/{slug}")
        expect(page.get_by_role("button", name="Sign the campaign")).to_be_visible()
        page.get_by_label("Your name", exact=True).focus()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"light-form-{viewport['width']}.png"), full_page=True)
        assert violations(page) == []
