"""Small pieces every page shows: text made safe for markdown, organizer markdown nested in a section,
local times, share links, deadlines, progress, the page style, the staff mail banner, the staff campaign picker
and the public footer."""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from campaigns.catalog import listing
from campaigns.core import plain_text, theme
from campaigns.core.mail import mail_mode, outbox_folder
from campaigns.core.models import Campaign
from campaigns.core.settings import get_settings
from campaigns.sharing import links


def plain(text: str) -> str:
    """Escape text so that st.markdown shows it literally (no markdown, links, colors, math, icons)."""
    return plain_text.escape(text)


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^( {0,3})(#{1,6})(?=[ \t]|$)")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_NOT_PARAGRAPH = re.compile(r"^ {0,3}([#>*+-]|\d{1,9}[.)]|`{3}|~{3})|^\s*$|^ {4}")


def nested_markdown(text: str, *, top: int = 4) -> str:
    """Organizer markdown shown inside a section of a page (an update under "Updates"): its headings start at
    level ``top`` (``#`` becomes ``####``, at most ``######``), so they never outrank the page's own headings.
    ATX (``## x``) and setext (``x`` over ``===`` or ``---``) headings; fenced code is left alone."""
    shift = max(0, top - 1)
    lines = text.split("\n")
    out: list[str] = []
    fence: str | None = None
    for line in lines:
        opened = _FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
            out.append(line)
            continue
        if opened:
            fence = opened.group(1)
            out.append(line)
            continue
        underline = _SETEXT.match(line)
        if underline and out and not _NOT_PARAGRAPH.match(out[-1]):
            level = 1 if underline.group(1)[0] == "=" else 2
            out[-1] = "#" * min(6, level + shift) + " " + out[-1].strip()
            continue
        atx = _ATX.match(line)
        if atx:
            line = atx.group(1) + "#" * min(6, len(atx.group(2)) + shift) + line[atx.end() :]
        out.append(line)
    return "\n".join(out)


def local_time(moment: datetime) -> datetime:
    """``moment`` in the viewer's time zone (as their browser reports it), else the server's."""
    name = st.context.timezone
    if name:
        try:
            return moment.astimezone(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return moment.astimezone()


def share_link(slug: str, *, light: bool = False, **utm: str) -> str:
    """The campaign's share link (``light``: its spike mode, ``light_share_link``)."""
    return links.share_url(slug, light=light, **utm)


def query_in_address_bar() -> None:
    """Put the query this page runs with in the browser's address bar. Streamlit 1.67 runs a page link's query
    (``page_link(..., query=...)``) without showing it there, so the address could not be shared, bookmarked or
    reloaded as it is, and going back would show the wrong page; this says it (one small message a run)."""
    st.query_params.from_dict({key: value for key, value in st.query_params.to_dict().items() if value})


def _not_called() -> None:
    """Never runs: see ``page_link``."""


def page_link(
    url_path: str,
    label: str,
    *,
    query: dict[str, str] | None = None,
    kind: Literal["link", "primary", "secondary"] = "link",
    icon: str | None = None,
) -> None:
    """A real link (``<a href>``) to one of the app's pages, ``url_path`` ("" for the campaign list), opened in the
    same tab without reloading the app, and long-pressed, copied or opened in a new tab like any link.

    ``kind`` "primary" or "secondary" styles it as a button (see ``_STYLE``). ``st.page_link`` knows the page by
    its URL path alone: the st.Page here only names it (``navigation.py`` registers the real one).
    """
    page = st.Page(_not_called, url_path=url_path or "campaigns", default=not url_path, title=label)
    with st.container(key=f"link-{kind}-{zlib.crc32(repr((url_path, label, query)).encode()):08x}"):
        st.page_link(page, label=label, icon=icon, query_params=query)


def deadline_text(deadline: datetime | None, is_open: bool) -> str:
    return listing.deadline_text(deadline, is_open)


def progress(total: int, goal: int) -> None:
    st.progress(listing.goal_share(total, goal), text=f"**{total:,}** of {goal:,} signatures")


# Static CSS only (no user text). The accessibility rules are checked with axe-core in the browser tests
# (tests/e2e/test_e2e_accessibility.py): keep them when changing the look.
_STYLE = """
<style>
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem; padding-bottom: 3rem; }
/* Staff pages have a top bar (the menu, or on a phone its button), 3.75rem high: start below it. */
.stApp:has([data-testid="stTopNav"], [data-testid="stExpandSidebarButton"]) [data-testid="stMainBlockContainer"] {
  padding-top: 5rem;
}
/* The overview's cards: four figures a row, with room between them. */
[class*="st-key-overview-"] [data-testid="stMetricValue"] { font-size: 1.75rem; }
/* A heading a link jumps to (#next-steps) lands below that bar too. */
[data-testid="stMainBlockContainer"] :is(h1, h2, h3, h4, h5) { scroll-margin-top: 6rem; }
/* Captions: Streamlit draws them at 60% opacity, 3.9:1 on white and its links 3:1; WCAG AA asks 4.5:1 for this
   small text. 85% gives 8.5:1 (links 5.2:1) and still reads as secondary, in a light or a dark theme. */
[data-testid="stCaptionContainer"] { opacity: 0.85; }
/* A focus ring that keyboard users can see on every control (Streamlit's own is a faint border change). */
:is(a, button, summary, [role="button"], [role="tab"], [role="radio"]):focus-visible {
  outline: 3px solid #1D4ED8 !important; outline-offset: 2px;
}
[data-testid="stTextInputRootElement"]:focus-within, [data-testid="stTextAreaRootElement"]:focus-within,
[data-testid="stNumberInputContainer"]:focus-within, [data-testid="stSelectbox"] div:has(> input:focus) {
  outline: 3px solid #1D4ED8; outline-offset: 1px;
}
[data-testid="stCheckbox"] label:has(input:focus-visible) { outline: 3px solid #1D4ED8; outline-offset: 2px; }
@media (max-width: 640px) {
  [data-testid="stMainBlockContainer"] { padding-top: 1.25rem; }
  .stApp:has([data-testid="stTopNav"], [data-testid="stExpandSidebarButton"]) [data-testid="stMainBlockContainer"] {
    padding-top: 4.5rem;
  }
  h1 { font-size: 2rem !important; line-height: 1.15 !important; }
  [class*="st-key-overview-"] [data-testid="stMetricValue"] { font-size: 1.5rem; }  /* the overview's cards */
}
/* page_link(): a link to a page, not the menu's "you are here" look; kinds primary and secondary look like buttons */
[class*="st-key-link-"] [data-testid="stPageLink-NavLink"] { background-color: transparent; }
[class*="st-key-link-"] [data-testid="stPageLink-NavLink"] p { font-weight: 400; }
[class*="st-key-link-primary-"] [data-testid="stPageLink-NavLink"],
[class*="st-key-link-secondary-"] [data-testid="stPageLink-NavLink"] {
  justify-content: center; min-height: 2.5rem; padding: 0.25rem 0.875rem; margin: 0;
  border: 1px solid rgba(49, 51, 63, 0.2); border-radius: 0.5rem; background-color: #fff;
}
[class*="st-key-link-primary-"] [data-testid="stPageLink-NavLink"] { background-color: PRIMARY; border-color: PRIMARY; }
[class*="st-key-link-primary-"] [data-testid="stPageLink-NavLink"] * { color: #fff !important; }
[class*="st-key-link-primary-"] [data-testid="stPageLink-NavLink"]:hover { filter: brightness(0.9); }
[class*="st-key-link-secondary-"] [data-testid="stPageLink-NavLink"]:hover { border-color: PRIMARY; }
[class*="st-key-link-"] [data-testid="stPageLink-NavLink"]:focus-visible {
  outline: 2px solid PRIMARY; outline-offset: 2px;
}
/* the share box (sharing/buttons.py) */
.rally-share-label { display: block; font-size: 0.875rem; margin-bottom: 0.25rem; }
.rally-share-row { display: flex; flex-wrap: wrap; gap: 0.5rem; }
.rally-share-link {
  flex: 1 1 14rem; min-width: 0; font: inherit; font-size: 0.875rem; color: inherit; background: #f6f6f7;
  padding: 0.45rem 0.6rem; border: 1px solid rgba(49, 51, 63, 0.2); border-radius: 0.5rem;
}
.rally-share-button {
  font: inherit; font-size: 0.875rem; min-height: 2.5rem; padding: 0.25rem 0.875rem; border-radius: 0.5rem;
  cursor: pointer;
  border: 1px solid PRIMARY; background: PRIMARY; color: #fff;
}
.rally-share-button[hidden] { display: none; }
.rally-share-button:hover { filter: brightness(0.9); }
.rally-share-button:focus-visible, .rally-share-link:focus-visible { outline: 2px solid PRIMARY; outline-offset: 2px; }
@media (max-width: 640px) { .rally-share-link { flex-basis: 100%; } }
.rally-share-status { min-height: 1.25rem; margin: 0.25rem 0 0; font-size: 0.875rem; }
/* the share channels (ui/share.py): one markdown element, each link drawn as a button */
:is(.st-key-share-page, .st-key-share-supporter) p { display: flex; flex-wrap: wrap; gap: 0.5rem; margin: 0; }
:is(.st-key-share-page, .st-key-share-supporter) a {
  display: inline-flex; align-items: center; min-height: 2.5rem; padding: 0.25rem 0.875rem; font-size: 0.875rem;
  border: 1px solid rgba(49, 51, 63, 0.2); border-radius: 0.5rem; background-color: #fff; color: #31333F;
  text-decoration: none;
}
:is(.st-key-share-page, .st-key-share-supporter) a:hover { border-color: PRIMARY; color: PRIMARY; }
</style>
"""


def apply_style() -> None:
    """Tighter spacing, room for the staff pages' top bar, a phone-sized title, links that look like buttons and
    the share box; static CSS only (the theme's primary colour from .streamlit/config.toml), never any user text."""
    primary = st.get_option("theme.primaryColor") or theme.primary_hex()
    st.html(_STYLE.replace("PRIMARY", primary if re.fullmatch(r"#[0-9A-Fa-f]{3,8}", primary) else theme.primary_hex()))


def mail_banner() -> None:
    """Staff pages: say plainly when supporters cannot receive email (confirmations, receipts, links)."""
    mode = mail_mode()
    if mode == "smtp":
        return
    where = (
        f"Messages are written to the development outbox folder ({outbox_folder()}), not sent."
        if mode == "outbox"
        else "Rally sends no email at all."
    )
    st.warning(
        f"**Mail is not set up.** {where} Supporters cannot receive confirmations or links until an SMTP "
        "server is configured (RALLY_SMTP_HOST and RALLY_MAIL_FROM; see the README's Mail section).",
        icon=":material/unsubscribe:",
    )


def campaign_choices(campaigns: Sequence[Campaign], empty: str) -> dict[str, str]:
    """A staff page's campaign picker: slug → "Title (status)", in the order given.

    With no campaign at all, says ``empty`` and returns no choices (the page then has nothing to show).
    """
    if not campaigns:
        st.info(empty)
    labels = {c.slug: f"{c.title} ({c.status})" for c in campaigns}
    seen = Counter(labels.values())
    # two campaigns of one title and status: the link name tells them apart (a picker needs distinct labels)
    return {slug: label if seen[label] == 1 else f"{label[:-1]}, {slug})" for slug, label in labels.items()}


def public_footer() -> None:
    """The public pages' footer: supporters' own data, proposing a campaign, and the staff log-in."""
    st.caption("[Your data](/my-data) · [Propose a campaign](/propose) · [Staff log-in](/auth/login)")


def file_upload(
    label: str, *, types: list[str], key: str | None = None, help: str | None = None
) -> UploadedFile | None:
    """A file picker that says and enforces Rally's own limit (RALLY_MAX_UPLOAD_MB), not Streamlit's."""
    return st.file_uploader(label, type=types, key=key, max_upload_size=get_settings().max_upload_mb)


@contextmanager
def pager(*, key: str, page: int, pages: int, where: str) -> Iterator[None]:
    """Previous, where we are (``where``), next, in one row, on a phone too; what the block adds joins the row.
    The buttons set ``st.session_state[f"{key}-page"]``, which the page reads for the page to show."""

    def go(to: int) -> None:
        st.session_state[f"{key}-page"] = to

    with st.container(horizontal=True, vertical_alignment="center", key=f"{key}-pager"):
        st.button(
            "Previous",
            icon=":material/chevron_left:",
            disabled=page <= 1,
            key=f"{key}-previous",
            on_click=go,
            args=(page - 1,),
        )
        st.markdown(where, width="content")
        st.button(
            "Next",
            icon=":material/chevron_right:",
            icon_position="right",
            disabled=page >= pages,
            key=f"{key}-next",
            on_click=go,
            args=(page + 1,),
        )
        yield
