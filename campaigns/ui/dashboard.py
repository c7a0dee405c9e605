"""The live dashboard: a campaign's signatures by region and over time, refreshing itself as they arrive.

Every viewer reads through ``st.cache_data`` with a short TTL, so however many people watch, one
process reads the aggregate rows once per campaign and interval. The live part is one
``st.fragment(run_every=...)``: only it reruns on the timer, never the selectors above it.

The charts are built once per campaign, view and interval too (``_view``, shared by every viewer as
plain Vega-Lite specs): building and validating an Altair chart costs far more than drawing it, and
doing it for each viewer on each refresh was 90% of a refresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import altair as alt
import pandas as pd
import pyarrow as pa
import streamlit as st

from campaigns.catalog import listing
from campaigns.core.audit import Actor
from campaigns.core.errors import CampaignNotFound
from campaigns.core.settings import get_settings
from campaigns.dashboard import live
from campaigns.regions.schemes import hex_layout
from campaigns.ui import access, dashboard_charts, errors, reads, review, widgets

REFRESH_SECONDS = 5
TABLE_NOTE = "The same figures as a table: “All regions with signatures”, below."  # the map's text alternative
HOURLY_WINDOW = 7 * 24  # the hourly chart shows the last week; the daily one the whole campaign
ALL = "__all__"  # the all-campaigns view (staff only)
STAFF_ROLES = ("organizer", "coordinator", "admin")


@st.cache_data(ttl=REFRESH_SECONDS, show_spinner=False)
def _dashboard(url: str, slug: str, staff: bool, scheme: str | None) -> live.DashboardData:
    """One database read per campaign (and view) and interval, however many people watch."""
    with access.reading(snapshot=True) as session:
        if slug == ALL:
            return live.read_all_campaigns(session=session, scheme_id=scheme or "us-states")
        return live.read_dashboard(session=session, slug=slug, staff=staff)


@st.cache_data(ttl=REFRESH_SECONDS, show_spinner=False)
def _staff_choices(url: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Staff: every campaign they may watch (drafts included), and the schemes of the public ones."""
    with access.reading() as session:
        return live.list_campaign_choices(session=session), live.list_schemes_in_use(session=session)


@st.cache_resource(ttl=REFRESH_SECONDS, max_entries=500, show_spinner=False)
def _trend(url: str, slug: str, code: str, name: str) -> dict[str, Any] | None:
    """A region's daily trend as a Vega-Lite spec (None without signatures), shared by every viewer."""
    with access.reading() as session:
        days = live.read_region_trend(session=session, slug=slug, region_code=code)
    return None if days.empty else _spec(dashboard_charts.trend(days, name))


