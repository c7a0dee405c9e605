"""The Export page under AppTest: the count before download, the consent choice, and a link for this person only."""

from __future__ import annotations

from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from campaigns.core.audit import CLI
from campaigns.core.db import run_write
from campaigns.export.links import read_token
from campaigns.people import logins, staff
from campaigns.ui import access
from tests.support.apptest import point_app_at
from tests.support.export_data import EXPORTED_BY_DEFAULT, load_people

pytestmark = pytest.mark.apptest
PASSWORD = "correct horse battery staple"


@pytest.fixture
def export_page(engine, default_settings, monkeypatch):
    point_app_at(engine, default_settings)
    load_people(engine)
    user = run_write(
        engine,
        lambda s: staff.create_user(
            session=s, email="coord@example.org", password=PASSWORD, roles=["coordinator"], actor=CLI
        ),
    )
    cookie = logins.log_in(engine=engine, email="coord@example.org", password=PASSWORD, client_address="test")
    monkeypatch.setattr(access, "session_cookie", lambda: cookie)
    at = AppTest.from_string("import campaigns.ui.export as page\npage.render()\n", default_timeout=30).run()
    assert at.multiselect[0].value == ["fund-libraries-other"]  # the newest campaign is chosen at first
    at.multiselect[0].set_value(["fund-libraries"]).run()
    return at, user.id


def test_the_page_counts_consenting_people_by_default_and_signs_a_link_for_this_person(export_page):
    at, user_id = export_page
    assert not at.exception
    assert at.metric[0].value == str(EXPORTED_BY_DEFAULT)
    at.button[0].click().run()
    [link] = at.get("link_button")
    url = link.proto.url
    grant = read_token(url.split("t=", 1)[1])
    assert grant.user_id == user_id and grant.fmt == "csv" and grant.filter.include_non_consenting is False


def test_including_everyone_needs_a_reason_then_counts_them(export_page):
    at, _ = export_page
    at.radio[1].set_value("everyone").run()
    assert any("only be exported for a delivery" in e.value for e in at.error) and not at.metric
    at.text_input[0].set_value("Hand-delivery to Senator A").run()
    assert at.metric[0].value == str(EXPORTED_BY_DEFAULT + 1)


def test_filters_change_the_count(export_page):
    at, _ = export_page
    at.multiselect[1].set_value(["US-CA"]).run()
    assert at.metric[0].value == "2"
    at.radio[0].set_value("pending").run()
    assert at.metric[0].value == "1"  # the pending Californian
    at.date_input[0].set_value(date(2026, 11, 2)).run()  # everyone signed on 1 November
    assert at.metric[0].value == "0" and at.button[0].disabled


def test_a_new_draft_is_not_what_the_export_starts_with(export_page, engine):
    from tests.support.factories import make_campaign

    make_campaign(engine, slug="brand-new-draft", title="Brand new", status="draft")
    at = AppTest.from_string("import campaigns.ui.export as page\npage.render()\n", default_timeout=30).run()
    assert not at.exception and at.multiselect[0].value == ["fund-libraries-other"]  # the newest with signers
