"""The live dashboard: a campaign's signatures by region and over time, refreshing itself as they arrive.

Every viewer reads through ``st.cache_data`` with a short TTL, so however many people watch, one
process reads the aggregate rows once per campaign and interval. The live part is one
``st.fragment(run_every=...)``: only it reruns on the timer, never the selectors above it.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from campaigns import dashboard
from campaigns.audit import Actor
from campaigns.db import read_session, snapshot_session
from campaigns.errors import CampaignNotFound
from campaigns.regions import hex_layout
from campaigns.settings import get_settings
from campaigns.ui import common, dashboard_charts

REFRESH_SECONDS = 5
ALL = "__all__"  # the all-campaigns view (staff only)
STAFF_ROLES = ("organizer", "coordinator", "admin")


@st.cache_data(ttl=REFRESH_SECONDS, show_spinner=False)
def _dashboard(url: str, slug: str, staff: bool, scheme: str | None) -> dashboard.DashboardData:
    """One database read per campaign (and view) and interval, however many people watch."""
    with snapshot_session(common.engine()) as session:
        if slug == ALL:
            return dashboard.read_all_campaigns(session, scheme_id=scheme or "us-states")
        return dashboard.read_dashboard(session, slug=slug, staff=staff)


@st.cache_data(ttl=REFRESH_SECONDS, show_spinner=False)
def _staff_choices(url: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Staff: every campaign they may watch (drafts included), and the schemes of the public ones."""
    with read_session(common.engine()) as session:
        return dashboard.campaign_choices(session), dashboard.schemes_in_use(session)


@st.cache_data(ttl=REFRESH_SECONDS, show_spinner=False)
def _trend(url: str, slug: str, code: str) -> pd.DataFrame:
    with read_session(common.engine()) as session:
        return dashboard.region_trend(session, slug=slug, region_code=code)


def _staff(actor: Actor | None) -> bool:
    return actor is not None and any(actor.has(role) for role in STAFF_ROLES)


def render() -> None:
    st.title("Live dashboard")
    url = get_settings().effective_database_url
    staff = _staff(common.current_actor())
    if staff:
        choices, schemes = _staff_choices(url)
        options = [ALL, *[slug for slug, _ in choices]]
        titles = {ALL: "All campaigns", **dict(choices)}
    else:
        campaigns = common.public_campaigns()
        options, schemes = [c.slug for c in campaigns], []
        titles = {c.slug: c.title for c in campaigns}
    if not options:
        st.info("There are no campaigns to show yet.")
        return
    wanted = st.query_params.get("campaign")
    slug = st.selectbox(
        "Campaign", options, index=options.index(wanted) if wanted in options else 0, format_func=titles.get
    )
    if slug != ALL:
        st.query_params["campaign"] = slug  # the address can be shared as it is
    scheme = None
    if slug == ALL and schemes:
        scheme = st.selectbox(
            "Map campaigns on",
            schemes,
            format_func=lambda s: common.region_scheme(s).info.name,
            help="Campaigns on other region schemes still count in the totals.",
        )
    left, right = st.columns([3, 2])
    per_capita = left.toggle(
        "Signatures per 100,000 residents", value=False, help="Only for regions whose population is known."
    )
    daily = right.segmented_control("Over time", ["Hourly", "Daily"], default="Daily") != "Hourly"
    with common.friendly_errors():
        _live(slug, staff, scheme, per_capita, daily)


@st.fragment(run_every=REFRESH_SECONDS)
def _live(slug: str, staff: bool, scheme: str | None, per_capita: bool, daily: bool) -> None:
    data = _dashboard(get_settings().effective_database_url, slug, staff, scheme)
    _headline(data)
    metric = "per_100k" if per_capita else "count"
    label = "Signatures per 100,000" if per_capita else "Signatures"
    if per_capita and data.regions["per_100k"].isna().all():
        st.caption("Population is not known for this scheme's regions: showing signatures instead.")
        metric, label = "count", "Signatures"
    picked = _map(data, metric, label)
    _region_detail(data, slug, picked)
    dashboard_charts.ranking(data.regions, metric, label)
    _over_time(data, daily)
    _letters(data)
    if slug == ALL:
        _campaigns_table(data)


