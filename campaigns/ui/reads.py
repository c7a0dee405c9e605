"""What public pages read often, kept a few seconds and shared by every visitor: the campaigns, one campaign's
page, a page of its wall of approved comments, its outcome and responses, the victories, whether it asks its
signers a question. Staff edits, a confirmation and a supporter's own changes forget them
(``forget_public_reads``), so that person sees the change at once; a sign-on does not (in a spike every signer
would recompute them), and its thank-you shows the signer's own total instead."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from campaigns.catalog import listing
from campaigns.core.models import CampaignPublic, CampaignSummary
from campaigns.core.settings import get_settings
from campaigns.outcomes import results
from campaigns.proposals import sponsoring
from campaigns.questions import asking
from campaigns.regions import lookup
from campaigns.regions.schemes import RegionScheme
from campaigns.signatures import wall
from campaigns.ui import access

PUBLIC_TTL_SECONDS = 5


@st.cache_data(ttl=PUBLIC_TTL_SECONDS, show_spinner=False)
def _public_campaigns(url: str) -> list[CampaignSummary]:
    with access.reading() as session:
        return listing.list_public_campaigns(session=session)


def public_campaigns() -> list[CampaignSummary]:
    return _public_campaigns(get_settings().effective_database_url)


@st.cache_data(ttl=PUBLIC_TTL_SECONDS, show_spinner=False)
def _campaign_page(url: str, slug: str) -> tuple[CampaignPublic, datetime]:
    with access.reading() as session:
        return listing.get_campaign_page(session=session, slug=slug), datetime.now(UTC)


def campaign_page(slug: str) -> CampaignPublic:
    return _campaign_page(get_settings().effective_database_url, slug)[0]


def campaign_page_read_at(slug: str) -> tuple[CampaignPublic, datetime]:
    """The cached public page and when it was read from the database (UTC): for "updated at" notes."""
    return _campaign_page(get_settings().effective_database_url, slug)


@st.cache_data(ttl=PUBLIC_TTL_SECONDS, show_spinner=False)
def _wall_page(url: str, slug: str, older_than: wall.WallCursor | None) -> wall.WallPage:
    with access.reading() as session:
        campaign = listing.get_public_campaign(session=session, slug=slug)
        return wall.read_wall(session=session, campaign_id=campaign.id or 0, older_than=older_than)


def wall_page(slug: str, older_than: wall.WallCursor | None = None) -> wall.WallPage:
    """One page of a public campaign's wall (the first when ``older_than`` is None)."""
    return _wall_page(get_settings().effective_database_url, slug, older_than)


@st.cache_data(ttl=PUBLIC_TTL_SECONDS, show_spinner=False)
def _outcome(url: str, slug: str) -> results.PublicOutcome:
    with access.reading() as session:
        return results.read_outcome(session=session, slug=slug)


def outcome(slug: str) -> results.PublicOutcome:
    """A public campaign's outcome, its target's responses and its response threshold."""
    return _outcome(get_settings().effective_database_url, slug)


@st.cache_data(ttl=PUBLIC_TTL_SECONDS, show_spinner=False)
def _victories(url: str) -> list[results.Victory]:
    with access.reading() as session:
        return results.victories(session=session)


def victories() -> list[results.Victory]:
    return _victories(get_settings().effective_database_url)


@st.cache_data(ttl=PUBLIC_TTL_SECONDS, show_spinner=False)
def _campaign_credits(url: str, slug: str) -> list[str] | None:
    with access.reading() as session:
        campaign = listing.get_public_campaign(session=session, slug=slug)
        return sponsoring.credits(session=session, campaign_id=campaign.id or 0)


def campaign_credits(slug: str) -> list[str] | None:
    """Who proposed a campaign members started, and its co-sponsors who agreed to be named (None: not proposed)."""
    return _campaign_credits(get_settings().effective_database_url, slug)


@st.cache_resource(ttl=PUBLIC_TTL_SECONDS, show_spinner=False)
def _region_scheme(url: str, scheme_id: str) -> tuple[RegionScheme, dict[str, str]]:
    with access.reading() as session:
        scheme = lookup.resolve_scheme(session=session, scheme_id=scheme_id)
    return scheme, {region.code: region.name for region in scheme.regions}


def region_scheme(scheme_id: str) -> RegionScheme:
    """A shipped or custom scheme, shared by every session for a few seconds (the sign form reads it on every run;
    custom ones are kept by ``regions.lookup`` too: they never change)."""
    return _region_scheme(get_settings().effective_database_url, scheme_id)[0]


def region_names(scheme_id: str) -> dict[str, str]:
    """Each region's name by its code, for a picker's labels (shared like ``region_scheme``; do not change it)."""
    return _region_scheme(get_settings().effective_database_url, scheme_id)[1]


@st.cache_data(ttl=PUBLIC_TTL_SECONDS, show_spinner=False)
def _asks(url: str, slug: str) -> bool:
    with access.reading() as session:
        campaign = listing.get_public_campaign(session=session, slug=slug)
        return asking.open_question(session=session, campaign_id=campaign.id or 0) is not None


def campaign_asks(slug: str) -> bool:
    """Whether a public campaign has an open question for its signers (the thank-you reads the signer's own
    question only then: most campaigns ask none)."""
    return _asks(get_settings().effective_database_url, slug)


def forget_public_reads() -> None:
    """After this person's own write: show them the count including their signature."""
    _campaign_page.clear()
    _public_campaigns.clear()
    _wall_page.clear()
    _outcome.clear()
    _victories.clear()
    _asks.clear()
