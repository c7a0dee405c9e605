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
    assert tick_days(bars["encoding"]["x"]) == [(2026, 12, 7, 0)]  # one day, one label
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
    assert ticks == [(2026, 12, 7, h) for h in range(9, 15)] and x["axis"]["format"] == "%H:00"


@pytest.mark.parametrize(("days", "daily"), [(2, True), (14, True), (90, True), (7, False)])
def test_many_days_get_a_label_per_day_or_few_days_never_the_same_twice(days, daily):
    start = pd.Timestamp("2026-09-01 10:00", tz="UTC")
    frame = series(hourly((str(start), 5)), daily=daily, until=start + pd.Timedelta(days=days - 1))
    x = layers(dashboard_charts.over_time(frame, 1000, daily=daily).to_dict())[0]["encoding"]["x"]
    ticks = tick_days(x)
    assert 1 <= len(ticks) <= dashboard_charts.MAX_TICKS and len(ticks) == len(set(ticks))
    assert all(hour == 0 for *_, hour in ticks) and x["axis"]["format"] == "%-d %b"  # whole days


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
