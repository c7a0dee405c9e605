"""Real-browser letter preview: the organizer opens the Letter tab and sees *this* campaign's letter, for a made-up
signer, and downloads the preview as the PDF that gets mailed (address in the envelope's window, date once)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from campaigns.core.audit import CLI
from campaigns.core.db import run_write
from campaigns.letters import targets
from campaigns.letters.templates import date_text
from tests.support.browser import E2E, browser_page, log_in
from tests.support.factories import PASSWORD, make_campaign, make_letter_campaign, make_user, sign_from

pytestmark = E2E
TEMPLATE = (
    "Dear {{ target.title }} {{ target.name }},\n\nI back {{ campaign.title }} with {{ campaign.count }} others "
    "from {{ signer.region_name }}.\n\nSincerely,\n\n{{ signer.full_name }}"
)


@pytest.mark.parametrize("width", [1280, 390])
def test_the_organizer_previews_this_campaigns_letter_and_downloads_its_pdf(
    live_server, browser, request, tmp_path: Path, width
):
    engine = live_server.engine()
    make_user(engine, email=f"lou{width}@example.org", roles=["organizer"])
    make_campaign(engine, slug=f"decoy-{width}", title="A different campaign altogether")
    campaign = make_letter_campaign(
        engine,
        slug=f"river-{width}",
        title=f"Save the river {width}",
        template=TEMPLATE,
        target={
            "region_code": "US-NY",
            "name": "Lena Park",
            "postal_address": "Legislative Office Building\n198 State Street\nAlbany, NY 12210",
        },
    )
    run_write(
        engine,
        lambda s: targets.add_target(
            session=s, campaign_id=campaign.id, region_code=None, name="Dana Reyes", title="Chair", actor=CLI
        ),
    )
    sign_from(engine, campaign.slug, region_code="US-NY", full_name="Rosa Real")
    engine.dispose()
    with browser_page(
        browser, request, tmp_path, viewport={"width": width, "height": 900}, accept_downloads=True
    ) as page:
        log_in(page, live_server.url, f"lou{width}@example.org", PASSWORD)
        page.goto(f"{live_server.url}/editor?edit={campaign.slug}")
        page.get_by_role("tab", name="Letter").click()
        filled_in = f"Dear Senator Lena Park, I back Save the river {width} with 1 others from New York."
        expect(page.get_by_text(filled_in)).to_be_visible()
        expect(page.get_by_text("Alex Supporter").first).to_be_visible()
        assert page.get_by_text("Rosa Real").count() == 0  # never a real signer
        assert page.get_by_text("A different campaign altogether").count() == 0
        page.screenshot(path=str(tmp_path / f"letter-tab-{width}.png"))
        printed = {}
        for n in (1, 0):  # each button gives its own target's letter (the target for everyone comes first)
            with page.expect_download() as download:
                page.get_by_role("button", name="Download this preview (PDF)").nth(n).click()
            [sheet] = PdfReader(io.BytesIO(Path(download.value.path()).read_bytes())).pages
            printed[n] = sheet.extract_text()
    assert "Dear Chair Dana Reyes," in printed[0] and "Lena Park" not in printed[0]
    text = printed[1]
    assert "Lena Park\nSenator\nLegislative Office Building\n198 State Street\nAlbany, NY 12210" in text
    assert text.count(date_text()) == 1 and text.count("Sincerely,") == 1
    assert f"I back Save the river {width}" in text and "Rosa Real" not in text
