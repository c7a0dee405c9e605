"""Real-browser coordinator flow: log in through the form, choose a campaign, see the count, download the CSV."""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.browser import E2E, browser_page, log_in
from tests.support.export_data import EXPORTED_BY_DEFAULT, load_people
from tests.support.factories import PASSWORD, make_user

pytestmark = E2E


@pytest.fixture
def desk(browser, request, tmp_path: Path):
    with browser_page(
        browser, request, tmp_path, viewport={"width": 1280, "height": 900}, accept_downloads=True
    ) as page:
        yield page


def test_coordinator_logs_in_and_downloads_a_consenting_signer_list(live_server, desk, tmp_path):
    engine = live_server.engine()
    load_people(engine, slug="e2e-libraries")
    make_user(engine, email="cora@example.org", roles=["coordinator"])
    engine.dispose()
    page = desk
    log_in(page, live_server.url, "cora@example.org", PASSWORD)

    page.goto(f"{live_server.url}/export")
    page.get_by_role("heading", name="Export signers").wait_for()
    campaigns = page.get_by_test_id("stMultiSelect").first.locator("input")
    campaigns.click()
    campaigns.press("Backspace")  # drop the newest campaign, chosen at first
    campaigns.fill("Fund the libraries")
    campaigns.press("Enter")
    page.keyboard.press("Escape")
    metric = page.get_by_test_id("stMetricValue")
    expect(metric).to_have_text(str(EXPORTED_BY_DEFAULT))
    page.get_by_role("button", name="Prepare download").click()
    page.get_by_text(f"Ready: {EXPORTED_BY_DEFAULT} people").wait_for()
    page.screenshot(path=str(tmp_path / "export-page.png"), full_page=True)

    downloads = []
    page.context.on("page", lambda tab: tab.on("download", lambda d: downloads.append(d)))
    page.on("download", lambda d: downloads.append(d))
    page.get_by_role("link", name=re.compile(r"Download rally-e2e-libraries-signers-.*\.csv")).click()
    deadline = time.monotonic() + 30
    while not downloads and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert downloads, "the download never started"
    download = downloads[0]
    assert re.fullmatch(r"rally-e2e-libraries-signers-\d{4}-\d{2}-\d{2}\.csv", download.suggested_filename)
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text("utf-8"))))
    assert len(rows) == EXPORTED_BY_DEFAULT
    assert {r["campaign"] for r in rows} == {"e2e-libraries"} and "Quiet Person" not in {r["full_name"] for r in rows}
    print(f"screenshot: {tmp_path / 'export-page.png'}")
