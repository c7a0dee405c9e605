"""The public side's rough edges under AppTest: text over a length limit is refused with its length and kept;
the letter step and the thank-you say what really happens to mail on this Rally."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from campaigns.core.db import read_session
from campaigns.signatures.counts import count_total
from tests.support.apptest import open_app, point_app_at
from tests.support.factories import make_campaign, make_letter_campaign

pytestmark = pytest.mark.apptest


def by_label(widgets, label):
    return next(w for w in widgets if w.label == label)


def test_a_name_and_comment_over_their_limits_are_refused_with_their_length_and_kept(app, engine):
    campaign = make_campaign(engine, slug="limits")
    at = app(campaign="limits")
    name, comment = "N" * 201, "c" * 1001
    by_label(at.text_input, "Your name").set_value(name)
    by_label(at.text_input, "Email").set_value("rosa@example.org")
    by_label(at.text_area, "Why are you signing? (optional)").set_value(comment)
    at.selectbox[0].set_value("US-AL")
    at = by_label(at.button, "Sign the campaign").click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert "Please shorten your name to at most 200 characters (it has 201)." in errors
    assert "Please shorten your comment to at most 1,000 characters (it has 1,001)." in errors
    assert "Please fix the highlighted fields, then press the button again." in errors
    assert by_label(at.text_input, "Your name").value == name  # what was typed stays, to be shortened
    assert by_label(at.text_area, "Why are you signing? (optional)").value == comment
    assert any("Up to 1,000 characters." in c.value for c in at.caption)  # the limit is said before too
    with read_session(engine) as session:
        assert count_total(session=session, campaign_id=campaign.id) == 0


def test_an_email_over_its_limit_is_refused_with_its_length(app, engine):
    make_campaign(engine, slug="limits")
    at = app(campaign="limits")
    address = "a" * 250 + "@example.org"
    by_label(at.text_input, "Your name").set_value("Rosa Parks")
    by_label(at.text_input, "Email").set_value(address)
    at.selectbox[0].set_value("US-AL")
    at = by_label(at.button, "Sign the campaign").click().run()
    assert f"An email address has at most 254 characters; this one has {len(address)}. Please check it." in [
        e.value for e in at.error
    ]
    assert by_label(at.text_input, "Email").value == address


def test_my_data_refuses_an_over_long_address_and_keeps_it(engine, default_settings):
    point_app_at(engine, default_settings)
    at = AppTest.from_string("import campaigns.ui.my_data as page\npage.render()\n", default_timeout=30).run()
    address = "b" * 300 + "@example.org"
    by_label(at.text_input, "Your email").set_value(address)
    at = by_label(at.button, "Email me a link").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        f"An email address has at most 254 characters; this one has {len(address)}. Please check it."
    ]
    assert by_label(at.text_input, "Your email").value == address


MAIL_MODES = {
    "smtp": ({"smtp_host": "127.0.0.1", "mail_from": "letters@rally.example.org"}, "Rally emails it exactly"),
    "outbox": ({}, "its *Send* button only writes the letter to a test folder on the server"),
    "off": ({"mail_outbox": ""}, "this Rally sends no email"),
}


@pytest.mark.parametrize("mode", list(MAIL_MODES))
def test_the_letter_step_says_what_really_happens_to_the_letter(engine, default_settings, mode):
    changes, says = MAIL_MODES[mode]
    point_app_at(engine, default_settings, **changes)
    make_letter_campaign(
        engine, slug="letters", title="Fund the libraries", target={"region_code": "US-CA", "name": "Gavin Ortiz"}
    )
    at = open_app(campaign="letters")
    by_label(at.text_input, "Your name").set_value("Rosa Parks")
    by_label(at.text_input, "Email").set_value("rosa@example.org")
    at.selectbox[0].set_value("US-CA")
    at = by_label(at.button, "Sign the campaign").click().run()
    assert not at.exception
    intro = next(c.value for c in at.caption if c.value.startswith("We filled in a letter for you"))
    assert says in intro
    assert "goes out" not in intro
    others = [text for name, (_, text) in MAIL_MODES.items() if name != mode]
    assert not any(text in intro for text in others)


def test_the_confirmation_thank_you_says_the_email_went_to_a_test_folder_when_mail_is_not_set_up(
    engine, default_settings
):
    point_app_at(engine, default_settings)  # the tests' default: the development outbox folder
    make_campaign(engine, slug="confirm-me", require_confirmation=True)
    at = open_app(campaign="confirm-me")
    by_label(at.text_input, "Your name").set_value("Rosa Parks")
    by_label(at.text_input, "Email").set_value("rosa@example.org")
    at.selectbox[0].set_value("US-AL")
    at = by_label(at.button, "Sign the campaign").click().run()
    assert not at.exception
    assert "check your inbox" in at.success[0].value
    assert any("written to a test folder on the server instead of being sent" in c.value for c in at.caption)
