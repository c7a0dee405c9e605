"""Real browser: an organizer asks the signers a question, two signers from different regions answer through their
own emailed links, and the organizer's live results show both regions."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from campaigns.core.db import read_session
from campaigns.core.settings import override_settings
from campaigns.questions import asking, links, results
from tests.support.browser import E2E, browser_page, log_in
from tests.support.factories import PASSWORD, make_campaign, make_user, sign_from
from tests.support.servers import running_app

pytestmark = E2E
SECRET = "e2e-questions-secret-key-of-some-length"


def test_an_organizer_asks_and_watches_two_regions_answer(browser, request, tmp_path: Path):
    with running_app(f"sqlite:///{tmp_path / 'rally.db'}", tmp_path, {"RALLY_SECRET_KEY": SECRET}) as server:
        engine = server.engine()
        campaign = make_campaign(engine, slug="libraries")
        make_user(engine, email="mona@example.org", roles=["organizer"])
        california = sign_from(engine, "libraries", region_code="US-CA")
        new_york = sign_from(engine, "libraries", region_code="US-NY")
        with browser_page(browser, request, tmp_path) as page:
            log_in(page, server.url, "mona@example.org", PASSWORD)
            page.goto(f"{server.url}/editor?edit=libraries")
            page.get_by_role("tab", name="Questions").click()
            page.get_by_role("textbox", name="Question", exact=True).fill("Which action next?")
            page.get_by_role("textbox", name="Options, one a line").fill("A march\nLetters\nA call-in day")
            page.get_by_role("button", name="Ask the signers").click()
            page.get_by_text("No answers yet").wait_for()
            with read_session(engine) as session:
                [question] = asking.list_questions(session=session, campaign_id=campaign.id)
            with override_settings(secret_key=SECRET):
                ca_link = links.answer_link(
                    question_id=question.id, signature_id=california.signature_id, base=server.url
                )
                ny_link = links.answer_link(
                    question_id=question.id, signature_id=new_york.signature_id, base=server.url
                )
            with browser_page(browser, request, tmp_path) as signer_page:
                for link, choice in ((ca_link, "A march"), (ny_link, "Letters")):
                    signer_page.goto(link)
                    signer_page.get_by_role("heading", name="Which action next?").wait_for()
                    signer_page.get_by_text(choice, exact=True).click()
                    signer_page.get_by_role("button", name="Send my answer").click()
                    signer_page.get_by_text(f"your answer “{choice}” counts").wait_for()
                    assert "t=" not in signer_page.url  # the link left the address bar
            page.get_by_text("2 answers · updated at").wait_for(timeout=30_000)  # the tab refreshes itself
            page.get_by_text("Answers by region (2 regions)").click()
            table = page.get_by_test_id("stDataFrame").last
            expect(table).to_be_visible()
            page.screenshot(path=str(tmp_path / "results.png"), full_page=True)
        with read_session(engine) as session:
            found = results.read_results(session=session, question_id=question.id)
        assert set(found.by_region) == {"US-CA", "US-NY"}