def _headline(data: dashboard.DashboardData) -> None:
    first, second, third = st.columns(3)
    first.metric("Signatures", f"{data.total:,}")
    reached = f"{100 * data.total / data.goal:.0f}% reached" if data.goal else None
    second.metric("Goal", f"{data.goal:,}", reached, delta_color="off")
    third.metric("Last 24 hours", f"{data.last_24h:,}")
    common.progress(data.total, data.goal)
    st.caption(f"Updated at {common.local_time(data.read_at):%H:%M:%S} · refreshes every {REFRESH_SECONDS} seconds")
    passed = [m for m in data.milestones if m.reached_at is not None]
    if passed:
        parts = [
            f"{m.percent}% ({m.signatures:,}) on {common.local_time(m.reached_at):%-d %b, %H:%M}"  # type: ignore[arg-type]
            for m in passed
        ]
        st.caption("Milestones reached: " + " · ".join(parts))


def _map(data: dashboard.DashboardData, metric: str, label: str) -> str | None:
    """Draw the scheme's map (shapes or hexagons), or nothing; returns the region code clicked, if any."""
    info = common.region_scheme(data.region_scheme).info
    if info.shape_kind == "geojson" or (info.shape_kind == "topojson" and info.shape_object):
        chart = dashboard_charts.choropleth(data.regions, info.id, info.shape_kind, info.shape_object, metric, label)
    elif info.shape_kind == "hexjson":
        chart = dashboard_charts.hexmap(data.regions, hex_layout(info.id), metric, label)
    else:
        return None  # no shapes: the ranked bars below are the picture
    fill = info.shape_kind != "hexjson"  # a hex map keeps its own size: its cells are sized in pixels
    event = st.altair_chart(chart, use_container_width=fill, on_select="rerun", key="map")
    if info.attribution:
        st.caption(info.attribution)
    points = (event or {}).get("selection", {}).get("region", []) if event else []
    return points[0].get("code") if points else None


def _region_detail(data: dashboard.DashboardData, slug: str, picked: str | None) -> None:
    """Pick a region (or click it on the map): its count, rate per capita, rank and daily trend."""
    regions = data.regions
    codes = list(regions.sort_values("name")["code"])
    names = dict(zip(regions["code"], regions["name"], strict=True))
    if picked in names and picked != st.session_state.get("map_pick"):  # a new click on the map wins
        st.session_state["region"] = picked
    st.session_state["map_pick"] = picked
    code = st.selectbox(
        "Region details",
        [None, *codes],
        format_func=lambda c: "Pick a region, or click it on the map" if c is None else names[c],
        key="region",
    )
    if code is None:
        return
    row = regions.set_index("code").loc[code]
    first, second, third = st.columns(3)
    first.metric("Signatures", f"{int(row['count']):,}")
    second.metric("Per 100,000", "n/a" if pd.isna(row["per_100k"]) else f"{row['per_100k']:.1f}")
    third.metric("Rank", f"{int(row['rank'])} of {len(regions)}")
    if slug != ALL:
        try:
            trend = _trend(get_settings().effective_database_url, slug, code)
        except CampaignNotFound:
            return
        if not trend.empty:
            st.altair_chart(dashboard_charts.trend(trend, str(names[code])), use_container_width=True)


def _over_time(data: dashboard.DashboardData, daily: bool) -> None:
    st.subheader("Signatures over time", anchor=False)
    frame = dashboard.series(data.hourly, daily=daily, until=data.read_at)
    if frame.empty:
        st.caption("The first signatures will draw this chart.")
        return
    st.altair_chart(dashboard_charts.over_time(frame, data.goal, daily), use_container_width=True)


def _letters(data: dashboard.DashboardData) -> None:
    if data.letters.empty:
        return
    st.subheader("Letters sent per target", anchor=False)
    table = data.letters.rename(columns={"target": "Target", "title": "Title", "region": "Region", "sent": "Sent"})
    st.dataframe(table, hide_index=True, use_container_width=True)


def _campaigns_table(data: dashboard.DashboardData) -> None:
    st.subheader("Campaigns", anchor=False)
    table = data.campaigns.assign(progress=lambda f: (f["total"] / f["goal"].where(f["goal"] > 0)).clip(upper=1))
    st.dataframe(
        table.drop(columns=["slug"]),
        hide_index=True,
        use_container_width=True,
        column_config={
            "title": "Campaign",
            "status": "Status",
            "total": st.column_config.NumberColumn("Signatures", format="localized"),
            "goal": st.column_config.NumberColumn("Goal", format="localized"),
            "progress": st.column_config.ProgressColumn("Progress", min_value=0, max_value=1, format="percent"),
        },
    )
