"""The live dashboard under AppTest, for every shipped scheme, on both databases."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from campaigns.core.db import read_session, run_write
from campaigns.signatures.signing import sign
from campaigns.ui import access
from tests.support.apptest import point_app_at
from tests.support.factories import make_campaign, signer

pytestmark = pytest.mark.apptest
SCHEMES = {  # scheme: regions to sign from (SG has no shape in the world map; the map must still draw)
    "us-states": ["US-CA", "US-CA", "US-NY"],
    "world-countries": ["FR", "SG", "BR"],
    "uk-constituencies": ["E14000530"],
    "subdivisions-de": ["DE-BY", "DE-BE"],
}


@pytest.fixture
def dashboard_app(engine, default_settings):
    point_app_at(engine, default_settings)

    def open_dashboard(slug: str) -> AppTest:
        at = AppTest.from_string("import campaigns.ui.dashboard as page\npage.render()\n", default_timeout=30)
        at.query_params["campaign"] = slug
        return at.run()

    return open_dashboard


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_dashboard_renders_every_scheme_with_totals_matching_the_signatures(engine, dashboard_app, scheme):
    from sqlalchemy import func, select

    from campaigns.core.models import Signature

    campaign = make_campaign(engine, slug=f"dash-{scheme}", region_scheme=scheme)
    for region in SCHEMES[scheme]:
        run_write(
            engine, lambda s, r=region: sign(session=s, campaign_slug=campaign.slug, signer=signer(region_code=r))
        )
    at = dashboard_app(campaign.slug)
    assert not at.exception
    with read_session(engine) as session:
        stored = session.execute(select(func.count()).where(Signature.campaign_id == campaign.id)).scalar_one()
    assert at.metric[0].value == f"{stored:,}" == f"{len(SCHEMES[scheme]):,}"


def test_dashboard_of_a_campaign_without_signatures_says_so(engine, dashboard_app):
    make_campaign(engine, slug="dash-empty")
    at = dashboard_app("dash-empty")
    assert not at.exception and at.metric[0].value == "0"
    assert any("No signatures yet" in i.value for i in at.info)


def test_region_table_adds_up_and_computes_per_capita(engine):
    from campaigns.dashboard.live import read_dashboard

    campaign = make_campaign(engine, slug="dash-table")
    for region in ("US-CA", "US-CA", "US-WY"):
        run_write(
            engine, lambda s, r=region: sign(session=s, campaign_slug=campaign.slug, signer=signer(region_code=r))
        )
    with read_session(engine) as session:
        table = read_dashboard(session=session, slug=campaign.slug).regions
    assert int(table["count"].sum()) == 3 and len(table) >= 51  # every state, with or without signatures
    wyoming = table.set_index("code").loc["US-WY"]
    assert wyoming["count"] == 1 and wyoming["per_100k"] == round(100_000 / wyoming["population"], 2)
    assert table.iloc[0]["code"] == "US-CA" and table.iloc[0]["rank"] == 1


def test_picking_a_region_shows_its_count_rate_and_rank(engine, dashboard_app):
    campaign = make_campaign(engine, slug="dash-pick")
    for region in ("US-CA", "US-CA", "US-WY"):
        run_write(
            engine, lambda s, r=region: sign(session=s, campaign_slug=campaign.slug, signer=signer(region_code=r))
        )
    at = dashboard_app(campaign.slug)
    picker = next(s for s in at.selectbox if s.label == "Region details")
    picker.set_value("US-WY").run()
    assert not at.exception
    values = {m.label: m.value for m in at.metric}
    assert values["Signatures"] == "1" and values["Rank"] == "2 of 52"  # the region's own metrics come last
    assert values["Per 100,000"] != "n/a"
    at.toggle[0].set_value(True).run()  # per capita: Wyoming (tiny population) now ranks first
    assert not at.exception


def test_letters_sent_per_target_are_listed(engine, dashboard_app):
    from campaigns.letters import outreach
    from tests.support.factories import make_letter_campaign

    campaign = make_letter_campaign(
        engine,
        slug="dash-letters",
        title="Letters",
        target={"region_code": "US-CA", "name": "Alex Padilla", "email": "senator@example.org"},
    )
    result = run_write(engine, lambda s: sign(session=s, campaign_slug=campaign.slug, signer=signer()))
    suggested = run_write(engine, lambda s: outreach.suggest_letters(session=s, signature_id=result.signature_id))
    letter = run_write(
        engine,
        lambda s: outreach.save_letter(
            session=s, signature_id=result.signature_id, target_id=suggested[0].target_id, subject="Hi", body="Please."
        ),
    )
    run_write(engine, lambda s: outreach.record_delivery(session=s, letter_id=letter.id, channel="pdf"))
    run_write(engine, lambda s: outreach.record_delivery(session=s, letter_id=letter.id, channel="text"))
    run_write(engine, lambda s: outreach.record_delivery(session=s, letter_id=letter.id, channel="mailto"))
    at = dashboard_app(campaign.slug)
    assert not at.exception
    table = next(df.value for df in at.dataframe if "Sent by Rally" in df.value.columns)
    assert table.to_dict("records") == [  # downloaded (PDF and text: one letter) and opened, but not sent
        {
            "Target": "Alex Padilla",
            "Title": "Senator",
            "Region": "US-CA",
            "Sent by Rally": 0,
            "Downloaded by signers": 1,
            "Opened in signers' mail app": 1,
        }
    ]
    assert any("Rally can't know whether" in c.value for c in at.caption)


def test_staff_watch_all_campaigns_including_drafts_in_the_picker(engine, dashboard_app, monkeypatch):
    from campaigns.core.audit import CLI
    from campaigns.people import logins, staff

    make_campaign(engine, slug="dash-staff-open", goal=10)
    make_campaign(engine, slug="dash-staff-draft", status="draft", title="Secret plan")
    run_write(engine, lambda s: sign(session=s, campaign_slug="dash-staff-open", signer=signer()))
    password = "correct horse battery staple"
    run_write(
        engine,
        lambda s: staff.create_user(
            session=s, email="coord@example.org", password=password, roles=["coordinator"], actor=CLI
        ),
    )
    cookie = logins.log_in(engine=engine, email="coord@example.org", password=password, client_address="test")
    monkeypatch.setattr(access, "session_cookie", lambda: cookie)
    at = dashboard_app("nothing-chosen")
    assert not at.exception
    picker = at.selectbox[0]
    assert picker.value == "__all__" and "Secret plan (draft)" in picker.options
    assert at.metric[0].value == "1" and at.metric[1].value == "10"
    assert any("Campaign" in df.value.columns or "title" in df.value.columns for df in at.dataframe)
    picker.set_value("dash-staff-draft").run()
    assert not at.exception and at.metric[0].value == "0"


def test_the_public_cannot_open_a_draft_on_the_dashboard(engine, dashboard_app):
    make_campaign(engine, slug="dash-public-open")
    make_campaign(engine, slug="dash-public-draft", status="draft", title="Secret plan")
    at = dashboard_app("dash-public-draft")
    assert not at.exception
    assert "Secret plan" not in at.selectbox[0].options and at.selectbox[0].value == "dash-public-open"


def test_the_map_names_the_table_that_lists_the_same_figures(engine, dashboard_app):
    from campaigns.ui.dashboard import TABLE_NOTE

    make_campaign(engine, slug="dash-alt")
    run_write(engine, lambda s: sign(session=s, campaign_slug="dash-alt", signer=signer(region_code="US-NY")))
    at = dashboard_app("dash-alt")
    assert not at.exception
    assert any(c.value.startswith(TABLE_NOTE) for c in at.caption)
    assert [e.label for e in at.expander] == ["All regions with signatures (1): the map's figures as a table"]


def test_without_signatures_the_map_points_to_no_table(engine, dashboard_app):
    from campaigns.ui.dashboard import TABLE_NOTE

    make_campaign(engine, slug="dash-alt-empty")
    at = dashboard_app("dash-alt-empty")
    assert not at.exception
    assert not any(TABLE_NOTE in c.value for c in at.caption) and not at.expander
