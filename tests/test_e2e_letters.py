"""Real-browser letter flow: a supporter signs on a phone, edits the letter, sends it, and downloads the PDF."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from pathlib import Path

from playwright.sync_api import expect

from tests.conftest import E2E, browser_page, running_app, smtp_environment, wait_for_mail
from tests.factories import make_letter_campaign

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
            target={"region_code": "US-NY", "name": "Lena Park", "email": "lena@ny.example.gov"},
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
            with page.expect_download() as download:
                page.get_by_role("button", name="Download PDF").click()
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
    assert pdf_path.read_bytes().startswith(b"%PDF")
