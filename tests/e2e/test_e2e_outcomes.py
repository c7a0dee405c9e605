"""Real-browser outcome flow: an organizer records the target's response and a win; the public page shows the
victory banner and the response, the home page lists the victory, and the wall pages its comments."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import select

from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.core.models import Campaign, TargetResponse, utcnow
from campaigns.signatures import moderation
from campaigns.signatures.signing import sign
from tests.support.browser import E2E, browser_page, log_in
from tests.support.factories import PASSWORD, make_campaign, make_user, signer
from tests.support.servers import running_app

pytestmark = E2E


def _seed(engine) -> int:
    campaign = make_campaign(engine, slug="libraries", title="Fund the libraries")
    start = utcnow() - timedelta(hours=5)
    for i in range(12):
        run_write(
            engine,
            lambda s, i=i: sign(
                session=s,
                campaign_slug="libraries",
                signer=signer(
                    comment=f"Reason {i}",
                    email=f"s{i}@example.org",
                    full_name="Ada Lovelace" if i == 11 else "Grace Hopper",
                    region_code="US-CA",
                    comment_credit=i == 11,
                ),
                now=start + timedelta(minutes=i),
            ),
        )
    run_write(
        engine,
        lambda s: moderation.approve_comments(
            session=s, campaign_id=campaign.id, actor=CLI, matching=moderation.CommentFilter(campaign.id), expected=12
        ),
    )
    return campaign.id or 0


def test_a_response_and_a_win_reach_the_public_page_and_the_home_page(browser, request, tmp_path: Path):
    with running_app(f"sqlite:///{tmp_path / 'rally.db'}", tmp_path) as server:
        engine = server.engine()
        campaign_id = _seed(engine)
        make_user(engine, email="mona@example.org", roles=["organizer"])
        with browser_page(browser, request, tmp_path, viewport={"width": 1200, "height": 900}) as page:
            log_in(page, server.url, "mona@example.org", PASSWORD)
            page.goto(f"{server.url}/editor?edit=libraries")
            page.get_by_role("heading", name="Campaign editor").wait_for()
            page.get_by_role("tab", name="Outcome").click()
            page.get_by_role("textbox", name="Response (plain text, as the target wrote it)").fill(
                "The council will fund every branch library."
            )
            page.get_by_role("textbox", name="Link to the document (optional)").fill("https://city.example/answer.pdf")
            page.get_by_role("button", name="Record the response").click()
            page.get_by_text("Response saved").first.wait_for()
            page.get_by_role("tab", name="Outcome").click()
            page.get_by_test_id("stRadio").get_by_text("Won", exact=True).click()
            page.get_by_role("textbox", name="Note for the public page (plain text, optional)").fill(
                "The council voted 7 to 2."
            )
            page.get_by_role("button", name="Save the outcome").click()
            page.get_by_text("Outcome saved").first.wait_for()
            page.screenshot(path=str(tmp_path / "outcome-tab.png"), full_page=True)

            page.goto(f"{server.url}/?campaign=libraries")
            page.get_by_text("Victory! We won.").wait_for()
            expect(page.get_by_text("The council voted 7 to 2.")).to_be_visible()
            page.get_by_role("heading", name="The target's response").wait_for()
            expect(page.get_by_text("The council will fund every branch library.")).to_be_visible()
            link = page.get_by_role("link", name="Read the full response")
            expect(link).to_have_attribute("href", "https://city.example/answer.pdf")
            page.get_by_role("heading", name="Why people signed").wait_for()
            expect(page.get_by_text("Reason 11", exact=True)).to_be_visible()
            expect(page.get_by_text("Ada · California", exact=False)).to_be_visible()  # she agreed
            expect(page.get_by_text("Grace", exact=False)).to_have_count(0)  # they did not
            expect(page.get_by_text("Reason 1", exact=True)).to_have_count(0)  # on the next page
            page.screenshot(path=str(tmp_path / "public.png"), full_page=True)
            page.get_by_role("button", name="Older comments").click()
            page.get_by_text("Reason 1", exact=True).wait_for()
            expect(page.get_by_text("Reason 11", exact=True)).to_have_count(0)

            page.goto(f"{server.url}/")
            page.get_by_role("heading", name="Victories").wait_for()
            victory = page.get_by_role("link", name="How it was won")
            expect(victory).to_have_attribute("href", "?campaign=libraries")
            page.screenshot(path=str(tmp_path / "home.png"), full_page=True)
        with read_session(engine) as session:
            assert session.get(Campaign, campaign_id).outcome == "won"
            [response] = session.execute(select(TargetResponse)).scalars().all()
            assert response.attachment_url == "https://city.example/answer.pdf"
        engine.dispose()
