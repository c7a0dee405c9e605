"""The dashboard's charts as Vega-Lite specs: whole-number axes, a first day that does not look like the goal,
time labels that never repeat, and text and borders at WCAG AA contrast."""

from __future__ import annotations

import pandas as pd
import pytest

from campaigns.dashboard.live import series
from campaigns.ui import dashboard_charts


def hourly(*hours_and_counts: tuple[str, int]) -> pd.DataFrame:
    return pd.DataFrame(
        {"hour": pd.to_datetime([h for h, _ in hours_and_counts], utc=True), "count": [c for _, c in hours_and_counts]}
    )


def layers(spec: dict) -> tuple[dict, dict]:
    bars, right = spec["layer"]
    return bars, right["layer"][0]


def tick_days(x: dict) -> list[tuple[int, int, int, int]]:
    return [(v["year"], v["month"], v["date"], v.get("hours", 0)) for v in x["axis"]["values"]]


def test_a_first_day_with_three_signatures_is_drawn_far_below_a_goal_of_100():
    frame = series(hourly(("2026-12-07 14:00", 3)), daily=True, until=pd.Timestamp("2026-12-07 16:20", tz="UTC"))
    spec = dashboard_charts.over_time(frame, 100, daily=True).to_dict()
    bars, total = layers(spec)
    assert bars["encoding"]["y"]["scale"]["domain"] == [0, 6]  # the busiest bar reaches half the height
    assert total["encoding"]["y"]["scale"]["domain"] == [0, 100]  # the line's height is its share of the goal
    for y in (bars["encoding"]["y"], total["encoding"]["y"]):
        assert y["axis"]["tickMinStep"] == 1 and y["axis"]["format"] == ",d"  # 0, 1, 2: never 0.5
    # one day's bar among the 11 days to come, a label every other day from the first
    assert tick_days(bars["encoding"]["x"]) == [(2026, 12, d, 0) for d in range(7, 19, 2)]
    assert bars["encoding"]["x"]["axis"]["format"] == "%-d %b"
    assert total["mark"]["point"]  # a lone day is a dot, not an invisible line


def test_a_first_day_by_the_hour_labels_each_hour_once():
    frame = series(
        hourly(("2026-12-07 09:00", 2), ("2026-12-07 12:00", 1)),
        daily=False,
        until=pd.Timestamp("2026-12-07 14:10", tz="UTC"),
    )
    x = layers(dashboard_charts.over_time(frame, 100, daily=False).to_dict())[0]["encoding"]["x"]
    ticks = tick_days(x)
    assert len(ticks) == len(set(ticks)) <= dashboard_charts.MAX_TICKS
    assert ticks == [(2026, 12, 7, h) for h in range(10, 21, 2)] and x["axis"]["format"] == "%H:00"


@pytest.mark.parametrize(("days", "daily"), [(2, True), (14, True), (90, True), (7, False)])
def test_many_days_get_a_label_per_day_or_few_days_never_the_same_twice(days, daily):
    start = pd.Timestamp("2026-09-01 10:00", tz="UTC")
    frame = series(hourly((str(start), 5)), daily=daily, until=start + pd.Timedelta(days=days - 1))
    x = layers(dashboard_charts.over_time(frame, 1000, daily=daily).to_dict())[0]["encoding"]["x"]
    ticks = tick_days(x)
    assert 1 <= len(ticks) <= dashboard_charts.MAX_TICKS and len(ticks) == len(set(ticks))
    assert all(hour == 0 for *_, hour in ticks) and x["axis"]["format"] == "%-d %b"  # whole days


def domain(x: dict) -> list[tuple[int, int, int, int]]:
    return [(v["year"], v["month"], v["date"], v.get("hours", 0)) for v in x["scale"]["domain"]]


@pytest.mark.parametrize(
    ("daily", "start", "end"),
    [(True, (2026, 12, 7, 0), (2026, 12, 19, 0)), (False, (2026, 12, 7, 14), (2026, 12, 8, 2))],
)
def test_a_lone_bar_takes_one_of_twelve_slots_not_the_whole_width(daily, start, end):
    frame = series(hourly(("2026-12-07 14:00", 2)), daily=daily, until=pd.Timestamp("2026-12-07 14:30", tz="UTC"))
    assert len(frame) == 1
    x = layers(dashboard_charts.over_time(frame, 1000, daily=daily).to_dict())[0]["encoding"]["x"]
    assert dashboard_charts.MIN_SLOTS == 12
    assert domain(x) == [start, end]  # the first bar at the left, then the days (hours) still to come
    assert tick_days(x)[0] <= start and len(tick_days(x)) <= dashboard_charts.MAX_TICKS


