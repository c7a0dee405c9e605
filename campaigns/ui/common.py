"""What every page shares: the engine, cached public reads, safe text, and error handling."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st
from sqlalchemy.engine import Engine

from campaigns.catalog import listing
from campaigns.core import client_address as address_rule
from campaigns.core.audit import Actor
from campaigns.core.db import get_engine, read_session, run_write
from campaigns.core.errors import RallyError, StorageError
from campaigns.core.mail import mail_mode, outbox_folder
from campaigns.core.migrate import upgrade
from campaigns.core.models import Campaign, CampaignPublic, CampaignSummary
from campaigns.core.settings import get_settings
from campaigns.people import logins
from campaigns.regions import custom
from campaigns.regions.schemes import RegionScheme
from campaigns.signatures import moderation

log = logging.getLogger("campaigns.ui")
PUBLIC_TTL_SECONDS = 5

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>:$&=\"'])")


def plain(text: str) -> str:
    """Escape text so that st.markdown shows it literally (no markdown, links, colors, math, icons)."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return escaped.replace("\n", "  \n")


@st.cache_resource(show_spinner=False)
def _engine_for(url: str) -> Engine:
    engine = get_engine()
    upgrade(engine)
    return engine


def engine() -> Engine:
    """The process-wide engine, with the schema brought up to date once per process."""
    return _engine_for(get_settings().effective_database_url)


@st.cache_data(ttl=PUBLIC_TTL_SECONDS, show_spinner=False)
def _public_campaigns(url: str) -> list[CampaignSummary]:
    with read_session(engine()) as session:
        return listing.list_public_campaigns(session=session)


def public_campaigns() -> list[CampaignSummary]:
    return _public_campaigns(get_settings().effective_database_url)


@st.cache_data(ttl=PUBLIC_TTL_SECONDS, show_spinner=False)
def _campaign_page(url: str, slug: str) -> tuple[CampaignPublic, datetime]:
    with read_session(engine()) as session:
        return listing.get_campaign_page(session=session, slug=slug), datetime.now(UTC)


def campaign_page(slug: str) -> CampaignPublic:
    return _campaign_page(get_settings().effective_database_url, slug)[0]


def campaign_page_read_at(slug: str) -> tuple[CampaignPublic, datetime]:
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
    with read_session(engine()) as session:
        campaign = listing.get_public_campaign(session=session, slug=slug)
        return moderation.public_comments(session, campaign.id or 0)


def public_comments(slug: str) -> list[moderation.PublicComment]:
    return _public_comments(get_settings().effective_database_url, slug)


def region_scheme(scheme_id: str) -> RegionScheme:
    """A shipped or custom scheme (custom ones are read once, then kept: they never change)."""
    with read_session(engine()) as session:
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
    st.progress(listing.goal_share(total, goal), text=f"**{total:,}** of {goal:,} signatures")


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


# --- who is looking ---------------------------------------------------------------------------


def session_cookie() -> str | None:
    """The browser's Rally session cookie (HttpOnly: sent with the websocket that runs this script)."""
    value = st.context.cookies.get(logins.COOKIE_NAME)
    return value if isinstance(value, str) else None


def client_address() -> str:
    """This visitor's address by Rally's one rule (campaigns/core/client_address.py), from the websocket's peer and
    its X-Forwarded-For. Streamlit reports a loopback peer (a proxy on this machine) as None: it is taken as
    127.0.0.1 when there is a connection at all (its headers), "unknown" otherwise."""
    headers = st.context.headers
    reported = st.context.ip_address
    peer = reported if isinstance(reported, str) else ("127.0.0.1" if headers else None)
    forwarded = [value for value in headers.get_all("X-Forwarded-For") if isinstance(value, str)] if headers else []
    return address_rule.client_address(peer, ", ".join(forwarded) or None)


def current_actor() -> Actor | None:
    """The logged-in person, checked against the database on every run (logout and deactivation apply at once)."""
    cookie = session_cookie()
    if not cookie:
        return None
    try:
        return run_write(engine(), lambda session: logins.identify(session=session, cookie_value=cookie))
    except RallyError:
        log.exception("could not check the session")
        return None


def require(*roles: str) -> Actor:
    """Stop the page unless the person holds one of ``roles`` (pages are also hidden from navigation)."""
    actor = current_actor()
    if actor is None or not any(actor.has(role) for role in roles):
        st.error("This page is for Rally staff with the right role. Log in, or ask an admin for access.")
        st.link_button("Log in", "/auth/login")
        st.stop()
    assert actor is not None
    mail_banner()
    return actor


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


def campaign_choices(list_campaigns: Callable[..., Sequence[Campaign]], empty: str) -> dict[str, str]:
    """A staff page's campaign picker: slug → "Title (status)", in the order ``list_campaigns(session=...)`` gives.

    With no campaign at all, says ``empty`` and returns no choices (the page then has nothing to show).
    """
    with read_session(engine()) as session:
        campaigns = list_campaigns(session=session)
    if not campaigns:
        st.info(empty)
    return {c.slug: f"{c.title} ({c.status})" for c in campaigns}


def staff_login_link() -> None:
    st.caption("[Staff log-in](/auth/login)")


def public_footer() -> None:
    """The public pages' footer: supporters' own data, and the staff log-in."""
    st.caption("[Your data](/my-data) · [Staff log-in](/auth/login)")