def _arrow(table: pa.Table) -> bytes:
    """Arrow IPC stream bytes: what Streamlit sends a chart's or table's data as."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """A chart's Vega-Lite spec with its datasets already in Arrow form, so drawing it for a viewer
    converts nothing (Streamlit passes datasets given as bytes through as they are)."""
    spec = dashboard_charts.readable(chart.to_dict())
    datasets = spec.get("datasets") or {}
    spec["datasets"] = {
        name: _arrow(pa.Table.from_pylist(rows)) if isinstance(rows, list) and rows else rows
        for name, rows in datasets.items()
    }
    if not spec["datasets"]:
        del spec["datasets"]
    return spec


@dataclass(frozen=True)
class _View:
    """One campaign's figures and charts for one choice of toggles: built once per interval, read by every
    viewer (never changed after it is built)."""

    data: live.DashboardData
    metric: str
    label: str
    note: str | None
    map: dict[str, Any] | None
    map_fills_width: bool
    attribution: str
    region_codes: tuple[str, ...]  # by name, for the region picker
    region_names: dict[str, str]
    ranking: dict[str, Any] | None
    ranked: pa.Table  # every region with signatures, ranked (an Arrow table: sent without conversion)
    ranked_rows: int
    over_time: dict[str, Any] | None


@st.cache_resource(ttl=REFRESH_SECONDS, max_entries=200, show_spinner=False)
def _view(url: str, slug: str, staff: bool, scheme: str | None, per_capita: bool, daily: bool) -> _View:
    data = _dashboard(url, slug, staff, scheme)
    metric, label, note = ("per_100k", "Signatures per 100,000", None) if per_capita else ("count", "Signatures", None)
    if per_capita and data.regions["per_100k"].isna().all():
        metric, label = "count", "Signatures"
        note = "Population is not known for this scheme's regions: showing signatures instead."
    info = data.scheme
    chart: alt.TopLevelMixin | None = None
    if info.shape_kind == "geojson" or (info.shape_kind == "topojson" and info.shape_object):
        chart = dashboard_charts.choropleth(data.regions, info.id, info.shape_kind, info.shape_object, metric, label)
    elif info.shape_kind == "hexjson":
        chart = dashboard_charts.hexmap(data.regions, hex_layout(info.id), metric, label)
    ranked = data.regions[data.regions["count"] > 0].sort_values([metric, "name"], ascending=[False, True])
    frame = live.series(data.hourly, daily=daily, until=data.read_at)
    if not daily:
        frame = frame.tail(HOURLY_WINDOW)
    return _View(
        data=data,
        metric=metric,
        label=label,
        note=note,
        map=_spec(chart) if chart is not None else None,
        map_fills_width=info.shape_kind != "hexjson",  # a hex map keeps its own size: cells are sized in pixels
        attribution=info.attribution,
        region_codes=tuple(data.regions.sort_values("name")["code"]),
        region_names=dict(zip(data.regions["code"], data.regions["name"], strict=True)),
        ranking=_spec(dashboard_charts.ranking(ranked.head(15), metric, label)) if len(ranked) else None,
        ranked=pa.Table.from_pandas(
            ranked[["rank", "name", "count", "per_100k"]].rename(
                columns={"rank": "Rank", "name": "Region", "count": "Signatures", "per_100k": "Per 100,000"}
            ),
            preserve_index=False,
        ),
        ranked_rows=len(ranked),
        over_time=_spec(dashboard_charts.over_time(frame, data.goal, daily)) if len(frame) else None,
    )


def _staff(actor: Actor | None) -> bool:
    return actor is not None and any(actor.has(role) for role in STAFF_ROLES)


def render() -> None:
    widgets.query_in_address_bar()  # opened by a page link (the overview's): its query goes in the address bar
    st.title("Live dashboard")
    url = get_settings().effective_database_url
    staff = _staff(access.current_person())
    if staff:
        choices, schemes = _staff_choices(url)
        options = [ALL, *[slug for slug, _ in choices]]
        titles = {ALL: "All campaigns", **dict(choices)}
    else:
        campaigns = reads.public_campaigns()
        options, schemes = [c.slug for c in campaigns], []
        titles = {c.slug: c.title for c in campaigns}
    if not options:
        st.info("There are no campaigns to show yet.")
        return
    wanted = st.query_params.get("campaign")
    slug = st.selectbox(
        "Campaign", options, index=options.index(wanted) if wanted in options else 0, format_func=titles.__getitem__
    )
    if slug != ALL:
        st.query_params["campaign"] = slug  # the address can be shared as it is
        if staff:  # trending addresses and domains are for staff eyes only
            with errors.friendly_errors():
                review.render_trends_for(slug)
    scheme = None
    if slug == ALL and schemes:
        scheme = st.selectbox(
            "Map campaigns on",
            schemes,
            format_func=lambda s: reads.region_scheme(s).info.name,
            help="Campaigns on other region schemes still count in the totals.",
        )
    left, right = st.columns([3, 2])
    per_capita = left.toggle(
        "Signatures per 100,000 residents", value=False, help="Only for regions whose population is known."
    )
    daily = right.segmented_control("Over time", ["Hourly", "Daily"], default="Daily") != "Hourly"
    with errors.friendly_errors():
        _live(slug, staff, scheme, per_capita, daily)


@st.fragment(run_every=REFRESH_SECONDS)
def _live(slug: str, staff: bool, scheme: str | None, per_capita: bool, daily: bool) -> None:
    view = _view(get_settings().effective_database_url, slug, staff, scheme, per_capita, daily)
    data = view.data
    _headline(data)
    if view.note:
        st.caption(view.note)
    picked = _map(view)
    _region_detail(view, slug, picked)
    _ranking(view)
    st.subheader("Signatures over time", anchor=False)
    if view.over_time is None:
        st.caption("The first signatures will draw this chart.")
    else:
        st.vega_lite_chart(view.over_time, width="stretch")
        if not daily:
            st.caption("Hourly: the last 7 days. Daily: the whole campaign.")
    _letters(data)
    if slug == ALL:
        _campaigns_table(data)


def _headline(data: live.DashboardData) -> None:
    first, second, third = st.columns(3)
    first.metric("Signatures", f"{data.total:,}")
    reached = f"{100 * listing.goal_share(data.total, data.goal, capped=False):.0f}% reached" if data.goal else None
    second.metric("Goal", f"{data.goal:,}", reached, delta_color="off")
    third.metric("Last 24 hours", f"{data.last_24h:,}")
    widgets.progress(data.total, data.goal)
    st.caption(f"Updated at {widgets.local_time(data.read_at):%H:%M:%S} · refreshes every {REFRESH_SECONDS} seconds")
    passed = [m for m in data.milestones if m.reached_at is not None]
    if passed:
        parts = [
            f"{m.percent}% ({m.signatures:,}) on {widgets.local_time(m.reached_at):%-d %b, %H:%M}"  # type: ignore[arg-type]  # passed: reached_at is set
            for m in passed
        ]
        st.caption("Milestones reached: " + " · ".join(parts))


def _map(view: _View) -> str | None:
    """Draw the scheme's map (shapes or hexagons), or nothing; returns the region code clicked, if any."""
    if view.map is None:
        return None  # no shapes: the ranked bars below are the picture
    width: Literal["stretch", "content"] = "stretch" if view.map_fills_width else "content"
    event = st.vega_lite_chart(view.map, width=width, on_select="rerun", key="map")
    note = " ".join(part for part in (TABLE_NOTE if view.ranked_rows else "", view.attribution) if part)
    if note:
        st.caption(note)
    points = event.get("selection", {}).get("region", []) if event else []
    return points[0].get("code") if points else None


