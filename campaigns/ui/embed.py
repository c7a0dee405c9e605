"""The embeddable widget: one campaign's title, live count, progress and a sign link, for an iframe on any site.

Organizers paste ``<iframe src="<RALLY_PUBLIC_URL>/embed?campaign=<slug>&embed=true">`` into their site
(README, "Embedding a campaign"). ``embed=true`` makes Streamlit drop its own chrome; this page shows only
the widget. The widget holds no form and no link that navigates inside the frame: the sign link opens the
campaign page in a new tab, where the page is never framed (web/middleware.py allows framing of ``/embed`` only).
"""

from __future__ import annotations

import streamlit as st

from campaigns.core.errors import CampaignNotFound
from campaigns.ui import errors, reads, widgets

REFRESH_SECONDS = 10
URL_PATH = "embed"

# Static CSS only (no user text): a compact card that fits a 360x220 iframe.
_STYLE = """
<style>
[data-testid="stMainBlockContainer"] { padding: 0.75rem 1rem 0.5rem !important; }
[data-testid="stMainBlockContainer"] [data-testid="stVerticalBlock"] { gap: 0.5rem; }
[data-testid="stProgress"] { margin-top: 0.6rem; }
[data-testid="stHeading"] h3 {
  padding: 0 !important; font-size: 1.1rem !important; line-height: 1.3 !important;
  display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden;
}
</style>
"""


def render() -> None:
    st.html(_STYLE)
    slug = st.query_params.get("campaign")
    if not slug:
        st.info("Add the campaign's link name to the address: `/embed?campaign=<link name>&embed=true`.")
        return
    with errors.friendly_errors():
        _live(slug)


@st.fragment(run_every=REFRESH_SECONDS)
def _live(slug: str) -> None:
    """Re-read every few seconds through the shared cache: one database read per campaign and interval."""
    try:
        page, read_at = reads.campaign_page_read_at(slug)
    except CampaignNotFound as exc:
        where = f"“{widgets.plain(slug)}”" if exc.shown else "that address"
        st.warning(
            f"There is no published campaign at {where}. "
            "Check the link name in the embed code; drafts appear here once they are published.",
            icon=":material/search_off:",
        )
        return
    st.subheader(widgets.plain(page.title), anchor=False)
    widgets.progress(page.total, page.goal)
    if page.is_open:
        st.link_button(
            "Sign the campaign",
            widgets.share_link(page.slug, light=page.light_share_link, utm_source="embed", utm_medium="widget"),
            type="primary",
            icon=":material/open_in_new:",
            width="stretch",
        )
    else:
        st.markdown(f"**Closed.** Final count: {page.total:,} signature{'s' if page.total != 1 else ''}.")
    st.caption(f"Live · updated {widgets.local_time(read_at):%H:%M:%S}")
