"""The live dashboard under AppTest, for every shipped scheme, on both databases."""

from __future__ import annotations

from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from campaigns import settings as settings_module
from campaigns.db import read_session, run_write
from campaigns.signing import sign
from campaigns.ui import common
from tests.factories import make_campaign, signer

pytestmark = pytest.mark.apptest
SCHEMES = {  # scheme: regions to sign from (SG has no shape in the world map; the map must still draw)
    "us-states": ["US-CA", "US-CA", "US-NY"],
    "world-countries": ["FR", "SG", "BR"],
    "uk-constituencies": ["E14000530"],
    "subdivisions-de": ["DE-BY", "DE-BE"],
}


@pytest.fixture
def dashboard_app(engine, default_settings):
    settings_module._current = replace(default_settings, database_url=engine.url.render_as_string(hide_password=False))
    common.forget_public_reads()

    def open_dashboard(slug: str) -> AppTest:
        at = AppTest.from_string("import campaigns.ui.dashboard as page\npage.render()\n", default_timeout=30)
        at.query_params["campaign"] = slug
        return at.run()

    return open_dashboard


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_dashboard_renders_every_scheme_with_totals_matching_the_signatures(engine, dashboard_app, scheme):
    from sqlalchemy import func, select

    from campaigns.models import Signature

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
    from campaigns.dashboard import region_table

    campaign = make_campaign(engine, slug="dash-table")
    for region in ("US-CA", "US-CA", "US-WY"):
        run_write(
            engine, lambda s, r=region: sign(session=s, campaign_slug=campaign.slug, signer=signer(region_code=r))
        )
    with read_session(engine) as session:
        table = region_table(session, campaign.id, "us-states")
    assert int(table["count"].sum()) == 3 and len(table) >= 51  # every state, with or without signatures
    wyoming = table.set_index("code").loc["US-WY"]
    assert wyoming["count"] == 1 and wyoming["per_100k"] == round(100_000 / wyoming["population"], 2)
    assert table.iloc[0]["code"] == "US-CA" and table.iloc[0]["rank"] == 1
