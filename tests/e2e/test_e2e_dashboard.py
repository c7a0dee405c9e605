"""The live dashboard in a real browser: the map draws from the app alone, and fills in without a reload."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from campaigns.core.db import run_write
from campaigns.signatures.signing import sign
from tests.support.browser import E2E, browser_page
from tests.support.factories import make_campaign, signer

pytestmark = E2E
DESKTOP = {"width": 1280, "height": 900}
REFRESH_WAIT_MS = 40_000  # cache (5 s) + fragment interval (5 s), with room for a busy machine


@pytest.fixture
def desktop(browser, request, tmp_path: Path):
    with browser_page(browser, request, tmp_path, viewport=DESKTOP) as page:
        yield page


def _sign(engine, slug: str, region: str, times: int) -> None:
    for _ in range(times):
        new = signer(region_code=region)
        run_write(engine, lambda s, new=new: sign(session=s, campaign_slug=slug, signer=new))


def test_dashboard_map_draws_with_no_request_leaving_the_app_and_fills_in_without_reload(
    live_server, desktop, tmp_path
):
    engine = live_server.engine()
    make_campaign(engine, slug="dash-live", goal=50, title="Clean air for schools")
    _sign(engine, "dash-live", "US-CA", 3)
    _sign(engine, "dash-live", "US-NY", 2)

    page = desktop
    requests: list[str] = []
    page.context.on("request", lambda r: requests.append(r.url))  # documents, scripts, fonts, data, workers
    page.on("websocket", lambda ws: requests.append(ws.url))
    page.goto(f"{live_server.url}/dashboard?campaign=dash-live")

    the_map = page.get_by_test_id("stVegaLiteChart").first
    california = the_map.locator("path[aria-roledescription='geoshape'][aria-label*='Region: California;']")
    california.wait_for()  # Vega has drawn the map from the shapes the app served
    expect(california).to_have_attribute("aria-label", re.compile(r"^Signatures: 3; Region: California; .*Rank: 1$"))
    assert the_map.locator("path[aria-roledescription='geoshape']").count() >= 50  # every state drawn
    signatures = page.get_by_test_id("stMetric").filter(has_text="Signatures").first
    expect(signatures.get_by_test_id("stMetricValue")).to_have_text("5")
    expect(page.get_by_text("Updated at")).to_be_visible()
    page.screenshot(path=str(tmp_path / "dashboard.png"))

    _sign(engine, "dash-live", "US-TX", 4)
    expect(signatures.get_by_test_id("stMetricValue")).to_have_text("9", timeout=REFRESH_WAIT_MS)
    texas = the_map.locator("path[aria-roledescription='geoshape'][aria-label*='Region: Texas;']")
    expect(texas).to_have_attribute("aria-label", re.compile(r"^Signatures: 4; Region: Texas; .*Rank: 1$"))
    expect(page.get_by_test_id("stProgress").first).to_contain_text("9 of 50 signatures")
    page.screenshot(path=str(tmp_path / "dashboard-after.png"))

    own = urlsplit(live_server.url).netloc
    outside = [u for u in requests if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).netloc != own]
    assert not outside, outside  # no CDN, no map tiles, no web fonts: the page works with no internet at all
    assert any("/api/shapes/us-states.json" in u for u in requests)  # the shapes came from the app itself
    assert f"ws://{own}/_stcore/stream" in requests
    engine.dispose()


PHONE = {"width": 390, "height": 844}


def test_on_a_phone_a_click_on_the_map_picks_a_region_a_double_click_clears_it_and_a_table_says_the_same(
    live_server, browser, request, tmp_path
):
    engine = live_server.engine()
    make_campaign(engine, slug="dash-phone", goal=50, title="Quiet streets")
    _sign(engine, "dash-phone", "US-CO", 3)
    _sign(engine, "dash-phone", "US-NY", 1)
    with browser_page(browser, request, tmp_path, viewport=PHONE) as page:
        page.goto(f"{live_server.url}/dashboard?campaign=dash-phone")
        the_map = page.get_by_test_id("stVegaLiteChart").first
        colorado = the_map.locator("path[aria-roledescription='geoshape'][aria-label*='Region: Colorado;']")
        colorado.wait_for()
        picker = page.get_by_role("combobox", name="Region details")
        rank = page.get_by_test_id("stMetric").filter(has_text="Rank")

        colorado.click()  # Colorado is a rectangle: its middle is inside it
        expect(picker).to_have_value("Colorado", timeout=15_000)
        expect(rank.get_by_test_id("stMetricValue")).to_have_text(re.compile(r"^1 of \d+$"), timeout=15_000)
        page.screenshot(path=str(tmp_path / "map-picked.png"))

        colorado.dblclick()  # as the README says: a double-click clears the region
        expect(picker).to_have_value("", timeout=15_000)
        expect(rank).to_have_count(0)
        page.screenshot(path=str(tmp_path / "map-cleared.png"))

        # The map's text alternative: a caption under it names the table that lists the same figures.
        expect(page.get_by_text("The same figures as a table: “All regions with signatures”, below.")).to_be_visible()
        page.get_by_text("All regions with signatures (2): the map's figures as a table").click()
        table = page.get_by_test_id("stDataFrame")
        expect(table).to_be_visible()
        page.screenshot(path=str(tmp_path / "map-table.png"))
        # The grid is drawn on a canvas; screen readers read the table Streamlit keeps inside it, row by row.
        grid = table.locator("table[role='grid']")
        expect(grid.locator("th[role='columnheader']", has_text="Signatures")).to_have_count(1)
        colorado_row = grid.locator("tr[role='row']", has_text="Colorado")
        expect(colorado_row).to_have_count(1)
        assert [c.strip() for c in colorado_row.locator("td").all_text_contents()][:3] == ["1", "Colorado", "3"]
    engine.dispose()


def test_a_new_campaign_with_two_signatures_draws_readable_bars_and_counts_in_whole_signatures(
    live_server, browser, request, tmp_path
):
    engine = live_server.engine()
    make_campaign(engine, slug="dash-new", goal=1000, title="Safe bike lanes")
    _sign(engine, "dash-new", "US-TX", 1)
    _sign(engine, "dash-new", "US-OH", 1)
    with browser_page(browser, request, tmp_path, viewport=PHONE) as page:
        picker = page.get_by_role("combobox", name="Campaign")
        for _ in range(10):  # the campaign list is read at most every 5 s: a campaign made just now may wait a turn
            page.goto(f"{live_server.url}/dashboard?campaign=dash-new")
            picker.wait_for()
            if picker.input_value() == "Safe bike lanes":
                break
            page.wait_for_timeout(1_000)
        expect(picker).to_have_value("Safe bike lanes")
        charts = page.get_by_test_id("stVegaLiteChart")
        the_map, ranking, over_time = charts.nth(0), charts.nth(1), charts.nth(2)
        over_time.locator("[aria-roledescription='bar']").first.wait_for()
        page.screenshot(path=str(tmp_path / "new-campaign.png"), full_page=True)

        # The map's legend: 0 and 1 signatures, not 0.0, 0.2 ... 1.0.
        legend = the_map.locator("[aria-roledescription='legend'] text")
        expect(legend).to_have_text(["0", "1", "Signatures"])  # waits for the legend to be drawn (a loaded machine)

        # Top regions: a bar per region, each thick enough to see, one under the other, with its own name.
        bars = [box for b in ranking.locator("[aria-roledescription='bar']").all() if (box := b.bounding_box())]
        assert len(bars) == 2 and all(b["height"] >= 16 for b in bars), bars
        upper, lower = sorted(bars, key=lambda b: b["y"])
        assert upper["y"] + upper["height"] <= lower["y"]
        labels = ranking.locator("[aria-roledescription='axis'] text").all_text_contents()
        assert {"Ohio", "Texas", "0", "1"} <= set(labels) and not [t for t in labels if "." in t], labels

        # Signatures over time: today's bar is a bar among the days to come, not a wall across the chart.
        for mode in ("Daily", "Hourly"):
            page.get_by_text(mode, exact=True).click()
            unit = "Per day" if mode == "Daily" else "Per hour"
            drawn = over_time.locator(f"[aria-roledescription='bar'][aria-label*='{unit}: ']")
            expect(drawn.first).to_be_attached(timeout=15_000)
            chart = over_time.bounding_box()
            assert chart is not None
            for box in [b.bounding_box() for b in drawn.all()]:  # one bar, or two across an hour's turn
                assert box is not None and 4 <= box["width"] <= chart["width"] / 10, (mode, box, chart)
    engine.dispose()