def _ranking(view: _View) -> None:
    """The top regions as bars, and every region with signatures in a ranked table."""
    if view.ranking is None:
        st.info("No signatures yet: the first ones will appear here within seconds.")
        return
    st.subheader("Top regions", anchor=False)
    st.vega_lite_chart(view.ranking, width="stretch")
    as_table = ": the map's figures as a table" if view.map is not None else ""
    with st.expander(f"All regions with signatures ({view.ranked_rows:,}){as_table}"):
        st.dataframe(view.ranked, hide_index=True, width="stretch")


def _region_detail(view: _View, slug: str, picked: str | None) -> None:
    """Pick a region (or click it on the map): its count, rate per capita, rank and daily trend."""
    regions, codes, names = view.data.regions, view.region_codes, view.region_names
    before = st.session_state.get("map_pick")
    if picked in names and picked != before:  # a new click on the map wins
        st.session_state["region"] = picked
    elif picked is None and before is not None:  # a double-click cleared the map's pick: clear the region too
        st.session_state["region"] = None
    st.session_state["map_pick"] = picked
    code = st.selectbox(
        "Region details",
        [None, *codes],
        format_func=lambda c: "Pick a region, or click it on the map" if c is None else names[c],
        key="region",
    )
    if code is None:
        return
    row: pd.Series = regions.set_index("code").loc[code]  # type: ignore[assignment]  # codes are unique: one row
    first, second, third = st.columns(3)
    first.metric("Signatures", f"{int(row['count']):,}")
    second.metric("Per 100,000", "n/a" if pd.isna(row["per_100k"]) else f"{row['per_100k']:.1f}")
    third.metric("Rank", f"{int(row['rank'])} of {len(regions)}")
    if slug != ALL:
        try:
            trend = _trend(get_settings().effective_database_url, slug, code, str(names[code]))
        except CampaignNotFound:
            return
        if trend is not None:
            st.vega_lite_chart(trend, width="stretch")


LETTER_LABELS = {
    "target": "Target",
    "title": "Title",
    "region": "Region",
    "sent": "Sent by Rally",
    "downloaded": "Downloaded by signers",
    "opened": "Opened in signers' mail app",
}


def _letters(data: live.DashboardData) -> None:
    if data.letters.empty:
        return
    st.subheader("Letters sent per target", anchor=False)
    st.dataframe(data.letters.rename(columns=LETTER_LABELS), hide_index=True, width="stretch")
    st.caption(
        "Sent by Rally: emailed to the target by Rally and accepted by the mail server. Signers may also "
        "download their letter (PDF or text) or open it in their own mail app; those are counted apart, "
        "because Rally can't know whether they were then posted or sent."
    )


def _campaigns_table(data: live.DashboardData) -> None:
    st.subheader("Campaigns", anchor=False)
    shares = [listing.goal_share(t, g) for t, g in zip(data.campaigns["total"], data.campaigns["goal"], strict=True)]
    table = data.campaigns.assign(progress=shares)
    st.dataframe(
        table.drop(columns=["slug"]),
        hide_index=True,
        width="stretch",
        column_config={
            "title": "Campaign",
            "status": "Status",
            "total": st.column_config.NumberColumn("Signatures", format="localized"),
            "goal": st.column_config.NumberColumn("Goal", format="localized"),
            "progress": st.column_config.ProgressColumn("Progress", min_value=0, max_value=1, format="percent"),
        },
    )
