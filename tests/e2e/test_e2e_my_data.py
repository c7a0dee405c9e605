"""Real browser at phone width: ask for a link to your data, receive it on a real SMTP server, open it, withdraw."""

from __future__ import annotations

import re
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import select

from campaigns.core.db import read_session, run_write
from campaigns.core.models import Signature
from campaigns.signatures.counts import count_total
from campaigns.signatures.signing import sign
from tests.support.browser import E2E, browser_page
from tests.support.factories import make_campaign, signer
from tests.support.mail import smtp_environment
from tests.support.servers import running_app

pytestmark = E2E


def test_supporter_gets_an_emailed_link_opens_it_and_withdraws_on_a_phone(
    browser, request, smtp_server, tmp_path: Path
):
    controller, handler = smtp_server
    smtp_env = smtp_environment(controller, "Rally <data@rally.example.org>")
    with running_app(f"sqlite:///{tmp_path / 'rally.db'}", tmp_path, smtp_env) as server:
        engine = server.engine()
        campaign = make_campaign(engine, slug="river", title="Save the river")
        for person in (signer(full_name="Wangari Maathai", email="wangari@example.org"), signer()):
            run_write(engine, lambda s, p=person: sign(session=s, campaign_slug="river", signer=p))
        with browser_page(browser, request, tmp_path, viewport={"width": 390, "height": 844}) as page:
            page.goto(server.url)
            expect(page.get_by_role("link", name="Your data")).to_have_attribute("href", "/my-data")
            page.goto(f"{server.url}/my-data")  # (markdown links open in a new tab)
            page.get_by_role("textbox", name="Your email").fill("wangari@example.org")
            page.get_by_role("button", name="Email me a link").click()
            page.get_by_text("We sent a link to").wait_for()
            page.screenshot(path=str(tmp_path / "my-data-requested.png"), full_page=True)
            for _ in range(100):  # the message is on its way through the SMTP server
                if handler.envelopes:
                    break
                time.sleep(0.1)
            [envelope] = handler.envelopes
            assert envelope.rcpt_tos == ["wangari@example.org"]
            body = BytesParser(policy=policy.default).parsebytes(envelope.content).get_content()
            link = re.search(r"\S+/my-data\?token=[A-Za-z0-9_-]+", body).group(0)
            assert link.startswith(f"{server.url}/my-data?token=")  # built from RALLY_PUBLIC_URL
            page.goto(link)
            page.get_by_text("Campaigns you signed").wait_for()
            expect(page.get_by_text("Name: Wangari Maathai")).to_be_visible()
            page.wait_for_url(lambda url: "token=" not in url)  # the token leaves the address bar
            page.screenshot(path=str(tmp_path / "my-data-open.png"), full_page=True)
            page.get_by_role("button", name="Withdraw my signature").click()
            page.get_by_role("button", name="Yes, withdraw it").click()
            page.get_by_text("was withdrawn").wait_for()
            page.screenshot(path=str(tmp_path / "my-data-withdrawn.png"), full_page=True)
            page.goto(link)  # the same link again: refused, with the form to ask for a new one
            page.get_by_text("already been used").wait_for()
            expect(page.get_by_role("textbox", name="Your email")).to_be_visible()
        with read_session(engine) as session:
            status = session.execute(select(Signature.status).where(Signature.email == "wangari@example.org"))
            assert status.scalar_one() == "withdrawn"
            assert count_total(session=session, campaign_id=campaign.id) == 1
        engine.dispose()
