"""Organizer pages: the campaigns overview, and one campaign's editor (details, preview, status)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import streamlit as st

from campaigns.catalog import lifecycle, listing
from campaigns.core.audit import Actor
from campaigns.core.mail import mail_mode
from campaigns.core.models import DEFAULT_CONSENT_TEXT, Campaign, CampaignCreate, CampaignStatus, CampaignUpdate
from campaigns.dashboard import overview
from campaigns.regions import lookup
from campaigns.ui import (
    access,
    organize_outcome,
    organize_parts,
    organize_steps,
    public,
    questions_organize,
    review,
    share_kit,
    widgets,
)
from campaigns.ui import moderation as moderation_page
from campaigns.ui import updates as updates_page

NEW = "new"
FIELD_LABELS = {
    "title": "Title",
    "slug": "Link name",
    "purpose": "Purpose",
    "body": "Text",
    "goal": "Goal",
    "deadline": "Deadline",
    "region_scheme": "Regions",
    "consent_text": "Consent wording",
    "response_threshold": "Response threshold",
}


def render_overview() -> None:
    actor = access.require("organizer", "coordinator")
    st.set_page_config(layout="wide")  # two cards a row where there is room
    st.title("Campaigns overview")
    with access.reading() as session:
        rows = overview.read_overview(session=session)
    if not rows:
        st.info("No campaigns yet." + (" Create the first one in the editor." if actor.has("organizer") else ""))
        return
    review.render_trends_of([(r.campaign_id, r.title) for r in rows if r.status == "published"])
    # One card per campaign, its key figures in a row that wraps: it reads the same on a phone and a desktop
    # (a wide table loses its columns on a phone, and Streamlit has no media queries for Python).
    columns = st.columns(2, gap="medium")  # side by side on a desktop, one above the other on a phone
    for i, row in enumerate(rows):
        with columns[i % 2]:
            _overview_card(row, editor=actor.has("organizer"))


_STATUS_COLORS = {"published": "green", "draft": "gray", "closed": "blue"}


def _overview_card(row: overview.CampaignOverviewRow, *, editor: bool) -> None:
    with st.container(border=True, key=f"overview-{row.slug}"):
        color = _STATUS_COLORS.get(row.status, "gray")
        st.markdown(f"**{widgets.plain(row.title)}** :{color}-badge[{row.status}]")
        milestone = f" · milestone {row.milestone}% reached" if row.milestone else ""
        st.progress(row.progress, text=f"{round(100 * row.progress)}% of the goal{milestone}")
        with st.container(horizontal=True, gap="small"):
            # thousands separators in the reader's own locale (12,345 or 12.345)
            for label, value, explained in (
                ("Signatures", row.total, None),
                ("Goal", row.goal, None),
                ("Last 24 h", row.last_24h, "Signatures in the current hour and the 23 before it"),
                ("To review", row.pending_comments, "Supporters' comments waiting for review"),
            ):  # short labels: the four fit one row on a phone
                st.metric(label, value, format="localized", width="content", help=explained)
        deadline = f"Last day {row.deadline:%-d %b %Y}" if row.deadline else "No deadline"
        st.caption(deadline)
        with st.container(gap="small"):  # real links, opened in this tab (no pile of tabs); one a line fits a phone
            if editor:
                widgets.page_link("editor", "Open in the editor", query={"edit": row.slug}, icon=":material/edit:")
            if editor and row.pending_comments:
                label = f"Review {row.pending_comments:,} comments"
                query = {"campaign": row.slug}
                widgets.page_link(moderation_page.URL_PATH, label, query=query, icon=":material/rate_review:")
            if row.status != CampaignStatus.draft.value:  # a draft has no dashboard yet
                query = {"campaign": row.slug}
                widgets.page_link("dashboard", "Live dashboard", query=query, icon=":material/monitoring:")


def _campaigns() -> list[Campaign]:
    with access.reading() as session:
        return lifecycle.list_campaigns_for_staff(session=session)


def render_editor() -> None:
    actor = access.require("organizer")
    widgets.query_in_address_bar()  # opened by a page link (the overview's): its query goes in the address bar
    st.title("Campaign editor")
    campaigns = _campaigns()
    labels = {NEW: "New campaign"} | {c.slug: f"{c.title} ({c.status})" for c in campaigns}
    wanted = st.query_params.get("edit", NEW)
    choice = st.selectbox(
        "Campaign",
        list(labels),
        index=list(labels).index(wanted) if wanted in labels else 0,
        format_func=labels.__getitem__,
    )
    if choice != wanted:
        st.query_params["edit"] = choice
    campaign = next((c for c in campaigns if c.slug == choice), None)
    if campaign is None:
        _details_form(actor, None)
        return
    next_steps = st.container()  # filled last, so it counts what the tabs below save in this run
    # in the order of the checklist's steps: details, targets, letter, preview, then publish (Status)
    details, targets, letter, preview, status, comments, news, asked, outcome = st.tabs(
        ["Details", "Targets", "Letter", "Preview", "Status", "Comments", "Updates", "Questions", "Outcome"]
    )
    with details:
        _details_form(actor, campaign)
    with targets:
        organize_parts.render_targets(actor, campaign)
    with letter:
        organize_parts.render_letter(actor, campaign)
    with preview:
        _preview(actor, campaign)
    with status:
        _status(actor, campaign)
    with comments:
        organize_parts.render_comments(campaign)
    with news:
        updates_page.render_tab(actor, campaign)
    with asked:
        questions_organize.render_tab(actor, campaign)
    with outcome:
        organize_outcome.render(actor, campaign)
    if campaign.status == CampaignStatus.draft.value:
        with next_steps:
            organize_steps.render_checklist(campaign)  # what is left before it goes public


def _deadline_input(campaign: Campaign | None, key: str) -> datetime | None:
    has = st.checkbox("Has a deadline", value=bool(campaign and campaign.deadline), key=f"{key}-has-deadline")
    if not has:
        return None
    default = campaign.deadline.date() if campaign and campaign.deadline else date.today() + timedelta(days=30)
    day = st.date_input("Last day to sign (the campaign closes at 23:59 UTC)", value=default, key=f"{key}-deadline")
    return datetime.combine(day, time(23, 59), tzinfo=UTC)


def _threshold_input(campaign: Campaign | None, key: str, goal: int) -> int | None:
    """ "The target is expected to answer at N signatures": shown on the page with progress, until they answer."""
    current = campaign.response_threshold if campaign else None
    has = st.checkbox(
        "The target is expected to answer at a number of signatures",
        value=current is not None,
        key=f"{key}-has-threshold",
        help="The campaign's page shows progress toward it, until you record the target's response.",
    )
    if not has:
        return None
    value = st.number_input(
        "Signatures at which the target is expected to answer",
        min_value=1,
        max_value=listing.THRESHOLD_MAX,
        value=current or goal,
        step=100,
        key=f"{key}-threshold",
    )
    return int(value)


def _details_form(actor: Actor, campaign: Campaign | None) -> None:
    key = campaign.slug if campaign else NEW
    with access.reading() as session:
        schemes = lookup.list_all_schemes(session=session)
        consent = listing.get_consent_text(session=session, campaign=campaign) if campaign else DEFAULT_CONSENT_TEXT
    if campaign is None:
        title = st.text_input("Title", max_chars=200, key=f"{key}-title", on_change=_suggest_slug, args=(key,))
        slug = st.text_input(
            "Link name", key=f"{key}-slug", on_change=_slug_typed, args=(key,), help="?campaign=<link name>"
        )
    else:
        title = st.text_input("Title", value=campaign.title, max_chars=200, key=f"{key}-title")
        frozen = campaign.published_at is not None
        slug = st.text_input(
            "Link name",
            value=campaign.slug,
            disabled=frozen,
            key=f"{key}-slug",
            help="Fixed once published, so shared links keep working." if frozen else "?campaign=<link name>",
        )
    purpose = st.text_area(
        "Purpose: one paragraph on why this matters",
        value=campaign.purpose if campaign else "",
        max_chars=2000,
        key=f"{key}-purpose",
    )
    write, look = st.columns(2)
    body = write.text_area("Text (markdown)", value=campaign.body if campaign else "", height=260, key=f"{key}-body")
    with look:
        st.caption("Live preview")
        with st.container(border=True, height=260):
            st.markdown(body or "_Nothing yet._")  # raw HTML is shown as text, never run
    goal = st.number_input(
        "Goal (signatures)",
        min_value=1,
        max_value=100_000_000,
        value=campaign.goal if campaign else 1000,
        step=100,
        key=f"{key}-goal",
    )
    threshold = _threshold_input(campaign, key, int(goal))
    deadline = _deadline_input(campaign, key)
    scheme_ids = [s.id for s in schemes]
    names = {s.id: s.name for s in schemes}
    current = campaign.region_scheme if campaign else "us-states"
    region_scheme = st.selectbox(
        "Regions signers choose from",
        scheme_ids,
        index=scheme_ids.index(current) if current in scheme_ids else 0,
        format_func=lambda i: names.get(i, i),
        key=f"{key}-scheme",
    )
    consent_text = st.text_area(
        "Consent wording next to the (unticked) contact box", value=consent, max_chars=1000, key=f"{key}-consent"
    )
    confirm = st.checkbox(
        "Count signatures once the signer confirms their email",
        value=campaign.require_confirmation if campaign else listing.default_require_confirmation(),
        key=f"{key}-confirm",
        help="Each signer gets an email with a link; only confirmed signatures count, are shown on the dashboard, "
        "are exported and have their letters delivered. Needs a mail server (RALLY_SMTP_HOST).",
    )
    if confirm and mail_mode() != "smtp":
        st.warning(
            "Mail is not set up, so signers will not receive their confirmation emails and their signatures "
            "will not count. Configure an SMTP server first (see the README), or leave this off."
        )
    values: dict[str, Any] = {
        "slug": slug.strip(),
        "title": title,
        "purpose": purpose,
        "body": body,
        "goal": int(goal),
        "response_threshold": threshold,
        "deadline": deadline,
        "region_scheme": region_scheme,
        "consent_text": consent_text,
        "require_confirmation": confirm,
    }
    if st.button("Create draft" if campaign is None else "Save changes", type="primary", key=f"{key}-save"):
        if campaign is None:
            work: Callable[[Any], Campaign] = lambda s: listing.create_campaign(  # noqa: E731
                session=s, campaign_create=CampaignCreate(**values), actor=actor
            )
        else:
            cid = campaign.id or 0
            work = lambda s: lifecycle.update_campaign(  # noqa: E731
                session=s, campaign_id=cid, changes=CampaignUpdate(**values), actor=actor
            )
        saved = _attempt(work)
        if saved is not None:
            st.query_params["edit"] = saved.slug
            if campaign is None:  # the page stays scrolled down here: say where the next steps are
                st.session_state[f"{saved.slug}-created"] = True
            st.toast("Saved.")
            st.rerun()
    if campaign is not None and st.session_state.pop(f"{campaign.slug}-created", False):
        organize_steps.render_created_note()


def _suggest_slug(key: str) -> None:
    """Fill the link name from the title, until the organizer types one of their own."""
    if st.session_state.get(f"{key}-slug-typed"):
        return
    title = st.session_state.get(f"{key}-title", "")
    with access.reading() as session:
        st.session_state[f"{key}-slug"] = lifecycle.suggest_slug(session=session, title=title) if title.strip() else ""


def _slug_typed(key: str) -> None:
    st.session_state[f"{key}-slug-typed"] = bool(st.session_state.get(f"{key}-slug"))


def _field_label(field: str) -> str:
    return FIELD_LABELS.get(field, field.replace("_", " ").capitalize())


def _attempt(work: Callable[[Any], Any]) -> Any:
    """Run a change; show each field's message, or the error, and return None when it failed."""
    return organize_steps.attempt(work, label=_field_label)


def _preview(actor: Actor, campaign: Campaign) -> None:
    st.caption("Exactly what supporters see (the form is inert here).")
    with access.reading() as session:
        page = listing.get_campaign_page_for_staff(session=session, campaign_id=campaign.id or 0)
    with st.container(border=True):
        public.render_campaign_view(page, preview=True)
    organize_steps.render_preview_check(actor, campaign)


STATUS_PHRASE = {
    "draft": "**a draft**: not public yet",
    "published": "**published**",
    "closed": "**closed**",
    "archived": "**archived**",
}


def _status(actor: Actor, campaign: Campaign) -> None:
    status = CampaignStatus(campaign.status)
    st.markdown(f"This campaign is {STATUS_PHRASE.get(status.value, status.value)}.")
    organize_steps.render_transitions(actor, campaign)  # each asks first, saying what will happen
    share_kit.render(campaign, actor=actor)
