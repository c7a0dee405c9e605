"""The dashboard's charts, built with Altair from aggregate frames (Vega draws them in the browser).

Nothing here reads the database or the network: shapes come from ``/api/shapes/<scheme>.json``,
served by the app itself with a day-long cache, so a refresh never re-sends them and the maps
work with no internet at all.
"""

from __future__ import annotations

import math
from typing import Any

import altair as alt
import pandas as pd

from campaigns.core import theme

PROJECTIONS = {"us-states": "albersUsa", "world-countries": "equalEarth"}
COLOR = theme.primary_hex()
TEXT = "#1F2937"
HEXAGON = "M0,-1L0.866,-0.5L0.866,0.5L0,1L-0.866,0.5L-0.866,-0.5Z"  # pointy-top, one unit from centre to tip
REGION_PICK = alt.selection_point(name="region", fields=["code"], on="click", clear="dblclick")


MUTED = "#57534E"  # axis and legend text: 7.6:1 on white (Streamlit's chart theme draws it at 3.8:1)
BORDER = "#78716C"  # region borders and the legend's frame: 4.8:1 on white, so the palest region is still seen
READABLE: dict[str, dict[str, Any]] = {
    "axis": {"labelColor": MUTED, "titleColor": MUTED},
    "legend": {"labelColor": MUTED, "titleColor": MUTED, "gradientStrokeColor": BORDER, "gradientStrokeWidth": 1},
}


