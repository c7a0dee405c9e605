"""Organizers' proposals queue: members' proposals, a page at a time: what waits (in review first, then changes
requested) unless another status is chosen, each with its text, co-sponsors and thread, and the three decisions
(campaigns.proposals.review): publish, ask for changes, decline (optionally in public)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from campaigns.core.audit import Actor
from campaigns.core.models import ProposalStatus
from campaigns.proposals import review
from campaigns.ui import access, errors, reads, widgets
from campaigns.ui.proposals import STATUS_WORDS, schemes

URL_PATH = "proposals"
_DONE = "proposal-queue-done"


_KEY = "proposal-queue"
SHOWN: dict[str, tuple[str, tuple[str, ...]]] = {  # the filter: its label and the statuses it shows
    "waiting": ("Waiting for a decision", review.WAITING),
    "gathering": ("Gathering co-sponsors", (ProposalStatus.gathering.value,)),
    "published": ("Published", (ProposalStatus.published.value,)),
    "declined": ("Declined", (ProposalStatus.declined.value,)),
    "expired": ("Expired", (ProposalStatus.expired.value,)),
    "all": ("All", review.QUEUE_ORDER),
}


def render() -> None:
    actor = access.require("organizer")
    st.title("Proposals")
    st.caption(
        "Campaigns members proposed, once their co-sponsors confirmed: in review first. Publishing makes an "
        "ordinary published campaign, naming the proposer and co-sponsors who agreed."
    )
    done = st.session_state.pop(_DONE, None)
    if done:
        st.success(widgets.plain(done), icon=":material/check_circle:")  # it may name a member's title
    with errors.friendly_errors():
        shown = st.segmented_control(
            "Show", list(SHOWN), default="waiting", format_func=lambda k: SHOWN[k][0], key=f"{_KEY}-status"
        )
        shown = shown or "waiting"
        if st.session_state.get(f"{_KEY}-shown") != shown:  # a new choice starts on its first page
            st.session_state[f"{_KEY}-shown"] = shown
            st.session_state[f"{_KEY}-page"] = 1
        with access.reading() as session:
            page = review.queue(session=session, statuses=SHOWN[shown][1], page=st.session_state.get(f"{_KEY}-page", 1))
        st.session_state[f"{_KEY}-page"] = page.page
        if not page.total:
            st.info(
                "No proposals wait for a decision. Members propose campaigns from the public pages (“Propose a "
                "campaign”); the other statuses are under Show."
                if shown == "waiting"
                else "No proposals here."
            )
        for item in page.items:
            _render_item(item, actor)
        if page.pages > 1:
            _pager(page)


def _pager(page: review.QueuePage) -> None:
    where = f"Page {page.page:,} of {page.pages:,} ({page.total:,} proposals)"
    with widgets.pager(key=_KEY, page=page.page, pages=page.pages, where=where):
        pass


# Decided: nothing is left to do, so each is one line to open (the queue's top stays what needs a decision).
DECIDED = {ProposalStatus.published.value, ProposalStatus.declined.value, ProposalStatus.expired.value}


def _render_item(item: review.QueueItem, actor: Actor) -> None:
    status = STATUS_WORDS.get(item.status, item.status)
    decided = item.status in DECIDED
    box = st.expander(widgets.plain(f"{item.text.title} · {status}")) if decided else st.container(border=True)
    with box:
        if not decided:
            st.subheader(widgets.plain(item.text.title), anchor=False)
        st.caption(
            widgets.plain(
                f"{status.capitalize()} · {item.confirmed} of {item.needed} "
                f"co-sponsors · proposed {widgets.local_time(item.created_at):%d %b %Y}"
            )
        )
        st.text(f"Proposer: {item.proposer_name} <{item.proposer_email}>")
        st.markdown("**Why this matters**")
        st.text(item.text.purpose)
        st.markdown("**What it asks for**")
        st.text(item.text.ask)
        st.markdown("**Of whom**")
        st.text(item.text.target)
        scheme = item.text.region_scheme
        st.caption(widgets.plain(f"Signers choose from: {schemes().get(scheme, scheme)}"))
        if item.campaign_slug:
            st.markdown(f"[Open the campaign](/?campaign={item.campaign_slug})")
        if item.decline_reason:
            st.markdown("**Declined because**" + (" (shown publicly)" if item.decline_public else ""))
            st.text(item.decline_reason)
        for entry in item.thread:
            if entry.from_organizer and entry.body == item.decline_reason:
                continue  # the reason, just above: once is enough
            st.caption(f"{entry.author} · {widgets.local_time(entry.at):%d %b %Y %H:%M}")
            st.text(entry.body)
        if item.status == ProposalStatus.in_review.value:
            _decisions(item, actor)


def _decisions(item: review.QueueItem, actor: Actor) -> None:
    publish_tab, changes_tab, decline_tab = st.tabs(["Publish", "Ask for changes", "Decline"])
    with publish_tab, st.form(f"publish-{item.id}"):
        goal = st.number_input("Goal (signatures)", min_value=1, value=review.DEFAULT_GOAL, step=100)
        if st.form_submit_button("Publish as a campaign", type="primary"):
            _act(
                lambda s: review.publish(session=s, proposal_id=item.id, actor=actor, goal=int(goal)),
                f"Published “{item.text.title}”: it is a campaign now.",
            )
    with changes_tab, st.form(f"changes-{item.id}"):
        message = st.text_area("What should change? (the proposer reads this)", max_chars=review.MESSAGE_MAX)
        if st.form_submit_button("Ask for changes"):
            _act(
                lambda s: review.ask_changes(session=s, proposal_id=item.id, message=message, actor=actor),
                "Sent: the proposer was asked for changes.",
            )
    with decline_tab, st.form(f"decline-{item.id}"):
        reason = st.text_area("Reason (the proposer reads this)", max_chars=review.MESSAGE_MAX)
        public = st.checkbox("Show the title and this reason on the public list of declined proposals")
        if st.form_submit_button("Decline"):
            _act(
                lambda s: review.decline(session=s, proposal_id=item.id, reason=reason, public=public, actor=actor),
                "Declined: the proposer was told why.",
            )


def _act(work: Callable[[Any], object], done: str) -> None:
    with errors.shown(each_field=True) as failed:
        access.write(work)
    if not failed:
        reads.forget_public_reads()  # a published proposal is on the campaign list at once
        st.session_state[_DONE] = done
        st.rerun()
