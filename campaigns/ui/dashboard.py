"""The live dashboard: a campaign's signatures by region, refreshing itself as they arrive."""

from __future__ import annotations

from datetime import datetime

import altair as alt
import pandas as pd
import streamlit as st

from campaigns import catalog, dashboard
from campaigns.db import read_session
from campaigns.settings import get_settings
from campaigns.ui import common

REFRESH_SECONDS = 5
PROJECTIONS = {"us-states": "albersUsa", "world-countries": "equalEarth"}


@st.cache_data(ttl=REFRESH_SECONDS, show_spinner=False)
def _regions(url: str, slug: str) -> tuple[catalog.CampaignPage, pd.DataFrame, datetime]:
    """One database read per campaign and interval, however many people watch."""
    with read_session(common.engine()) as session:
        page = catalog.get_campaign_page(session=session, slug=slug)
        campaign = catalog.get_campaign_by_slug(session, slug)
        assert campaign is not None and campaign.id is not None
        table = dashboard.region_table(session, campaign.id, campaign.region_scheme)
    return page, table, datetime.now().astimezone()


def render() -> None:
    campaigns = common.public_campaigns()
    st.title("Live dashboard")
    if not campaigns:
        st.info("There are no campaigns to show yet.")
        return
    slugs = [c.slug for c in campaigns]
    titles = {c.slug: c.title for c in campaigns}
    wanted = st.query_params.get("campaign")
    slug = st.selectbox("Campaign", slugs, index=slugs.index(wanted) if wanted in slugs else 0, format_func=titles.get)
    per_capita = st.toggle(
        "Signatures per 100,000 residents", value=False, help="Where the region's population is known."
    )
    with common.friendly_errors():
        _live(slug, per_capita)


@st.fragment(run_every=REFRESH_SECONDS)
def _live(slug: str, per_capita: bool) -> None:
    page, table, read_at = _regions(get_settings().effective_database_url, slug)
    total = int(table["count"].sum())
    left, right = st.columns(2)
    left.metric("Signatures", f"{total:,}")
    right.metric("Goal", f"{page.goal:,}", f"{min(100.0, 100 * total / page.goal):.0f}% reached" if page.goal else None)
    common.progress(total, page.goal)
    st.caption(f"Updated at {read_at:%H:%M:%S} · refreshes every {REFRESH_SECONDS} seconds")
    metric = "per_100k" if per_capita else "count"
    label = "Signatures per 100,000" if per_capita else "Signatures"
    info = common.region_scheme(page.region_scheme).info
    if info.shape_kind == "topojson" and info.shape_object:
        st.altair_chart(_map(table, page.region_scheme, info.shape_object, metric, label), use_container_width=True)
    _ranking(table, metric, label)


def _map(table: pd.DataFrame, scheme_id: str, shape_object: str, metric: str, label: str) -> alt.Chart:
    shapes = alt.topo_feature(f"/api/shapes/{scheme_id}.json", shape_object)  # cached by the browser
    values = table.dropna(subset=["shape_id"])[["shape_id", "name", "count", "per_100k"]].fillna({"per_100k": 0})
    return (
        alt.Chart(shapes)
        .mark_geoshape(stroke="white", strokeWidth=0.4)
        .transform_lookup(lookup="id", from_=alt.LookupData(values, "shape_id", ["name", "count", "per_100k"]))
        .encode(
            color=alt.Color(
                f"{metric}:Q", title=label, scale=alt.Scale(scheme="oranges"), legend=alt.Legend(orient="bottom")
            ),
            tooltip=[
                alt.Tooltip("name:N", title="Region"),
                alt.Tooltip("count:Q", title="Signatures", format=","),
                alt.Tooltip("per_100k:Q", title="Per 100,000", format=".1f"),
            ],
        )
        .project(PROJECTIONS.get(scheme_id, "equalEarth"))
        .properties(height=380)
    )


def _ranking(table: pd.DataFrame, metric: str, label: str) -> None:
    ranked = table[table["count"] > 0].sort_values(metric, ascending=False).head(15)
    if ranked.empty:
        st.info("No signatures yet: the first ones will appear here within seconds.")
        return
    st.subheader("Top regions", anchor=False)
    chart = (
        alt.Chart(ranked)
        .mark_bar(color="#C2410C")
        .encode(
            x=alt.X(f"{metric}:Q", title=label),
            y=alt.Y("name:N", sort="-x", title=None),
            tooltip=["name:N", alt.Tooltip("count:Q", format=","), alt.Tooltip("per_100k:Q", format=".1f")],
        )
        .properties(height=28 * len(ranked) + 20)
    )
    st.altair_chart(chart, use_container_width=True)
