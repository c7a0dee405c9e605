"""What the public pages show of what came of a campaign: the victory banner (or an honest note when it was lost),
the response threshold's progress or, once the target answered, the responses; the wall of "why I signed"
comments a page at a time; the home page's victories. ``ui/public.py`` calls each with one line."""

from __future__ import annotations

from urllib.parse import urlsplit

import streamlit as st

from campaigns.core.models import CampaignOutcome, CampaignPublic
from campaigns.outcomes import results
from campaigns.signatures import wall
from campaigns.ui import access, reads, widgets

_WALL_KEY = "wall"


def _read(page: CampaignPublic, preview: bool) -> results.PublicOutcome:
    """The shared cached read for the public; the organizer's preview reads any status, uncached."""
    if not preview:
        return reads.outcome(page.slug)
    with access.reading() as session:
        return results.read_outcome(session=session, slug=page.slug, staff=True)


def render_banner(page: CampaignPublic, *, preview: bool = False) -> None:
    """Under the title: a victory banner for a won or partly won campaign, a plain note for a lost one."""
    outcome = _read(page, preview)
    note = f" {widgets.plain(outcome.note)}" if outcome.note else ""
    if outcome.outcome == CampaignOutcome.won.value:
        st.success(f"**Victory! We won.**{note}", icon=":material/emoji_events:")
    elif outcome.outcome == CampaignOutcome.partly_won.value:
        st.success(f"**Partial victory: we won part of what we asked for.**{note}", icon=":material/emoji_events:")
    elif outcome.outcome == CampaignOutcome.lost.value:
        st.info(f"**This campaign did not get what it asked for.**{note} Thank you to everyone who signed.")


def render_response(page: CampaignPublic, *, preview: bool = False) -> None:
    """The target's responses, newest first; before there is one, the threshold with progress toward it."""
    outcome = _read(page, preview)
    if outcome.responses:
        st.subheader("The target's response" if len(outcome.responses) == 1 else "The target's responses", anchor=False)
        for response in outcome.responses:
            with st.container(border=True):
                who = f"{widgets.plain(response.target)} · " if response.target else ""
                st.caption(f"{who}{response.responded_on:%-d %B %Y}")
                st.markdown(widgets.plain(response.text))
                if response.attachment_url:
                    host = urlsplit(response.attachment_url).hostname or ""
                    st.link_button("Read the full response", response.attachment_url, icon=":material/open_in_new:")
                    st.caption(f"The document is on {widgets.plain(host)}.")
    elif outcome.response_threshold is not None:
        threshold = outcome.response_threshold
        st.progress(
            min(1.0, outcome.total / threshold),
            text=widgets.plain(results.threshold_text(threshold, outcome.total)),
        )


def _wall_state(slug: str) -> list[wall.WallCursor]:
    """The cursors of the older pages the visitor went to, in order (empty: the first page)."""
    return st.session_state.setdefault(f"{_WALL_KEY}:{slug}", [])


def _older(slug: str, cursor: wall.WallCursor) -> None:
    _wall_state(slug).append(cursor)


def _newer(slug: str) -> None:
    cursors = _wall_state(slug)
    if cursors:
        cursors.pop()


def _comment(item: wall.WallComment) -> None:
    with st.container(border=True):
        st.text(item.comment)  # supporter text: data, never markup
        parts = [":material/star: Featured"] if item.featured else []
        parts += [widgets.plain(item.credit)] if item.credit else []
        st.caption(" · ".join([*parts, f"{item.created_on:%-d %b %Y}"]))


def render_wall(page: CampaignPublic) -> None:
    """ "Why people signed": featured comments first, then the others newest first, ``wall.PER_PAGE`` a page."""
    cursors = _wall_state(page.slug)
    shown = reads.wall_page(page.slug, cursors[-1] if cursors else None)
    if not (shown.featured or shown.comments or cursors):
        return
    st.subheader("Why people signed", anchor=False)
    for item in [*shown.featured, *shown.comments]:
        _comment(item)
    if not shown.comments and cursors:
        st.caption("No older comments.")
    with st.container(horizontal=True):
        if shown.older is not None:
            st.button(
                "Older comments",
                icon=":material/expand_more:",
                key=f"{_WALL_KEY}-older-{page.slug}",
                on_click=_older,
                args=(page.slug, shown.older),
            )
        if cursors:
            st.button(
                "Newer comments",
                icon=":material/expand_less:",
                key=f"{_WALL_KEY}-newer-{page.slug}",
                on_click=_newer,
                args=(page.slug,),
            )


def render_victories() -> bool:
    """The home page's short list of won and partly won campaigns (nothing when there is none); whether it showed
    any (the campaign list after them then needs its own heading)."""
    won = reads.victories()
    if not won:
        return False
    st.subheader("Victories", anchor=False)
    for victory in won:
        with st.container(border=True):
            label = results.OUTCOME_LABELS[victory.outcome]
            st.markdown(f":material/emoji_events: **{widgets.plain(victory.title)}** · {label}")
            details = [f"{victory.total:,} signed"]
            if victory.outcome_at is not None:
                details.append(f"{widgets.local_time(victory.outcome_at):%-d %b %Y}")
            st.caption(" · ".join(details))
            if victory.note:
                st.markdown(widgets.plain(victory.note))
            widgets.page_link("", "How it was won", query={"campaign": victory.slug}, kind="secondary")
    return True