def readable(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with axis and legend text at WCAG AA contrast (4.5:1 and more) and a framed legend gradient."""
    config = spec.setdefault("config", {})
    for part, values in READABLE.items():
        config[part] = {**config.get(part, {}), **values}
    return spec


def _color(metric: str, label: str) -> alt.Color:
    """The regions' fill; a legend of signatures counts whole ones (0, 1, 2 on a new campaign, never 0.2)."""
    legend = alt.Legend(orient="bottom", gradientLength=220)
    if metric == "count":
        legend = alt.Legend(orient="bottom", gradientLength=220, tickMinStep=1, format=",d")
    return alt.Color(f"{metric}:Q", title=label, scale=alt.Scale(scheme="oranges", domainMin=0), legend=legend)


def _tooltip() -> list[alt.Tooltip]:
    return [
        alt.Tooltip("name:N", title="Region"),
        alt.Tooltip("count:Q", title="Signatures", format=","),
        alt.Tooltip("per_100k:Q", title="Per 100,000", format=".1f"),
        alt.Tooltip("rank:Q", title="Rank"),
    ]


def choropleth(
    regions: pd.DataFrame, scheme_id: str, shape_kind: str, shape_object: str | None, metric: str, label: str
) -> alt.Chart:
    """Regions filled by signatures (or per capita), from the shipped TopoJSON.

    The shipped TopoJSON is what Vega expects (its rings are wound the way d3-geo wants); uploaded
    GeoJSON in RFC 7946 winding would fill the whole chart, so the app serves it rewound.
    """
    url = f"/api/shapes/{scheme_id}.json"  # served by the app, cached by the browser: never re-sent per refresh
    if shape_kind == "geojson":  # an uploaded GeoJSON, served rewound for d3-geo with codes as feature ids
        shapes = alt.Data(url=url, format=alt.DataFormat(type="json", property="features"))
    else:
        shapes = alt.topo_feature(url, shape_object or "")
    values = regions.dropna(subset=["shape_id"])[["shape_id", "code", "name", "count", "per_100k", "rank"]]
    return (
        alt.Chart(shapes)
        .mark_geoshape(stroke=BORDER, strokeWidth=0.5)
        .transform_lookup(
            lookup="id",
            from_=alt.LookupData(values, "shape_id", ["code", "name", "count", "per_100k", "rank"]),
            default="0",
        )
        .encode(
            color=_color(metric, label),
            opacity=alt.condition(REGION_PICK, alt.value(1.0), alt.value(0.45)),
            tooltip=_tooltip(),
        )
        .add_params(REGION_PICK)
        .project(PROJECTIONS.get(scheme_id, "equalEarth"))
        .properties(height=380)
    )


def hexmap(regions: pd.DataFrame, centres: dict[str, tuple[float, float]], metric: str, label: str) -> alt.Chart:
    """One equal hexagon per region (the UK constituencies' hex map), placed from the HexJSON grid."""
    placed = regions[regions["code"].isin(centres.keys())].copy()
    placed["x"] = [centres[c][0] for c in placed["code"]]
    placed["y"] = [centres[c][1] for c in placed["code"]]
    xs, ys = placed["x"], placed["y"]
    width = 340  # fits a phone; x and y share one scale, so the height follows from the grid's shape
    span_x = (xs.max() - xs.min() + 1.2) if len(placed) else 1.0
    span_y = (ys.max() - ys.min() + 1.2) if len(placed) else 1.0
    height = int(width * span_y / span_x)
    cell = width / span_x  # pixels from one hexagon's centre to the next
    # Vega scales a custom symbol path so that its [-1, 1] box spans sqrt(size) pixels; a pointy-top
    # hexagon is 2 * 0.866 units wide, so it spans one cell when sqrt(size) = cell / 0.866.
    size = (cell / 0.866) ** 2 * 0.92  # a hairline gap between neighbours
    axis = alt.Axis(labels=False, ticks=False, domain=False, grid=False, title=None)
    return (
        alt.Chart(placed)
        .mark_point(shape=HEXAGON, filled=True, size=max(size, 4), stroke=BORDER, strokeWidth=0.5)
        .encode(
            x=alt.X("x:Q", axis=axis, scale=alt.Scale(domain=[xs.min() - 0.6, xs.max() + 0.6], nice=False, zero=False)),
            y=alt.Y("y:Q", axis=axis, scale=alt.Scale(domain=[ys.min() - 0.6, ys.max() + 0.6], nice=False, zero=False)),
            color=_color(metric, label),
            opacity=alt.condition(REGION_PICK, alt.value(1.0), alt.value(0.45)),
            tooltip=_tooltip(),
        )
        .add_params(REGION_PICK)
        .properties(width=width, height=height)
        .configure_view(strokeWidth=0)
    )


BAR_ROW = 26  # pixels per region in the ranking: a bar and the gap to the next, so each name has its own line
AXIS_ROOM = 80  # the x axis (labels, title) and padding: Streamlit fits the whole chart, axis too, in its height


def ranking(top: pd.DataFrame, metric: str, label: str) -> alt.Chart:
    """The top regions as horizontal bars, the chart as tall as its bars need (one region still gets a
    readable bar). Signatures count in whole numbers; a rate per capita may have decimals."""
    axis = count_axis() if metric == "count" else alt.Axis()
    return (
        alt.Chart(top)
        .mark_bar(color=COLOR)
        .encode(
            x=alt.X(f"{metric}:Q", title=label, axis=axis),
            y=alt.Y("name:N", sort="-x", title=None),
            tooltip=_tooltip(),
        )
        .properties(height=BAR_ROW * max(len(top), 1) + AXIS_ROOM)
    )


def count_axis() -> alt.Axis:
    """An axis of signatures: whole numbers only (no 0.5 ticks on a small count), with thousands separators."""
    return alt.Axis(tickMinStep=1, format=",d")


HOUR_STEPS = (1, 2, 3, 4, 6, 12)
MIN_SLOTS = 12  # the time axis spans at least this many days (or hours): one day's bar is a bar, not a wall
MAX_TICKS = 6  # time labels that fit side by side at 390 px


def time_ticks(times: pd.Series, daily: bool) -> tuple[list[alt.DateTime], str]:
    """Where the x axis puts its labels (UTC, each at the start of a bar) and their format: one
    label per day (or per few days), or per hour (or few hours) within a day, never the same label twice.

    The ticks are listed rather than asked of Vega as an interval: Vega-Lite's ``{"interval": "hour"}`` is
    valid for its schema but breaks Vega's time scales, which name that interval "hours"."""
    count = len(times)
    if daily or count > 36:  # beyond a day and a half of hours, a label per day reads best
        days = pd.Series(pd.to_datetime(times, utc=True).dt.floor("D").unique())
        picked = days.iloc[:: max(1, math.ceil(len(days) / MAX_TICKS))]
        label_format = "%-d %b"
    else:
        step = next((s for s in HOUR_STEPS if count / s <= MAX_TICKS), 24)
        hours = pd.Series(pd.to_datetime(times, utc=True))
        picked = hours[hours.dt.hour % step == 0] if count > step else hours.iloc[:1]
        label_format = "%-d %b %H:00" if count > 24 else "%H:00"
    return [_datetime(t) for t in picked], label_format


def _datetime(t: pd.Timestamp) -> alt.DateTime:
    return alt.DateTime(year=t.year, month=t.month, date=t.day, hours=t.hour, utc=True)


def time_slots(times: pd.Series, daily: bool) -> tuple[pd.Series, list[alt.DateTime] | None]:
    """The days (or hours) the time axis spans, and its domain when it has to be widened: fewer than
    ``MIN_SLOTS`` bars are followed by the empty days (or hours) still to come, so each bar keeps a bar's
    width and the first is labelled (``None``: the bars fill the axis as they are)."""
    stamps = pd.Series(pd.to_datetime(times, utc=True))
    if len(stamps) >= MIN_SLOTS or stamps.empty:
        return stamps, None
    unit = pd.Timedelta(days=1) if daily else pd.Timedelta(hours=1)
    first = stamps.min().floor("D" if daily else "h")
    slots = pd.Series(pd.date_range(start=first, periods=MIN_SLOTS, freq=unit))
    return slots, [_datetime(first), _datetime(first + MIN_SLOTS * unit)]


def over_time(frame: pd.DataFrame, goal: int, daily: bool) -> alt.LayerChart:
    """Bars per hour or day, the running total as a line on its own axis, and the goal as a rule.

    Both axes count whole signatures. The bars' axis reaches twice the busiest bar, so a first day's few
    signatures never draw up to the goal line; the total's axis always includes the goal, so the line's height
    is the true share of it."""
    unit = "Day" if daily else "Hour"
    # a time unit makes each bar as wide as its day or hour (plain temporal bars are hairlines)
    field = "utcyearmonthdate(time)" if daily else "utcyearmonthdatehours(time)"
    slots, domain = time_slots(frame["time"], daily)
    ticks, label_format = time_ticks(slots, daily)
    axis = alt.Axis(format=label_format, values=ticks, labelOverlap=True)
    scale = alt.Scale(domain=domain) if domain else alt.Undefined
    time_axis = alt.X(f"{field}:T", title=None, axis=axis, scale=scale)
    mid_bar = alt.X(f"{field}:T", title=None, axis=axis, bandPosition=0.5)  # the total's points over their bars
    when = "%-d %b %Y" if daily else "%-d %b %Y %H:00"
    busiest = int(frame["count"].max()) if len(frame) else 0
    bars = (
        alt.Chart(frame)
        .mark_bar(color="#FDBA74")
        .encode(
            x=time_axis,
            y=alt.Y(
                "count:Q",
                title=f"Per {unit.lower()}",
                axis=count_axis(),
                scale=alt.Scale(domain=[0, max(2, 2 * busiest)], nice=False),
            ),
            tooltip=[alt.Tooltip("time:T", title=unit, format=when), alt.Tooltip("count:Q", format=",")],
        )
    )
    total = int(frame["cumulative"].max()) if len(frame) else 0
    dots = len(frame) <= 31  # a dot per day or hour while they are few (a lone first day is a dot, not nothing)
    cumulative = (
        alt.Chart(frame)
        .mark_line(color=COLOR, strokeWidth=2.5, point=alt.OverlayMarkDef(color=COLOR, size=40) if dots else False)
        .encode(
            x=mid_bar,
            y=alt.Y(
                "cumulative:Q",
                title="Total",
                axis=count_axis(),
                scale=alt.Scale(domain=[0, max(goal, total, 1)]),
            ),
            tooltip=[
                alt.Tooltip("time:T", title=unit, format=when),
                alt.Tooltip("cumulative:Q", title="Total", format=","),
            ],
        )
    )
    layers = [cumulative]
    if goal > 0:
        rule = pd.DataFrame({"goal": [goal], "label": [f"Goal: {goal:,}"]})
        layers.append(alt.Chart(rule).mark_rule(color=TEXT, strokeDash=[6, 4]).encode(y="goal:Q"))
        layers.append(
            alt.Chart(rule)
            .mark_text(align="left", dx=4, dy=-6, color=TEXT)
            .encode(y="goal:Q", text="label:N", x=alt.value(0))
        )
    right = alt.layer(*layers)
    return alt.layer(bars, right).resolve_scale(y="independent").properties(height=260)


def trend(days: pd.DataFrame, name: str) -> alt.Chart:
    return (
        alt.Chart(days)
        .mark_area(color="#FDBA74", line={"color": COLOR})
        .encode(
            x=alt.X("day:T", title=None, axis=alt.Axis(format="%-d %b")),
            y=alt.Y("count:Q", title=f"{name}: per day"),
            tooltip=[alt.Tooltip("day:T", title="Day", format="%-d %b %Y"), alt.Tooltip("count:Q", format=",")],
        )
        .properties(height=140)
    )
