"""The signer's letter step under AppTest, with mail going to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest

from tests.support.apptest import open_app, point_app_at
from tests.support.factories import make_letter_campaign
from tests.support.mail import Mailbox, smtp_settings

pytestmark = pytest.mark.apptest
TEMPLATE = "Dear {{ target.title }} {{ target.name }},\n\nPlease act on {{ campaign.title }}.\n\n{{ signer.full_name }}"


@pytest.fixture
def signed(engine, default_settings, smtp_server):
    controller, handler = smtp_server
    point_app_at(engine, default_settings, **smtp_settings(controller, "letters@rally.example.org"))
    make_letter_campaign(
        engine,
        slug="letters",
        title="Fund the libraries",
        template=TEMPLATE,
        target={"region_code": "US-CA", "name": "Gavin Ortiz", "email": "gavin@ca.example.gov"},
    )
    at = open_app(campaign="letters")
    next(w for w in at.text_input if w.label == "Your name").set_value("Rosa Parks")
    next(w for w in at.text_input if w.label == "Email").set_value("rosa@example.org")
    at.selectbox[0].set_value("US-CA")
    at = next(b for b in at.button if b.label == "Sign the campaign").click().run()
    return at, Mailbox(engine, handler)


def test_the_signer_sees_a_letter_to_their_own_senator(signed):
    at, _ = signed
    assert not at.exception
    letter = next(w for w in at.text_area if w.label == "Your letter")
    assert letter.value.startswith("Dear Senator Gavin Ortiz,") and letter.value.endswith("Rosa Parks")
    assert next(w for w in at.text_input if w.label == "Subject").value == "About Fund the libraries"


def test_the_edited_letter_is_what_reaches_the_target(signed):
    at, handler = signed
    next(w for w in at.text_area if w.label == "Your letter").set_value("Dear Senator,\n\nIn my own words: act now.")
    at = next(b for b in at.button if b.label.startswith("Send it to Gavin Ortiz")).click().run()
    assert not at.exception
    assert any("Your letter to Gavin Ortiz is on its way by email" in s.value for s in at.success)
    [envelope] = handler
    message = BytesParser(policy=policy.default).parsebytes(envelope.content)
    assert message["To"] == "Senator Gavin Ortiz <gavin@ca.example.gov>"
    assert message["Reply-To"] == "Rosa Parks <rosa@example.org>"
    assert message.get_content().replace("\r\n", "\n").strip() == "Dear Senator,\n\nIn my own words: act now."
    assert not [b for b in at.button if b.label.startswith("Send it to Gavin Ortiz")]  # not offered twice
    assert len(handler) == 1


def test_an_empty_letter_gets_a_clear_message_and_nothing_is_sent(signed):
    at, handler = signed
    next(w for w in at.text_area if w.label == "Your letter").set_value("   ")
    at = next(b for b in at.button if b.label.startswith("Send it to Gavin Ortiz")).click().run()
    assert any("The letter is empty" in e.value for e in at.error)
    assert handler == []


def test_a_repeat_sign_on_never_sees_or_sends_the_earlier_signers_letter(signed, engine):
    """Privacy regression: signing again with someone's address shows nothing stored about their signature."""
    first, handler = signed
    assert any(w.label == "Your letter" for w in first.text_area)  # the real signer got their letter
    at = open_app(campaign="letters")  # another browser, another person
    next(w for w in at.text_input if w.label == "Your name").set_value("Mallory Mask")
    next(w for w in at.text_input if w.label == "Email").set_value("Rosa@Example.org")
    at.selectbox[0].set_value("US-NY")
    at = next(b for b in at.button if b.label == "Sign the campaign").click().run()
    assert not at.exception
    shown = " ".join(
        [m.value for m in at.markdown]
        + [m.value for m in at.success]
        + [m.value for m in at.caption]
        + [w.value for w in at.text_area]
        + [w.value or "" for w in at.text_input]
        + [b.label for b in at.button]
    )
    assert "Mallory Mask" in shown and "New York" in shown  # what this visitor typed
    assert "Rosa" not in shown and "California" not in shown and "Gavin" not in shown
    assert not [w for w in at.text_area if w.label == "Your letter"]
    assert not [b for b in at.button if b.label.startswith("Send it to")]
    assert handler == []


def test_open_in_my_email_app_is_a_mailto_link_that_records_the_open(signed):
    """AppTest cannot click a link button (tests/e2e/test_e2e_letters.py does, in Chromium): here, the link carries
    the letter and asks for the rerun whose callback records the open."""
    at, _ = signed
    [link] = [b for b in at.link_button if b.value == "Open in my email app"]
    assert link.proto.url.startswith("mailto:gavin@ca.example.gov?subject=About%20Fund%20the%20libraries&body=Dear")
    assert not link.proto.ignore_rerun and link.key  # a widget: its click reruns the page and runs the callback
