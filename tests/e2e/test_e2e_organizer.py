"""Real-browser organizer flow: from log-in to a published campaign with per-region targets, then locked out."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from campaigns.core.db import read_session
from campaigns.core.models import Campaign, Target
from tests.support.browser import E2E, browser_page, log_in
from tests.support.factories import PASSWORD, make_user

pytestmark = E2E
TARGETS_CSV = (
    "region_code,name,title,email,postal_address\n"
    "US-CA,Gavin Ortiz,State Librarian,librarian@ca.example.gov,900 N St Sacramento\n"
    "US-NY,Lena Park,State Librarian,librarian@ny.example.gov,222 Madison Ave Albany\n"
    ",Dana Reyes,Chair of the Library Board,chair@example.gov,\n"
)


@pytest.fixture
def desk(browser, request, tmp_path: Path):
    with browser_page(browser, request, tmp_path, viewport={"width": 1200, "height": 900}) as page:
        yield page


def test_organizer_goes_from_log_in_to_a_published_campaign_with_targets(live_server, desk, tmp_path):
    engine = live_server.engine()
    make_user(engine, email="rosa@example.org", roles=["organizer"])
    page = desk
    log_in(page, live_server.url, "rosa@example.org", PASSWORD)

    page.goto(f"{live_server.url}/editor")
    page.get_by_role("heading", name="Campaign editor").wait_for()
    page.get_by_role("textbox", name="Title").fill("Open the Riverside branch on Sundays")
    page.get_by_role("textbox", name="Title").press("Tab")
    expect(page.get_by_role("textbox", name="Link name")).to_have_value("open-the-riverside-branch-on-sundays")
    page.get_by_role("textbox", name="Purpose: one paragraph on why this matters").fill(
        "Sunday is the only day many families can visit."
    )
    page.get_by_role("button", name="Create draft").click()

    page.get_by_role("tab", name="Targets").click()
    csv_file = tmp_path / "targets.csv"
    csv_file.write_text(TARGETS_CSV, encoding="utf-8")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(csv_file))
    page.get_by_role("button", name="Import targets").click()
    page.get_by_text("Imported 3 targets").wait_for()

    page.get_by_role("tab", name="Status").click()
    page.get_by_role("button", name="Publish…").click()
    page.get_by_text("starts accepting signatures").wait_for()  # it asks first
    page.get_by_role("button", name="Yes, publish").click()
    page.get_by_text("This campaign is published").wait_for()
    page.screenshot(path=str(tmp_path / "published.png"), full_page=True)

    page.goto(f"{live_server.url}/")
    page.get_by_role("heading", name="Open the Riverside branch on Sundays").wait_for()

    page.goto(f"{live_server.url}/account")
    page.get_by_role("button", name="Log out").click()
    page.get_by_text("You are logged out").wait_for()

    page.goto(f"{live_server.url}/editor")
    page.get_by_role("button", name="Log in").wait_for()  # the log-in page, not the editor
    assert page.url == f"{live_server.url}/auth/login?next=/editor"

    with read_session(engine) as session:
        campaign = session.execute(
            select(Campaign).where(Campaign.slug == "open-the-riverside-branch-on-sundays")
        ).scalar_one()
        regions = sorted(t.region_code or "" for t in session.execute(select(Target)).scalars())
    assert campaign.status == "published" and regions == ["", "US-CA", "US-NY"]
    engine.dispose()
