"""Real-browser paper-signature flow: a coordinator checks a file, imports it and downloads the report."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from campaigns.core.db import read_session
from campaigns.core.models import Signature
from tests.support.browser import E2E, browser_page, log_in, pick_option
from tests.support.factories import PASSWORD, make_user
from tests.unit.test_paper import HEADER, campaign_at

pytestmark = E2E
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "demo" / "paper-signatures-example.csv"


@pytest.mark.parametrize("width", [390, 1200], ids=["phone", "desk"])
def test_coordinator_checks_imports_and_downloads_the_report(live_server, browser, request, tmp_path, width):
    engine = live_server.engine()
    slug = f"paper-e2e-{width}"
    title = f"Paper drive {width}"
    campaign = campaign_at(engine, slug, title=title)
    email = f"coord{width}@example.org"
    make_user(engine, email=email, roles=["coordinator"])
    upload = tmp_path / "paper.csv"
    upload.write_bytes(SAMPLE.read_bytes() + (HEADER.split(",")[0] + ",,CA,2026-03-14,no\n").encode())
    with browser_page(browser, request, tmp_path, viewport={"width": width, "height": 900}) as page:
        log_in(page, live_server.url, email, PASSWORD)
        page.goto(f"{live_server.url}/paper")
        page.get_by_role("heading", name="Paper signatures").wait_for()
        pick_option(page, f"{title} (published)")
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(upload))
        page.get_by_role("button", name="Check the file").click()
        page.get_by_text("6 rows: 5 to import, 0 duplicates, 1 error.").wait_for()
        page.screenshot(path=str(tmp_path / f"paper-check-{width}.png"), full_page=True)
        page.get_by_role("button", name="Import the 5 rows that are ready").click()
        page.get_by_text("6 rows: 5 imported, 0 duplicates, 1 error.").wait_for()
        with page.expect_download() as download:
            page.get_by_role("button", name="Download the import report (CSV)").click()
        report = Path(download.value.path()).read_text("utf-8-sig").splitlines()
        page.screenshot(path=str(tmp_path / f"paper-imported-{width}.png"), full_page=True)
    assert report[0] == "line,outcome,message" and report[1] == "2,imported,Imported."
    assert report[-1] == (
        '7,error,"Email: The email is missing: paper signatures need one, so that each person is counted once."'
    )
    assert download.value.suggested_filename == f"{slug}-paper-import-report.csv"
    with read_session(engine) as session:
        stored = session.execute(select(Signature.source).where(Signature.campaign_id == campaign.id)).scalars().all()
    assert stored == ["paper"] * 5
