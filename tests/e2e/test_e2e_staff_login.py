"""Real-browser staff edges on a phone (390 px): a staff link opened logged out leads through the log-in back to
it, a failed log-in keeps the email, the overview fits, and publishing asks first."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from campaigns.catalog.listing import get_campaign_by_slug
from campaigns.core.db import read_session
from tests.support.browser import E2E, browser_page
from tests.support.factories import PASSWORD, make_campaign, make_user

pytestmark = E2E


@pytest.fixture
def phone(browser, request, tmp_path: Path):
    with browser_page(browser, request, tmp_path, viewport={"width": 390, "height": 844}) as page:
        yield page


def test_a_staff_link_opened_logged_out_leads_through_the_log_in_back_to_it(live_server, phone, tmp_path):
    engine = live_server.engine()
    make_user(engine, email="rosa.phone@example.org", roles=["organizer"])
    make_campaign(engine, slug="phone-draft", title="Benches in Harbour Park", status="draft")
    page = phone

    page.goto(f"{live_server.url}/editor?edit=phone-draft")
    page.get_by_role("heading", name="Log in").wait_for()  # not Streamlit's "page not found"
    assert page.url == f"{live_server.url}/auth/login?next=/editor%3Fedit%3Dphone-draft"

    page.get_by_label("Email").fill("rosa.phone@example.org")
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("match an active account").wait_for()
    expect(page.get_by_label("Email")).to_have_value("rosa.phone@example.org")  # kept
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_label("Password")).to_be_focused()

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/editor?edit=phone-draft")
    page.get_by_role("heading", name="Campaign editor").wait_for()
    page.get_by_role("heading", name="Next steps").wait_for()  # a draft's checklist
    title = page.get_by_role("heading", name="Campaign editor").bounding_box()
    bar = page.get_by_test_id("stHeader").bounding_box()
    assert title and bar and title["y"] >= bar["y"] + bar["height"]  # the top bar covers no title
    page.screenshot(path=str(tmp_path / "editor-390.png"))

    page.get_by_role("tab", name="Status").click()
    page.get_by_role("button", name="Publish…").click()
    page.get_by_text("starts accepting signatures").wait_for()
    with read_session(engine) as session:
        assert get_campaign_by_slug(session=session, slug="phone-draft").status == "draft"  # asked, not done
    page.get_by_role("button", name="Yes, publish").click()
    page.get_by_text("This campaign is published").wait_for()
    with read_session(engine) as session:
        assert get_campaign_by_slug(session=session, slug="phone-draft").status == "published"

    page.goto(f"{live_server.url}/overview")
    card = page.locator(".st-key-overview-phone-draft")  # its bordered container
    card.get_by_role("link", name="Open in the editor").wait_for()
    box = card.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390  # the card fits the phone
    page.screenshot(path=str(tmp_path / "overview-390.png"), full_page=True)
    engine.dispose()


def test_an_open_redirect_is_refused_in_the_browser(live_server, phone):
    engine = live_server.engine()
    make_user(engine, email="rosa.redirect@example.org", roles=["organizer"])
    engine.dispose()
    page = phone
    page.goto(f"{live_server.url}/auth/login?next=//example.com/%2F..")
    page.get_by_label("Email").fill("rosa.redirect@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
