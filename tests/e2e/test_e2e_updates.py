"""Real-browser update to signers: an organizer writes an update, previews it, sends a test to themselves, then
sends it to the campaign's opted-in signers (through the app's own mail worker, to a real SMTP server); the
campaign page shows it on its timeline."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from pathlib import Path

from playwright.sync_api import expect

from tests.support.browser import E2E, browser_page, log_in
from tests.support.factories import PASSWORD, make_campaign, make_user, sign_from
from tests.support.mail import smtp_environment, wait_for_mail
from tests.support.servers import running_app

pytestmark = E2E


def test_organizer_writes_previews_tests_and_sends_an_update_that_the_campaign_page_shows(
    browser, request, smtp_server, tmp_path: Path
):
    controller, handler = smtp_server
    env = smtp_environment(controller, "Rally <news@rally.example.org>")
    with running_app(f"sqlite:///{tmp_path / 'rally.db'}", tmp_path, env) as server:
        engine = server.engine()
        make_user(engine, email="rosa@example.org", roles=["organizer"])
        campaign = make_campaign(engine, slug="libraries", title="Fund the libraries")
        for n in range(2):
            sign_from(engine, campaign.slug, contact_consent=True, email=f"reader{n}@example.org")
        sign_from(engine, campaign.slug, contact_consent=False, email="quiet@example.org")
        with browser_page(browser, request, tmp_path, viewport={"width": 1200, "height": 900}) as page:
            log_in(page, server.url, "rosa@example.org", PASSWORD)
            page.goto(f"{server.url}/editor?edit=libraries")
            page.get_by_role("tab", name="Updates").click()
            page.get_by_role("textbox", name="Update subject").fill("We delivered 2 signatures")
            page.get_by_role("textbox", name="Update text (markdown)").fill(
                "## Thank you\nThe council <b>meets</b> on Monday."
            )
            page.get_by_role("button", name="Save draft").click()
            page.get_by_text("Draft saved.").wait_for()
            preview = page.get_by_test_id("stVerticalBlock").filter(has_text="Preview: the campaign page").last
            expect(preview.get_by_role("heading", name="Thank you")).to_be_visible()
            expect(
                preview.get_by_text("The council <b>meets</b> on Monday.", exact=True)
            ).to_be_visible()  # raw HTML shown as text
            page.get_by_role("button", name="Send a test to me").click()
            page.get_by_text("A test is on its way to rosa@example.org").wait_for()
            [test] = wait_for_mail(handler, 1)
            assert test.rcpt_tos == ["rosa@example.org"]
            page.get_by_text("It will reach 2 signers").wait_for()
            page.get_by_role("button", name="Send to 2 signers").click()
            page.get_by_text("can't be changed or called back").wait_for()  # it asks first
            page.get_by_role("button", name="Yes, send it").click()
            page.get_by_text("Past updates", exact=True).wait_for()
            page.screenshot(path=str(tmp_path / "updates-tab.png"), full_page=True)
            # The worker's upkeep queues the messages (within a minute), then sends them.
            received = wait_for_mail(handler, 3, seconds=120)
            page.goto(f"{server.url}/?campaign=libraries")
            page.get_by_role("heading", name="Updates").wait_for()
            page.get_by_text("We delivered 2 signatures").wait_for()
            page.screenshot(path=str(tmp_path / "timeline.png"), full_page=True)
        engine.dispose()
    updates = [BytesParser(policy=policy.default).parsebytes(e.content) for e in received[1:]]
    assert sorted(e.rcpt_tos[0] for e in received[1:]) == ["reader0@example.org", "reader1@example.org"]
    for message in updates:
        assert message["Subject"] == "We delivered 2 signatures"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Unsubscribe"].startswith(f"<{server.url}/unsubscribe?t=")
