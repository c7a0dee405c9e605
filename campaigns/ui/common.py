"""What every page shares: cached public reads, safe text, and error handling (the database: ui/access.py)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from campaigns.catalog import listing
from campaigns.core.errors import RallyError, StorageError
from campaigns.core.mail import mail_mode, outbox_folder
from campaigns.core.models import Campaign
from campaigns.core.settings import get_settings
from campaigns.regions import custom
from campaigns.regions.schemes import RegionScheme
from campaigns.signatures import moderation
from campaigns.ui import access

log = logging.getLogger("campaigns.ui")
PUBLIC_TTL_SECONDS = 5

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>:$&=\"'])")


def plain(text: str) -> str:
    """Escape text so that st.markdown shows it literally (no markdown, links, colors, math, icons)."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return escaped.replace("\n", "  \n")


@st.cache_data(ttl=PUBLIC_TTL_SECONDS, show_spinner=False)
def _public_campaigns(url: str) -> list[listing.CampaignSummary]:
    with access.reading() as session:
        return listing.list_public_campaigns(session=session)


def public_campaigns() -> list[listing.CampaignSummary]:
    return _public_campaigns(get_settings().effective_database_url)


@st.cache_data(ttl=PUBLIC_TTL_SECONDS, show_spinner=False)
def _campaign_page(url: str, slug: str) -> tuple[listing.CampaignPage, datetime]:
    with access.reading() as session:
        return listing.get_campaign_page(session=session, slug=slug), datetime.now(UTC)


def campaign_page(slug: str) -> listing.CampaignPage:
    return _campaign_page(get_settings().effective_database_url, slug)[0]


def campaign_page_read_at(slug: str) -> tuple[listing.CampaignPage, datetime]:
    """The cached public page and when it was read from the database (UTC): for "updated at" notes."""
    return _campaign_page(get_settings().effective_database_url, slug)


def local_time(moment: datetime) -> datetime:
    """``moment`` in the viewer's time zone (as their browser reports it), else the server's."""
    name = st.context.timezone
    if name:
        try:
            return moment.astimezone(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return moment.astimezone()


@st.cache_data(ttl=PUBLIC_TTL_SECONDS, show_spinner=False)
def _public_comments(url: str, slug: str) -> list[moderation.PublicComment]:
    with access.reading() as session:
        campaign = listing.get_public_campaign(session=session, slug=slug)
        return moderation.public_comments(session, campaign.id or 0)


def public_comments(slug: str) -> list[moderation.PublicComment]:
    return _public_comments(get_settings().effective_database_url, slug)


def region_scheme(scheme_id: str) -> RegionScheme:
    """A shipped or custom scheme (custom ones are read once, then kept: they never change)."""
    with access.reading() as session:
        return custom.resolve_scheme(session, scheme_id)


def forget_public_reads() -> None:
    """After this person's own write: show them the count including their signature."""
    _campaign_page.clear()
    _public_campaigns.clear()
    _public_comments.clear()


def share_link(slug: str, **utm: str) -> str:
    base = get_settings().public_url.rstrip("/")
    return f"{base}/?{urlencode({'campaign': slug, **utm})}"


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
    st.progress(min(1.0, total / goal) if goal else 0.0, text=f"**{total:,}** of {goal:,} signatures")


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Known errors become their message; anything else is logged and shown as a short apology."""
    try:
        yield
    except StorageError as exc:  # an operator must act: the detail goes to the log, the visitor gets the apology
        log.error("database unavailable: %s", exc.detail)
        st.error(exc.user_message)
    except RallyError as exc:
        st.error(exc.user_message)
    except Exception:
        log.exception("page failed")
        st.error("Sorry, something went wrong on our side. Please try again in a moment.")


_STYLE = """
<style>
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem; padding-bottom: 3rem; }
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


def campaign_choices(list_campaigns: Callable[[Any], Sequence[Campaign]], empty: str) -> dict[str, str]:
    """A staff page's campaign picker: slug → "Title (status)", in the order ``list_campaigns(session)`` gives.

    With no campaign at all, says ``empty`` and returns no choices (the page then has nothing to show).
    """
    with access.reading() as session:
        campaigns = list_campaigns(session)
    if not campaigns:
        st.info(empty)
    return {c.slug: f"{c.title} ({c.status})" for c in campaigns}


def public_footer() -> None:
    """The public pages' footer: supporters' own data, and the staff log-in."""
    st.caption("[Your data](/my-data) · [Staff log-in](/auth/login)")
