"""Organizer pages: the campaigns overview, and one campaign's editor (details, preview, status)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from campaigns.catalog import lifecycle, listing
from campaigns.core.audit import Actor
from campaigns.core.mail import mail_mode
from campaigns.core.models import DEFAULT_CONSENT_TEXT, Campaign, CampaignCreate, CampaignStatus, CampaignUpdate
from campaigns.dashboard import overview
from campaigns.regions import lookup
from campaigns.ui import access, errors, organize_parts, public, reads, review, share_kit

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
}


def render_overview() -> None:
    actor = access.require("organizer", "coordinator")
    st.set_page_config(layout="wide")  # tables need the room
    st.title("Campaigns overview")
    with access.reading() as session:
        rows = overview.read_overview(session=session)
    if not rows:
        st.info("No campaigns yet." + (" Create the first one in the editor." if actor.has("organizer") else ""))
        return
    review.render_trends_of([(r.campaign_id, r.title) for r in rows if r.status == "published"])
    frame = pd.DataFrame(
        [
            {
                "campaign": r.title,
                "status": r.status,
                "signatures": r.total,
                "goal": r.goal,
                "progress": round(100 * r.progress),  # whole percents: "15%", not "15.01%"
                "last 24 h": r.last_24h,
                "milestone": f"{r.milestone}%" if r.milestone else "",
                "comments to review": r.pending_comments,
                "deadline": r.deadline.date().isoformat() if r.deadline else "—",
            }
            for r in rows
        ]
    )
    st.dataframe(
        frame,
        hide_index=True,
        use_container_width=True,
        column_config={
            "progress": st.column_config.ProgressColumn("progress", min_value=0, max_value=100, format="%d%%"),
            # thousands separators in the reader's own locale (12,345 or 12.345)
            **{c: st.column_config.NumberColumn(c, format="localized") for c in _COUNTS},
        },
    )


_COUNTS = ("signatures", "goal", "last 24 h", "comments to review")


def _campaigns() -> list[Campaign]:
    with access.reading() as session:
        return lifecycle.list_campaigns_for_staff(session=session)


def render_editor() -> None:
    actor = access.require("organizer")
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
    details, preview, status, targets, letter, comments = st.tabs(
        ["Details", "Preview", "Status", "Targets", "Letter", "Comments"]
    )
    with details:
        _details_form(actor, campaign)
    with preview:
        _preview(campaign)
    with status:
        _status(actor, campaign)
    with targets:
        organize_parts.render_targets(actor, campaign)
    with letter:
        organize_parts.render_letter(actor, campaign)
    with comments:
        organize_parts.render_comments(actor, campaign)


def _deadline_input(campaign: Campaign | None, key: str) -> datetime | None:
    has = st.checkbox("Has a deadline", value=bool(campaign and campaign.deadline), key=f"{key}-has-deadline")
    if not has:
        return None
    default = campaign.deadline.date() if campaign and campaign.deadline else date.today() + timedelta(days=30)
    day = st.date_input("Last day to sign (the campaign closes at 23:59 UTC)", value=default, key=f"{key}-deadline")
    return datetime.combine(day, time(23, 59), tzinfo=UTC)


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
            st.toast("Saved.")
            st.rerun()


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
    with errors.shown(label=_field_label) as failed:
        result = access.write(work)
    if failed:
        return None
    reads.forget_public_reads()
    return result


def _preview(campaign: Campaign) -> None:
    st.caption("Exactly what supporters see (the form is inert here).")
    with access.reading() as session:
        page = listing.get_campaign_page_for_staff(session=session, campaign_id=campaign.id or 0)
    with st.container(border=True):
        public.render_campaign_view(page, preview=True)


TRANSITIONS = {
    CampaignStatus.draft: [("Publish", lifecycle.publish_campaign), ("Archive", lifecycle.archive_campaign)],
    CampaignStatus.published: [("Close early", lifecycle.close_campaign)],
    CampaignStatus.closed: [("Reopen", lifecycle.reopen_campaign), ("Archive", lifecycle.archive_campaign)],
    CampaignStatus.archived: [],
}


def _status(actor: Actor, campaign: Campaign) -> None:
    status = CampaignStatus(campaign.status)
    st.markdown(f"This campaign is **{status.value}**.")
    cid = campaign.id or 0
    for label, change in TRANSITIONS[status]:
        if st.button(label, key=f"{campaign.slug}-{label}", type="primary" if label == "Publish" else "secondary"):
            if _attempt(lambda s, change=change: change(session=s, campaign_id=cid, actor=actor)) is not None:  # type: ignore[misc]  # mypy can't type a lambda with a default
                st.toast(f"{label}: done.")
                st.rerun()
    share_kit.render(campaign)
