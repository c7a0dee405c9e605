"""Real-browser proposal flow against `make run`, with mail to a real SMTP server (aiosmtpd): a member proposes a
campaign and confirms from the email, five people co-sponsor it from the share link (five emails, five
confirmations), an organizer asks for a change, the proposer edits it, the organizer publishes it, and the
campaign page names the proposer and the co-sponsors who agreed.

``propose_and_publish`` leaves a published campaign (its link name returned) and a logged-in organizer's page, for
later flows (a question to its signers) to continue from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect
from sqlalchemy import select

from campaigns.core.db import read_session
from campaigns.core.models import Proposal
from tests.support.accessibility import violations
from tests.support.browser import E2E, browser_page, log_in
from tests.support.factories import PASSWORD, make_user
from tests.support.mail import CollectMail, smtp_environment, wait_for_mail
from tests.support.servers import LiveServer, running_app

pytestmark = E2E
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
ORGANIZER = "organizer@example.org"
PROPOSER = "maria@example.org"
HOSTILE = "Safe streets for <b>everyone</b> **now** [click](https://evil.example)"


@dataclass(frozen=True)
class Published:
    slug: str  # the campaign the proposal became
    organizer_email: str
    proposer_link: str


def _content(envelope: Any) -> str:
    return BytesParser(policy=policy.default).parsebytes(envelope.content).get_content()


def _subject(envelope: Any) -> str:
    return str(BytesParser(policy=policy.default).parsebytes(envelope.content)["Subject"])


def _link(envelope: Any, path: str) -> str:
    match = re.search(rf"http://\S+/{path}\?token=[\w-]+", _content(envelope))
    assert match, _content(envelope)
    return match.group(0)


def _mail_for(handler: CollectMail, address: str, count: int) -> Any:
    """The newest message to ``address`` once ``count`` messages in all have arrived."""
    return [e for e in wait_for_mail(handler, count) if e.rcpt_tos == [address]][-1]


def _statuses(server: LiveServer) -> list[str]:
    engine = server.engine()
    try:
        with read_session(engine) as session:
            return list(session.execute(select(Proposal.status)).scalars())
    finally:
        engine.dispose()


def propose_and_publish(
    browser: Any, request: Any, tmp_path: Path, server: LiveServer, handler: CollectMail
) -> Published:
    engine = server.engine()
    make_user(engine, email=ORGANIZER, roles=["organizer"])
    engine.dispose()
    with browser_page(browser, request, tmp_path, viewport=PHONE) as page:
        page.goto(f"{server.url}/")
        expect(page.get_by_role("link", name="Propose a campaign")).to_have_attribute("href", "/propose")
        page.goto(f"{server.url}/propose")
        page.get_by_role("heading", name="Propose a campaign").wait_for()
        found = {"propose": violations(page)}
        page.get_by_role("textbox", name="Title").fill("Bike lanes on Main Street")
        page.get_by_role("textbox", name="Purpose: why this matters").fill(HOSTILE)
        page.get_by_role("textbox", name="What it asks for").fill("Build protected bike lanes.")
        page.get_by_role("textbox", name="Of whom: who can make it happen").fill("The city council")
        page.get_by_role("textbox", name="Your name").fill("Maria Lopez")
        page.get_by_role("textbox", name="Email", exact=True).fill(PROPOSER)
        page.get_by_test_id("stCheckbox").get_by_text("Name me on the campaign page").click()
        page.get_by_role("button", name="Propose the campaign").click()
        page.get_by_text("One last step: check your inbox").wait_for()

        own = _link(_mail_for(handler, PROPOSER, 1), "my-proposal")
        assert httpx.get(own, follow_redirects=True, timeout=10).status_code == 200  # a mail scanner pre-opening it
        assert _statuses(server) == ["unconfirmed"]  # it confirmed nothing
        page.goto(own)
        page.get_by_text("gathering co-sponsors").wait_for()
        assert "token=" not in page.url  # it left the address bar
        expect(page.get_by_test_id("stProgress")).to_contain_text("0 of 5 co-sponsors")
        page.get_by_text(HOSTILE, exact=True).wait_for()  # shown as typed: no bold, no link
        assert page.locator("a[href='https://evil.example']").count() == 0
        found["your proposal"] = violations(page)
        share = page.get_by_role("textbox", name="Co-sponsor link").input_value()
        assert "/cosponsor?p=" in share

        for i in range(5):
            page.goto(share)
            page.get_by_role("heading", name="Bike lanes on Main Street").wait_for()
            if i == 0:
                found["co-sponsor"] = violations(page)
            page.get_by_role("textbox", name="Your name").fill(f"Sponsor {i}")
            page.get_by_role("textbox", name="Email", exact=True).fill(f"sponsor{i}@example.org")
            if i % 2 == 0:  # 0, 2 and 4 agree to be named
                page.get_by_test_id("stCheckbox").get_by_text("Name me on the campaign page").click()
            page.get_by_role("button", name="Co-sponsor this proposal").click()
            page.get_by_text("Check your inbox").wait_for()
            confirm = _link(_mail_for(handler, f"sponsor{i}@example.org", 2 + i), "cosponsor-confirm")
            httpx.get(confirm, follow_redirects=True, timeout=10)  # a mail scanner: counts nothing
            page.goto(confirm)
            page.get_by_text(f"{i + 1} of 5 co-sponsors").wait_for()
        page.get_by_text("It has all its co-sponsors").wait_for()
        in_review = _mail_for(handler, PROPOSER, 7)
        assert "in review" in _subject(in_review)

        with browser_page(browser, request, tmp_path, viewport=DESKTOP) as staff:
            log_in(staff, server.url, ORGANIZER, PASSWORD)
            staff.goto(f"{server.url}/proposals")
            staff.get_by_role("heading", name="Bike lanes on Main Street").wait_for()
            staff.get_by_text("5 of 5 co-sponsors", exact=False).wait_for()
            found["proposals queue"] = violations(staff)
            staff.get_by_role("tab", name="Ask for changes").click()
            staff.get_by_role("textbox", name="What should change?").fill("Please name the street section.")
            staff.get_by_role("button", name="Ask for changes").click()
            staff.get_by_text("Sent: the proposer was asked for changes.").wait_for()
            asked = _mail_for(handler, PROPOSER, 8)
            assert "Please name the street section." in _content(asked)

            page.goto(own)
            page.get_by_text("the organizers ask for changes").wait_for()
            page.get_by_text("Please name the street section.").wait_for()
            page.get_by_role("textbox", name="What it asks for").fill("Build protected bike lanes from 1st to 9th.")
            page.get_by_role("textbox", name="A note to the organizers (optional)").fill("Done: 1st to 9th.")
            page.get_by_role("button", name="Send the changes").click()
            page.get_by_text("with the organizers, in review").wait_for()

            staff.goto(f"{server.url}/proposals")
            staff.get_by_text("Done: 1st to 9th.").wait_for()
            staff.get_by_role("button", name="Publish as a campaign").click()
            staff.get_by_text("Published “Bike lanes on Main Street”: it is a campaign now.").wait_for()
            published = _mail_for(handler, PROPOSER, 14)  # the proposer's, and one to each co-sponsor
            slug = re.search(r"\?campaign=([a-z0-9-]+)", _content(published)).group(1)
            staff.screenshot(path=str(tmp_path / "queue.png"), full_page=True)

        page.goto(f"{server.url}/?campaign={slug}")
        page.get_by_role("heading", name="Bike lanes on Main Street").wait_for()
        page.get_by_text("Proposed by Maria Lopez, with Sponsor 0, Sponsor 2, Sponsor 4.").wait_for()
        expect(page.get_by_text("Sponsor 1")).to_have_count(0)
        page.get_by_text("What we ask: Build protected bike lanes from 1st to 9th.", exact=False).wait_for()
        page.screenshot(path=str(tmp_path / "campaign.png"), full_page=True)
    assert found == {name: [] for name in found}  # axe-core: no serious or critical violation
    return Published(slug=slug, organizer_email=ORGANIZER, proposer_link=own)


def test_a_members_proposal_becomes_a_published_campaign(browser, request, smtp_server, tmp_path: Path):
    controller, handler = smtp_server
    env = smtp_environment(controller, "Rally <rally@rally.example.org>")
    with running_app(f"sqlite:///{tmp_path / 'rally.db'}", tmp_path, env) as server:
        published = propose_and_publish(browser, request, tmp_path, server, handler)
        assert published.slug == "bike-lanes-on-main-street"
