"""Small pieces every page shows: text made safe for markdown, local times, share links, deadlines, progress,
the page style, the staff mail banner, the staff campaign picker and the public footer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from campaigns.catalog import listing
from campaigns.core.mail import mail_mode, outbox_folder
from campaigns.core.models import Campaign
from campaigns.sharing import links

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>:$&=\"'])")


def plain(text: str) -> str:
    """Escape text so that st.markdown shows it literally (no markdown, links, colors, math, icons)."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return escaped.replace("\n", "  \n")


def local_time(moment: datetime) -> datetime:
    """``moment`` in the viewer's time zone (as their browser reports it), else the server's."""
    name = st.context.timezone
    if name:
        try:
            return moment.astimezone(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return moment.astimezone()


def share_link(slug: str, **utm: str) -> str:
    return links.share_url(slug, **utm)


def deadline_text(deadline: datetime | None, is_open: bool) -> str:
    if not is_open:
        return "Closed"
    left = listing.days_left(deadline)
    if left is None:
        return "No deadline"
    if left == 0:
        return "Last day to sign"
    return f"{left} day{'s' if left != 1 else ''} left"


def progress(total: int, goal: int) -> None:
    st.progress(listing.goal_share(total, goal), text=f"**{total:,}** of {goal:,} signatures")


# Static CSS only (no user text). The accessibility rules are checked with axe-core in the browser tests
# (tests/e2e/test_e2e_accessibility.py): keep them when changing the look.
_STYLE = """
<style>
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem; padding-bottom: 3rem; }
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
  h1 { font-size: 2rem !important; line-height: 1.15 !important; }
}
</style>
"""


def apply_style() -> None:
    """Tighter spacing and a phone-sized title; static CSS only, never any user text."""
    st.html(_STYLE)


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
    return {c.slug: f"{c.title} ({c.status})" for c in campaigns}


def public_footer() -> None:
    """The public pages' footer: supporters' own data, and the staff log-in."""
    st.caption("[Your data](/my-data) · [Staff log-in](/auth/login)")
