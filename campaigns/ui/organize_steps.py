"""Organizers' next steps: a draft's checklist, the preview's "looks right", and status changes that ask first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from campaigns.catalog import checklist, lifecycle
from campaigns.core.audit import Actor
from campaigns.core.models import Campaign, CampaignStatus
from campaigns.ui import access, errors, reads, widgets

Change = Callable[..., Campaign]
TRANSITIONS: dict[CampaignStatus, list[tuple[str, Change]]] = {
    CampaignStatus.draft: [("Publish", lifecycle.publish_campaign), ("Archive", lifecycle.archive_campaign)],
    CampaignStatus.published: [("Close early", lifecycle.close_campaign)],
    CampaignStatus.closed: [("Reopen", lifecycle.reopen_campaign), ("Archive", lifecycle.archive_campaign)],
    CampaignStatus.archived: [],
}
CHECKLIST_ANCHOR = "next-steps"
# What each change does, said before it is made (the campaign's share link is added where it matters).
DONE = {  # what the organizer hears once a status change is made
    "Publish": "Published: it is public at its share link and accepts signatures.",
    "Close early": "Closed: it accepts no more signatures; its page shows the result.",
    "Reopen": "Reopened: it accepts signatures again.",
    "Archive": "Archived: it is gone from every public list, kept for the record.",
}
CONSEQUENCES = {
    "Publish": "It becomes public at its share link and starts accepting signatures at once. Its link name is "
    "fixed from then on, so shared links keep working.",
    "Close early": "It stops accepting signatures now, before its deadline. Its page stays public and shows the "
    "result; you can reopen it later.",
    "Reopen": "It accepts signatures again, at the same share link.",
    "Archive": "It leaves every public list and its page answers “not found”; its signatures are kept for the "
    "record. An archived campaign can't be published or reopened again.",
}


def _pending_key(campaign: Campaign) -> str:
    return f"{campaign.slug}-confirming"


def render_transitions(actor: Actor, campaign: Campaign) -> None:
    """The buttons that change the campaign's status; each asks for confirmation, saying what will happen."""
    status = CampaignStatus(campaign.status)
    key = _pending_key(campaign)
    pending = st.session_state.get(key)
    if pending not in {label for label, _ in TRANSITIONS[status]}:
        pending = None
    if pending is None:
        with st.container(horizontal=True):
            for label, _ in TRANSITIONS[status]:
                primary = label == "Publish"
                if st.button(f"{label}…", key=f"{campaign.slug}-{label}", type="primary" if primary else "secondary"):
                    st.session_state[key] = label
                    st.rerun()
        return
    change = dict(TRANSITIONS[status])[pending]
    with st.container(border=True):
        st.markdown(f"**{pending} “{widgets.plain(campaign.title)}”?**")
        st.markdown(CONSEQUENCES[pending])
        if pending in ("Publish", "Reopen"):
            st.code(widgets.share_link(campaign.slug, light=campaign.light_share_link), language=None, wrap_lines=True)
        with st.container(horizontal=True):
            confirmed = st.button(f"Yes, {pending.lower()}", key=f"{campaign.slug}-{pending}-yes", type="primary")
            if st.button("Cancel", key=f"{campaign.slug}-{pending}-cancel"):
                st.session_state.pop(key, None)
                st.rerun()
    if confirmed:
        cid = campaign.id or 0
        if attempt(lambda s: change(session=s, campaign_id=cid, actor=actor)) is not None:
            st.session_state.pop(key, None)
            st.toast(DONE[pending], icon=":material/check_circle:")
            st.rerun()


def attempt(work: Callable[[Any], Any], *, label: Callable[[str], str] | None = None) -> Any:
    """Run an organizer's change; show each field's message (named by ``label``), or the error, and return None
    when it failed. The public reads are refreshed after a change."""
    with errors.shown(label=label) as failed:
        result = access.write(work)
    if failed:
        return None
    reads.forget_public_reads()
    return result


def render_checklist(campaign: Campaign) -> None:
    """A draft's next steps, each done or not yet (read from what is stored: ``catalog.checklist``)."""
    with access.reading() as session:
        steps = checklist.read_checklist(session=session, campaign_id=campaign.id or 0)
    with st.container(border=True, key=f"{campaign.slug}-checklist"):
        st.markdown("#### Next steps")  # its anchor: CHECKLIST_ANCHOR
        st.caption(f"{steps.done} of {len(steps.steps)} done")
        for step in steps.steps:
            state = ":green[:material/check_circle: Done]" if step.done else ":gray[:material/circle: Not yet]"
            optional = " _(optional)_" if step.optional else ""
            st.markdown(f"{state} · **{step.label}**{optional}: {widgets.plain(step.detail)}")


def render_created_note() -> None:
    """Under "Create draft", once it is done (the page stays scrolled down there): where the next steps are."""
    st.success(
        f"Your draft is saved; nobody else can see it yet. [See the next steps](#{CHECKLIST_ANCHOR}) at the top: "
        "targets, the letter, the preview, then publishing.",
        icon=":material/checklist:",
    )


def render_preview_check(actor: Actor, campaign: Campaign) -> None:
    """Under a draft's preview: the organizer says it looks right (a step of the checklist)."""
    if campaign.status != CampaignStatus.draft.value:
        return
    if st.button("The preview looks right", key=f"{campaign.slug}-previewed", icon=":material/visibility:"):
        cid = campaign.id or 0
        if attempt(lambda s: checklist.mark_previewed(session=s, campaign_id=cid, actor=actor)) is not None:
            st.toast("Noted: the preview is checked.")
            st.rerun()
