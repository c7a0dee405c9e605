"""Receipts and email confirmation under AppTest, against a real database and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import html
import re
from email import policy
from email.parser import BytesParser

import pytest
from streamlit.testing.v1 import AppTest

from campaigns.core.db import read_session
from campaigns.signatures.counts import count_total
from tests.support.apptest import open_app, point_app_at
from tests.support.factories import make_campaign, make_letter_campaign
from tests.support.mail import Mailbox, smtp_settings

pytestmark = pytest.mark.apptest
PUBLIC = "https://rally.example.org"
CONFIRM = "import campaigns.ui.confirm as page\npage.render()\n"
MY_DATA = "import campaigns.ui.my_data as page\npage.render()\n"


def sign_on(slug: str, *, name="Rosa Parks", email="rosa@example.org", region="US-AL") -> AppTest:
    at = open_app(campaign=slug)
    next(w for w in at.text_input if w.label == "Your name").set_value(name)
    next(w for w in at.text_input if w.label == "Email").set_value(email)
    at.selectbox[0].set_value(region)
    return next(b for b in at.button if b.label == "Sign the campaign").click().run()


def shown(at) -> str:
    return "\n".join(
        [
            str(el.value)
            for el in [*at.markdown, *at.success, *at.caption, *at.info, *at.error, *at.code, *at.text, *at.title]
        ]
        + [h.proto.body for h in at.get("html")]
    )


def receipts_in(at) -> list[str]:
    """The receipt links the thank-you shows (in its copy box's field)."""
    found = re.findall(r'value="([^"]*/my-data\?receipt=[^"]*)"', "\n".join(h.proto.body for h in at.get("html")))
    return [html.unescape(url) for url in found]


def total(engine, campaign_id) -> int:
    with read_session(engine) as session:
        return count_total(session=session, campaign_id=campaign_id)


@pytest.fixture
def site(engine, default_settings, smtp_server):
    controller, handler = smtp_server
    point_app_at(
        engine, default_settings, public_url=PUBLIC, **smtp_settings(controller, "Rally <r@rally.example.org>")
    )
    return engine, Mailbox(engine, handler)


def test_a_new_signature_gets_a_receipt_and_a_repeat_the_same_screen_without_one(site):
    engine, _ = site
    make_campaign(engine, slug="libraries")
    first = sign_on("libraries")
    assert not first.exception
    receipts = receipts_in(first)
    assert len(receipts) == 1 and receipts[0].startswith(f"{PUBLIC}/my-data?receipt=")
    again = sign_on("libraries", name="Mallory Mask", email="Rosa@Example.org", region="US-NY")
    assert not again.exception and "Thank you, Mallory Mask" in again.success[0].value
    assert not receipts_in(again)
    assert "Rosa" not in shown(again)


def test_the_receipt_opens_that_signature_alone_and_can_erase_it(site):
    engine, _ = site
    campaign = make_campaign(engine, slug="libraries")
    make_campaign(engine, slug="river", title="Save the river")
    [receipt] = receipts_in(sign_on("libraries"))
    sign_on("river")  # the same person signs another campaign: the receipt does not show it
    at = AppTest.from_string(MY_DATA, default_timeout=30)
    at.query_params["receipt"] = receipt.split("receipt=")[1]
    at = at.run()
    assert not at.exception and "receipt" not in at.query_params  # out of the address bar
    text = shown(at)
    assert "Fund the libraries" in text and "Save the river" not in text and "One signature" in text
    at.checkbox[-1].check()
    at = next(b for b in at.run().button if b.label == "Withdraw and erase").click().run()
    assert not at.exception and total(engine, campaign.id) == 0
    again = AppTest.from_string(MY_DATA, default_timeout=30)
    again.query_params["receipt"] = receipt.split("receipt=")[1]
    assert any("doesn't work" in e.value for e in again.run().error)


def test_confirming_by_email_then_writing_the_letter(site):
    engine, mailbox = site
    target = {"region_code": "US-AL", "name": "Lena Park", "email": "l@al.gov"}
    campaign = make_letter_campaign(
        engine, slug="write", title="Save the river", target=target, require_confirmation=True
    )
    at = sign_on("write")
    assert not at.exception
    assert "check your inbox" in at.success[0].value
    assert not [w for w in at.text_area if w.label == "Your letter"]  # the letter comes after confirming
    assert total(engine, campaign.id) == 0
    [envelope] = mailbox
    body = BytesParser(policy=policy.default).parsebytes(envelope.content).get_content()
    token = re.search(r"/confirm\?token=([\w-]+)", body).group(1)
    page = AppTest.from_string(CONFIRM, default_timeout=30)
    page.query_params["token"] = token
    page = page.run()
    assert not page.exception and "token" not in page.query_params
    assert any("Your email is confirmed" in s.value for s in page.success)
    assert total(engine, campaign.id) == 1
    letter = next(w for w in page.text_area if w.label == "Your letter")
    assert "Rosa Parks" in letter.value
    # the same link again, in another tab: used once, says so
    again = AppTest.from_string(CONFIRM, default_timeout=30)
    again.query_params["token"] = token
    again = again.run()
    assert any("confirmed already" in i.value for i in again.info) and total(engine, campaign.id) == 1


def test_the_confirmation_page_without_a_link_says_where_to_find_it(site):
    at = AppTest.from_string(CONFIRM, default_timeout=30).run()
    assert not at.exception and any("Open the link in the email" in i.value for i in at.info)
