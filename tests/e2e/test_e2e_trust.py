"""Real-browser trust flows against `make run` with mail to a real SMTP server (aiosmtpd):

- sign on a phone, open the confirmation email from the SMTP server, confirm, see the count rise, write the letter;
- privacy: someone signing with an address that signed before sees nothing of that signature, and gets no receipt.
"""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser
from pathlib import Path

import httpx
from playwright.sync_api import expect
from sqlalchemy import select

from campaigns.core.db import read_session
from campaigns.core.models import Signature
from tests.support.browser import E2E, browser_page
from tests.support.factories import make_letter_campaign
from tests.support.mail import smtp_environment, wait_for_mail
from tests.support.servers import running_app

pytestmark = E2E
TEMPLATE = "Dear {{ target.title }} {{ target.name }},\n\nI back {{ campaign.title }}.\n\n{{ signer.full_name }}"
PHONE = {"width": 390, "height": 844}


def _content(envelope) -> str:
    return BytesParser(policy=policy.default).parsebytes(envelope.content).get_content()


def _river(engine, *, confirm: bool = False) -> None:
    make_letter_campaign(
        engine,
        slug="river",
        title="Save the river",
        template=TEMPLATE,
        target={"region_code": "US-NY", "name": "Lena Park", "email": "lena@ny.example.gov"},
        require_confirmation=confirm,
    )


def _sign(page, url: str, name: str, email: str, zip_code: str) -> None:
    page.goto(url)
    page.get_by_role("textbox", name="Your name").fill(name)
    page.get_by_role("textbox", name="Email", exact=True).fill(email)
    page.get_by_role("textbox", name="ZIP code (optional)").fill(zip_code)
    page.get_by_role("textbox", name="Why are you signing? (optional)").fill("My river, my reasons")
    page.get_by_role("button", name="Sign the campaign").click()


def test_sign_confirm_from_the_email_see_the_count_rise_and_write_the_letter(
    browser, request, smtp_server, tmp_path: Path
):
    controller, handler = smtp_server
    env = smtp_environment(controller, "Rally <rally@rally.example.org>")
    with running_app(f"sqlite:///{tmp_path / 'rally.db'}", tmp_path, env) as server:
        engine = server.engine()
        _river(engine, confirm=True)
        with browser_page(browser, request, tmp_path, viewport=PHONE) as page:
            _sign(page, f"{server.url}/?campaign=river", "Wangari Maathai", "wangari@example.org", "10001")
            page.get_by_text("One last step: check your inbox").wait_for()
            expect(page.get_by_role("textbox", name="Your letter")).to_have_count(0)
            receipt = page.get_by_role("textbox", name="Your receipt link")
            expect(receipt).to_have_count(1)
            expect(page.get_by_role("button", name="Copy receipt link")).to_have_count(1)
            page.screenshot(path=str(tmp_path / "check-inbox.png"), full_page=True)
            [confirmation] = wait_for_mail(handler, 1)
            assert confirmation.rcpt_tos == ["wangari@example.org"]
            link = re.search(r"http://\S+/confirm\?token=[\w-]+", _content(confirmation)).group(0)
            scanner = httpx.get(link, follow_redirects=True, timeout=10)  # a mail scanner pre-opening the link
            assert scanner.status_code == 200
            with read_session(engine) as session:
                assert session.execute(select(Signature.status)).scalar_one() == "pending"  # it confirmed nothing
            page.goto(link)
            page.get_by_text("Your email is confirmed: your signature counts").wait_for()
            assert "token=" not in page.url  # it left the address bar
            letter = page.get_by_role("textbox", name="Your letter")
            expect(letter).to_have_value("Dear Senator Lena Park,\n\nI back Save the river.\n\nWangari Maathai")
            letter.fill("Dear Senator Park,\n\nConfirmed and counted: please act.\n\nWangari")
            letter.press("Tab")
            page.get_by_role("button", name="Send it to Lena Park by email").click()
            page.get_by_text("Your letter to Lena Park is on its way by email").wait_for()
            page.screenshot(path=str(tmp_path / "confirmed.png"), full_page=True)
            page.goto(f"{server.url}/?campaign=river")
            page.get_by_text("1 of 100 signatures", exact=False).first.wait_for(timeout=30_000)
        envelopes = wait_for_mail(handler, 2)
        letter_mail = next(e for e in envelopes if e.rcpt_tos == ["lena@ny.example.gov"])
        assert "Confirmed and counted: please act." in _content(letter_mail)
        engine.dispose()


def test_a_repeat_sign_on_in_another_browser_sees_nothing_of_the_first_signature(
    browser, request, smtp_server, tmp_path: Path
):
    controller, handler = smtp_server
    env = smtp_environment(controller, "Rally <rally@rally.example.org>")
    with running_app(f"sqlite:///{tmp_path / 'rally.db'}", tmp_path, env) as server:
        engine = server.engine()
        _river(engine)
        url = f"{server.url}/?campaign=river"
        with browser_page(browser, request, tmp_path, viewport=PHONE) as first:
            _sign(first, url, "Wangari Maathai", "wangari@example.org", "10001")
            expect(first.get_by_role("textbox", name="Your letter")).to_contain_text("Wangari Maathai")
        with browser_page(browser, request, tmp_path, viewport={"width": 1280, "height": 900}) as second:
            _sign(second, url, "Mallory Mask", "Wangari@Example.org", "90210")
            second.get_by_text("Thank you, Mallory Mask").wait_for()
            body = second.locator("body").inner_text()
            second.screenshot(path=str(tmp_path / "repeat.png"), full_page=True)
        assert "Wangari" not in body and "10001" not in body and "New York" not in body
        assert "My river, my reasons" not in body and "Lena Park" not in body
        assert "receipt=" not in body
        assert "California" in body  # what this visitor typed (ZIP 90210)
        engine.dispose()
    assert handler.envelopes == []  # no letter went out in anyone's name
