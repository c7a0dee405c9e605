"""Page tests with Streamlit's AppTest, against a real database (SQLite file and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from campaigns.core.db import read_session
from campaigns.core.models import Signature
from campaigns.signatures.counts import count_total
from tests.support.factories import make_campaign, sign_from

pytestmark = pytest.mark.apptest


def by_label(widgets, label):
    return next(w for w in widgets if w.label.startswith(label))


def markdown_text(at) -> str:
    return "\n".join(el.value for el in [*at.markdown, *at.title, *at.subheader, *at.caption, *at.success])


def fill_form(at, *, name="Rosa Parks", email="rosa@example.org", region="US-AL", consent=True):
    by_label(at.text_input, "Your name").set_value(name)
    by_label(at.text_input, "Email").set_value(email)
    at.selectbox[0].set_value(region)
    by_label(at.checkbox, "Yes, the organizers").set_value(consent)
    return by_label(at.button, "Sign the campaign").click().run()


def test_campaign_list_shows_published_campaigns_only(app, engine):
    make_campaign(engine, title="Open libraries", slug="open-libraries")
    make_campaign(engine, title="Secret draft", slug="secret-draft", status="draft")
    at = app()
    assert not at.exception
    text = markdown_text(at)
    assert "Open libraries" in text and "Secret draft" not in text
    [link] = at.get("page_link")  # a real link to the share URL (tests/app/test_app_sharing.py)
    assert (link.proto.label, link.proto.query_string) == ("Read and sign", "campaign=open-libraries")


def test_empty_list_says_so(app):
    at = app()
    assert not at.exception
    assert [i.value for i in at.info] == ["There are no campaigns to sign yet. Check back soon."], markdown_text(at)


def test_signing_through_the_form_shows_thank_you_and_counts(app, engine):
    campaign = make_campaign(engine, slug="libraries", goal=10)
    at = app(campaign="libraries", utm_source="newsletter")
    assert not at.exception and "Fund the libraries" in markdown_text(at)
    at = fill_form(at)
    assert not at.exception
    assert "Thank you, Rosa Parks" in at.success[0].value
    assert "You're the first to sign." in markdown_text(at) and "one of" not in markdown_text(at)
    assert "campaign=libraries" in at.get("html")[0].proto.body  # the link to share, with its copy button
    with read_session(engine) as session:
        stored = session.execute(select(Signature.email_canonical).where(Signature.campaign_id == campaign.id))
        assert stored.scalars().all() == ["rosa@example.org"]
        assert count_total(session=session, campaign_id=campaign.id) == 1


def test_a_later_signer_hears_how_many_have_signed(app, engine):
    make_campaign(engine, slug="libraries", goal=10)
    for _ in range(2):
        sign_from(engine, "libraries")
    at = fill_form(app(campaign="libraries"))
    assert not at.exception
    assert "You're one of **3** people who have signed so far." in markdown_text(at)


def test_bad_email_shows_its_field_message_and_stores_nothing(app, engine):
    campaign = make_campaign(engine, slug="libraries")
    at = fill_form(app(campaign="libraries"), email="rosa-at-example")
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("email address isn't valid" in e for e in errors)
    assert not at.success
    with read_session(engine) as session:
        assert count_total(session=session, campaign_id=campaign.id) == 0


def test_missing_region_and_name_are_both_reported(app, engine):
    make_campaign(engine, slug="libraries")
    at = app(campaign="libraries")
    by_label(at.text_input, "Email").set_value("a@example.org")
    at = by_label(at.button, "Sign the campaign").click().run()
    errors = " ".join(e.value for e in at.error)
    assert "enter your name" in errors and "pick your state" in errors


def test_supporter_text_is_shown_as_plain_text(app, engine):
    make_campaign(engine, slug="libraries")
    at = fill_form(app(campaign="libraries"), name="**Bold** [link](http://evil.example) :red[x] $x$")
    message = at.success[0].value
    for raw in ("**Bold**", "[link](", ":red[", "$x$"):
        assert raw not in message  # every markdown character arrives escaped
    assert "\\*\\*Bold\\*\\*" in message


def test_closed_campaign_shows_final_count_and_no_form(app, engine):
    make_campaign(engine, slug="done", status="closed")
    at = app(campaign="done")
    assert not at.exception
    assert "has closed" in at.info[0].value
    assert not [b for b in at.button if b.label.startswith("Sign the campaign")]


@pytest.mark.parametrize("slug", ["secret-draft", "no-such-thing"])
def test_draft_and_unknown_campaigns_are_not_found(app, engine, slug):
    make_campaign(engine, slug="secret-draft", status="draft")
    at = app(campaign=slug)
    assert not at.exception
    assert "couldn't find a campaign" in at.error[0].value


@pytest.mark.parametrize("slug", ["secret-draft\x00", "\x00", "[x](https://evil.example)"])
def test_a_link_that_cannot_name_a_campaign_is_not_found_and_not_repeated(app, engine, slug, caplog):
    make_campaign(engine, slug="secret-draft")
    at = app(campaign=slug)
    assert not at.exception
    [error] = at.error
    assert error.value == "We couldn't find a campaign at that address. Check the link, or browse all campaigns."
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # no traceback logged per request