@pytest.mark.parametrize("daily", [True, False])
def test_twelve_bars_or_more_fill_the_axis_as_they_are(daily):
    start = pd.Timestamp("2026-09-01 10:00", tz="UTC")
    frame = series(hourly((str(start), 5)), daily=daily, until=start + pd.Timedelta(days=20))
    x = layers(dashboard_charts.over_time(frame.tail(12), 1000, daily=daily).to_dict())[0]["encoding"]["x"]
    assert "scale" not in x


def regions(*counts: int) -> pd.DataFrame:
    names = [f"Region {i}" for i in range(len(counts))]
    return pd.DataFrame(
        {
            "shape_id": [f"{i:02d}" for i in range(len(counts))],
            "code": [f"US-{i:02d}" for i in range(len(counts))],
            "name": names,
            "count": list(counts),
            "per_100k": [c / 3.0 for c in counts],
            "rank": list(range(1, len(counts) + 1)),
        }
    )


def test_top_regions_get_a_readable_bar_each_and_whole_signature_ticks():
    heights = {
        n: dashboard_charts.ranking(regions(*[1] * n), "count", "Signatures").to_dict()["height"] for n in (1, 2, 15)
    }
    for n, height in heights.items():
        assert height - dashboard_charts.AXIS_ROOM >= 24 * n  # a bar and its gap: the names never overlap
    assert heights[1] < heights[2] < heights[15]  # the chart grows with its bars
    x = dashboard_charts.ranking(regions(1, 1), "count", "Signatures").to_dict()["encoding"]["x"]
    assert x["axis"]["tickMinStep"] == 1 and x["axis"]["format"] == ",d"  # 0 and 1, never 0.10 ... 0.90


def test_a_rate_per_capita_keeps_its_decimals():
    x = dashboard_charts.ranking(regions(1, 1), "per_100k", "Per 100,000").to_dict()["encoding"]["x"]
    assert "tickMinStep" not in x.get("axis", {}) and "format" not in x.get("axis", {})
    legend = dashboard_charts.choropleth(regions(1), "us-states", "topojson", "states", "per_100k", "Per 100,000")
    assert "format" not in legend.to_dict()["encoding"]["color"]["legend"]


@pytest.mark.parametrize("kind", ["choropleth", "hexmap"])
def test_the_map_legend_counts_whole_signatures(kind):
    frame = regions(1, 2)
    if kind == "choropleth":
        chart = dashboard_charts.choropleth(frame, "us-states", "topojson", "states", "count", "Signatures")
    else:
        chart = dashboard_charts.hexmap(frame, {"US-00": (0.0, 0.0), "US-01": (1.0, 0.0)}, "count", "Signatures")
    legend = chart.to_dict()["encoding"]["color"]["legend"]
    assert legend["tickMinStep"] == 1 and legend["format"] == ",d"  # 0, 1, 2: never 0.2


def contrast(color: str, background: str = "#FFFFFF") -> float:
    def luminance(hex_color: str) -> float:
        channels = [int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(color), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_axis_and_legend_text_and_the_map_borders_meet_wcag_aa_contrast():
    spec = dashboard_charts.readable({"config": {"legend": {"orient": "bottom"}}})
    legend, axis = spec["config"]["legend"], spec["config"]["axis"]
    assert legend["orient"] == "bottom"  # what a chart set is kept
    for color in (legend["labelColor"], legend["titleColor"], axis["labelColor"], axis["titleColor"]):
        assert contrast(color) >= 4.5  # text (WCAG 1.4.3)
    assert contrast(legend["gradientStrokeColor"]) >= 3  # the legend's and regions' outlines (WCAG 1.4.11)
    assert contrast(dashboard_charts.BORDER) >= 3
    assert contrast(dashboard_charts.TEXT) >= 4.5  # the goal's label
