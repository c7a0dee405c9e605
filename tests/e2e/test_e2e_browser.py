"""Real-browser flows: Playwright drives Debian's Chromium against the app started with `make run`."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from campaigns.core.db import read_session, run_write
from campaigns.core.models import Signature
from campaigns.signatures.signing import sign
from tests.support.browser import E2E, browser_page
from tests.support.factories import make_campaign, signer

pytestmark = E2E
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser, request, tmp_path: Path):
    with browser_page(
        browser, request, tmp_path, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    ) as page:
        yield page


def test_supporter_signs_from_a_share_link_on_a_phone(live_server, phone, tmp_path):
    engine = live_server.engine()
    campaign = make_campaign(engine, slug="phone-flow", goal=20, title="Protect the river")
    run_write(engine, lambda s: sign(session=s, campaign_slug="phone-flow", signer=signer()))  # someone before us

    page = phone
    page.goto(f"{live_server.url}/?campaign=phone-flow&utm_source=sms&utm_medium=text&utm_campaign=spring")
    page.get_by_role("heading", name="Protect the river").wait_for()
    expect(page.get_by_test_id("stProgress")).to_contain_text("1 of 20 signatures")

    page.get_by_role("textbox", name="Your name").fill("Wangari Maathai")
    page.get_by_role("textbox", name="Email", exact=True).fill("wangari@example.org")
    page.get_by_role("textbox", name="ZIP code (optional)").fill("10001")  # fills in the state
    page.get_by_role("textbox", name="Why are you signing? (optional)").fill("Rivers are {{ 7*7 }} our commons.")
    page.get_by_test_id("stCheckbox").get_by_text("Yes, the organizers of this campaign").click()
    expect(page.get_by_role("checkbox", name="Yes, the organizers")).to_be_checked()
    page.get_by_role("button", name="Sign the campaign").click()

    page.get_by_text("Thank you, Wangari Maathai").wait_for()
    expect(page.get_by_test_id("stProgress")).to_contain_text("2 of 20 signatures")
    assert page.get_by_text("Your signature counts for New York").count() == 1
    page.screenshot(path=str(tmp_path / "thank-you.png"), full_page=True)

    with read_session(engine) as session:
        row = session.execute(select(Signature).where(Signature.email == "wangari@example.org")).scalar_one()
    assert (row.region_code, row.utm_source, row.utm_medium, row.utm_campaign) == ("US-NY", "sms", "text", "spring")
    assert row.contact_consent and row.comment == "Rivers are {{ 7*7 }} our commons."
    assert campaign.id == row.campaign_id
    engine.dispose()


def test_bad_email_is_flagged_at_the_field_in_the_browser(live_server, phone):
    engine = live_server.engine()
    make_campaign(engine, slug="phone-bad-email")
    page = phone
    page.goto(f"{live_server.url}/?campaign=phone-bad-email")
    page.get_by_role("textbox", name="Your name").fill("Someone")
    page.get_by_role("textbox", name="Email", exact=True).fill("someone@")
    page.get_by_role("button", name="Sign the campaign").click()
    page.get_by_text("That email address isn't valid").wait_for()
    page.get_by_text("Please pick your state").wait_for()
    assert page.get_by_text("Thank you").count() == 0
    engine.dispose()
