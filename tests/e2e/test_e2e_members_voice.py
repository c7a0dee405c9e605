"""Real browser, the whole two-way flow of issue 13 against `make run`'s app with mail to a real SMTP server
(aiosmtpd): a member's proposal becomes a campaign through five co-sponsors and moderation
(``propose_and_publish``), its organizer asks the signers a question, one signer answers right after confirming
their signature, the organizer sends an update that carries every signer's own answer link, a second signer in
another state answers through it, and the organizer watches the answers arrive by region."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser
from pathlib import Path

from playwright.sync_api import expect

from campaigns.core.db import read_session
from campaigns.core.models import DEFAULT_CONSENT_TEXT
from campaigns.questions import asking, results
from tests.e2e.test_e2e_proposals import DESKTOP, ORGANIZER, PHONE, propose_and_publish
from tests.support.browser import E2E, browser_page, log_in
from tests.support.factories import PASSWORD
from tests.support.mail import smtp_environment, wait_for_mail
from tests.support.servers import running_app

pytestmark = E2E
SIGNERS = (("Ada Lovelace", "ada@example.org", "94110", "A march"), ("Grace Hopper", "grace@example.org", "10001", ""))


def _message(envelope):
    return BytesParser(policy=policy.default).parsebytes(envelope.content)


def _mail_to(handler, address: str, subject: str, count: int):
    return next(
        e
        for e in wait_for_mail(handler, count, seconds=90)
        if e.rcpt_tos == [address] and subject in _message(e)["Subject"]
    )


def test_a_members_campaign_asks_its_signers_and_hears_back_by_region(browser, request, smtp_server, tmp_path: Path):
    controller, handler = smtp_server
    env = smtp_environment(controller, "Rally <rally@rally.example.org>")
    with running_app(f"sqlite:///{tmp_path / 'rally.db'}", tmp_path, env) as server:
        slug = propose_and_publish(browser, request, tmp_path, server, handler).slug
        with browser_page(browser, request, tmp_path, viewport=DESKTOP) as staff:
            log_in(staff, server.url, ORGANIZER, PASSWORD)
            staff.goto(f"{server.url}/editor?edit={slug}")
            staff.get_by_role("tab", name="Questions").click()
            staff.get_by_role("textbox", name="Question", exact=True).fill("Which action next?")
            staff.get_by_role("textbox", name="Options, one a line").fill("A march\nLetters\nA call-in day")
            staff.get_by_role("button", name="Ask the signers").click()
            staff.get_by_text("No answers yet").wait_for()

            for name, email, zip_code, answer_now in SIGNERS:  # each signs on a phone and confirms from the email
                seen = len(handler.envelopes)
                with browser_page(browser, request, tmp_path, viewport=PHONE) as signer:
                    signer.goto(f"{server.url}/?campaign={slug}")
                    signer.get_by_role("textbox", name="Your name").fill(name)
                    signer.get_by_role("textbox", name="Email", exact=True).fill(email)
                    signer.get_by_role("textbox", name="ZIP code (optional)").fill(zip_code)
                    signer.get_by_test_id("stCheckbox").get_by_text(DEFAULT_CONSENT_TEXT).click()
                    signer.get_by_role("button", name="Sign the campaign").click()
                    signer.get_by_text("One last step: check your inbox").wait_for()
                    expect(signer.get_by_role("heading", name="Which action next?")).to_have_count(0)  # not yet
                    [confirmation] = [e for e in wait_for_mail(handler, seen + 1) if e.rcpt_tos == [email]]
                    link = re.search(r"http://\S+/confirm\?token=[\w-]+", _message(confirmation).get_content())
                    signer.goto(link.group(0))
                    signer.get_by_text("Your email is confirmed: your signature counts").wait_for()
                    signer.get_by_role("heading", name="Which action next?").wait_for()  # asked on the thank-you
                    if answer_now:
                        signer.get_by_text(answer_now, exact=True).click()
                        signer.get_by_role("button", name="Send my answer").click()
                        signer.get_by_text(f"your answer “{answer_now}” counts").wait_for()
            staff.get_by_text("1 answer · updated at").wait_for(timeout=30_000)  # the tab refreshes itself

            staff.get_by_role("tab", name="Updates").click()
            staff.get_by_role("textbox", name="Update subject").fill("Tell us what comes next")
            staff.get_by_role("textbox", name="Update text (markdown)").fill("The council meets on **Monday**.")
            staff.get_by_role("button", name="Save draft").click()
            staff.get_by_text("Draft saved.").wait_for()
            expect(staff.get_by_role("button", name="Send to 2 signers")).to_be_disabled()  # a test first
            before_test = len(handler.envelopes)
            staff.get_by_role("button", name="Send a test to me").click()
            staff.get_by_text(f"A test is on its way to {ORGANIZER}").wait_for()
            _mail_to(handler, ORGANIZER, "Tell us what comes next", before_test + 1)
            # counted before the update is sent: the worker may deliver it before "Past updates" shows
            sent = len(handler.envelopes)
            staff.get_by_role("button", name="Send to 2 signers").click()
            staff.get_by_role("button", name="Yes, send it").click()
            staff.get_by_text("Past updates", exact=True).wait_for()
            update = _mail_to(handler, "grace@example.org", "Tell us what comes next", sent + 2)
            assert _mail_to(handler, "ada@example.org", "Tell us what comes next", sent + 2)
            body = _message(update).get_content()
            assert "The council meets on Monday." in body
            answer_link = re.search(r"http://\S+/answer\?t=[\w.-]+", body).group(0)
            with browser_page(browser, request, tmp_path, viewport=PHONE) as grace:
                grace.goto(answer_link)
                grace.get_by_role("heading", name="Which action next?").wait_for()
                grace.get_by_text("Letters", exact=True).click()
                grace.get_by_role("button", name="Send my answer").click()
                grace.get_by_text("your answer “Letters” counts").wait_for()

            staff.get_by_role("tab", name="Questions").click()
            staff.get_by_text("2 answers · updated at").wait_for(timeout=30_000)
            staff.get_by_text("Answers by region (2 regions)").click()
            expect(staff.get_by_test_id("stDataFrame").last).to_be_visible()
            staff.screenshot(path=str(tmp_path / "answers-by-region.png"), full_page=True)
        engine = server.engine()
        with read_session(engine) as session:
            campaign_questions = asking.list_questions(session=session, campaign_id=_campaign_id(session, slug))
            found = results.read_results(session=session, question_id=campaign_questions[0].id)
        engine.dispose()
    options = dict((label, oid) for oid, label in found.question.options)
    assert found.by_region == {"US-CA": {options["A march"]: 1}, "US-NY": {options["Letters"]: 1}}


def _campaign_id(session, slug: str) -> int:
    from campaigns.catalog import listing

    return listing.get_campaign_by_slug(session=session, slug=slug).id
