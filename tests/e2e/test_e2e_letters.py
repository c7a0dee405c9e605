"""Real-browser letter flow: a supporter signs on a phone, edits the letter, sends it, downloads the PDF, and
opens it in their own mail app (recorded as opened, never as sent)."""

from __future__ import annotations

import re
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path

from playwright.sync_api import expect
from pypdf import PdfReader

from campaigns.letters.templates import date_text
from tests.support.browser import E2E, browser_page
from tests.support.factories import make_letter_campaign
from tests.support.mail import smtp_environment, wait_for_mail
from tests.support.servers import running_app

pytestmark = E2E
TEMPLATE = "Dear {{ target.title }} {{ target.name }},\n\nI back {{ campaign.title }}.\n\n{{ signer.full_name }}"


def test_supporter_edits_and_sends_the_letter_and_gets_a_pdf(browser, request, smtp_server, tmp_path: Path):
    controller, handler = smtp_server
    smtp_env = smtp_environment(controller, "Rally Letters <letters@rally.example.org>")
    with running_app(f"sqlite:///{tmp_path / 'rally.db'}", tmp_path, smtp_env) as server:
        engine = server.engine()
        make_letter_campaign(
            engine,
            slug="write-in",
            title="Save the river",
            template=TEMPLATE,
            target={
                "region_code": "US-NY",
                "name": "Lena Park",
                "email": "lena@ny.example.gov",
                "postal_address": "Legislative Office Building\nAlbany, NY 12210",
            },
        )
        with browser_page(
            browser, request, tmp_path, viewport={"width": 390, "height": 844}, accept_downloads=True
        ) as page:
            page.goto(f"{server.url}/?campaign=write-in")
            page.get_by_role("textbox", name="Your name").fill("Wangari Maathai")
            page.get_by_role("textbox", name="Email", exact=True).fill("wangari@example.org")
            page.get_by_role("textbox", name="ZIP code (optional)").fill("10001")
            page.get_by_role("button", name="Sign the campaign").click()
            letter = page.get_by_role("textbox", name="Your letter")
            expect(letter).to_have_value("Dear Senator Lena Park,\n\nI back Save the river.\n\nWangari Maathai")
            letter.fill("Dear Senator Park,\n\nThe river is our commons. Please act.\n\nWangari")
            letter.press("Tab")
            page.get_by_role("button", name="Send it to Lena Park by email").click()
            page.get_by_text("Your letter to Lena Park is on its way by email").wait_for()
            with page.expect_download(
                timeout=60_000
            ) as download:  # the PDF is built on the click: slow on a loaded CI machine
                page.get_by_role("button", name="Download PDF").click()
            assert download.value.suggested_filename == "letter-to-lena-park.pdf"  # who it is for, not an id
            pdf_path = tmp_path / "letter.pdf"
            download.value.save_as(pdf_path)
            page.screenshot(path=str(tmp_path / "letter-sent.png"), full_page=True)
            wait_for_mail(handler, 1)  # the app's own mail worker sends it from the outbox
        engine.dispose()
    [envelope] = handler.envelopes
    message = BytesParser(policy=policy.default).parsebytes(envelope.content)
    assert (
        envelope.rcpt_tos == ["lena@ny.example.gov"] and message["Reply-To"] == "Wangari Maathai <wangari@example.org>"
    )
    assert message.get_content().replace("\r\n", "\n").strip() == (
        "Dear Senator Park,\n\nThe river is our commons. Please act.\n\nWangari"
    )
    [printed] = PdfReader(pdf_path).pages  # ready to mail: the target's address block, the date once, signed once
    text = printed.extract_text()
    assert "Lena Park\nSenator\nLegislative Office Building\nAlbany, NY 12210" in text
    assert text.count(date_text()) == 1
    assert text.split("Please act.")[1].strip().startswith("Wangari\n")  # her own sign-off, and no second one
    assert text.count("Wangari Maathai") == 1  # only the sender block at the top


def test_opening_the_letter_in_the_mail_app_is_recorded_once_and_never_counted_as_sent(
    browser, request, tmp_path: Path
):
    from sqlalchemy import select

    from campaigns.core.db import read_session
    from campaigns.core.models import Outreach
    from campaigns.letters import outreach

    with running_app(f"sqlite:///{tmp_path / 'rally.db'}", tmp_path) as server:
        engine = server.engine()
        campaign = make_letter_campaign(
            engine,
            slug="write-in",
            title="Save the river",
            template=TEMPLATE,
            target={"region_code": "US-NY", "name": "Lena Park", "email": "lena@ny.example.gov"},
        )
        with browser_page(browser, request, tmp_path, viewport={"width": 390, "height": 844}) as page:
            page.goto(f"{server.url}/?campaign=write-in")
            page.get_by_role("textbox", name="Your name").fill("Wangari Maathai")
            page.get_by_role("textbox", name="Email", exact=True).fill("wangari@example.org")
            page.get_by_role("textbox", name="ZIP code (optional)").fill("10001")
            page.get_by_role("button", name="Sign the campaign").click()
            letter = page.get_by_role("textbox", name="Your letter")
            letter.fill("Dear Senator Park,\n\nIn my own words.\n\nWangari")
            letter.press("Tab")
            link = page.get_by_role("link", name="Open in my email app")
            expect(link).to_have_attribute(
                "href", re.compile(r"^mailto:lena@ny\.example\.gov\?.*In%20my%20own%20words")
            )
            page.route("mailto:*", lambda route: route.abort())  # no mail app in a test browser
            for _ in range(2):  # a second tap records nothing more
                link.click()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                with read_session(engine) as session:
                    rows = session.execute(select(Outreach.channel, Outreach.status)).all()
                if rows:
                    break
                time.sleep(0.2)
            page.wait_for_timeout(1000)
        with read_session(engine) as session:
            rows = session.execute(select(Outreach.channel)).scalars().all()
            [tally] = outreach.tally_letters(session=session, campaign_id=campaign.id)
        engine.dispose()
    assert rows == ["mailto"]
    assert (tally.sent, tally.opened, tally.downloaded) == (0, 1, 0)
