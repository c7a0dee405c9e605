"""Organizers' updates to signers (the editor's Updates tab: write, preview, test, send, watch it go) and the
campaign page's public timeline of past updates."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from campaigns.catalog import listing
from campaigns.core.audit import Actor
from campaigns.core.models import Campaign, SignerUpdate, UpdateStatus
from campaigns.core.settings import get_settings
from campaigns.ui import access, errors, reads, widgets
from campaigns.updates import updates

PROGRESS_SECONDS = 2  # how often a sending update's progress is read again
TIMELINE_TTL_SECONDS = 5
TIMELINE_PAGE = 3
NEW = 0


def show_draft(slug: str, update_id: int) -> None:
    """The next run's Updates tab opens on this draft (one just saved here, or drafted from the Outcome tab)."""
    st.session_state[f"{slug}-update-just-saved"] = update_id


def render_tab(actor: Actor, campaign: Campaign) -> None:
    """The Updates tab: drafts, the chosen draft's editor, preview, test and send, then the updates already sent."""
    cid = campaign.id or 0
    with access.reading() as session:
        rows = updates.list_updates(session=session, campaign_id=cid)
        allowed = updates.next_allowed_at(session=session, campaign_id=cid)
    st.markdown(
        "**Updates** are emails to this campaign's signers who agreed to hear from you. Each message carries a "
        "one-click unsubscribe, and the campaign page shows every update sent."
    )
    if allowed is not None and allowed > datetime.now(UTC):
        st.info(
            f"The next update may start sending from {widgets.local_time(allowed):%d %b %Y, %H:%M} "
            f"(at most one every {get_settings().update_min_days} days, so members are not spammed)."
        )
    just_started = st.session_state.pop(f"{campaign.slug}-update-started", None)
    if just_started:
        st.success(just_started, icon=":material/send:")
    started = [r for r in rows if r.status != UpdateStatus.draft.value]
    with access.reading() as session:
        progress = {r.id or 0: updates.get_progress(session=session, update_id=r.id or 0) for r in started}
    for row in started:
        if not progress[row.id or 0].done:
            _progress(row.id or 0)  # read again every few seconds until every message has gone
    drafts = {r.id or 0: r for r in rows if r.status == UpdateStatus.draft.value}
    key = f"{campaign.slug}-update-choice"
    saved = st.session_state.pop(f"{campaign.slug}-update-just-saved", None)  # a draft just saved: show it
    if saved in drafts:
        st.session_state[key] = saved
    if st.session_state.get(key) not in {NEW, *drafts}:
        st.session_state[key] = next(iter(drafts), NEW)
    choice = st.selectbox(
        "Update",
        [NEW, *drafts],
        key=key,
        format_func=lambda i: "New update" if i == NEW else f"Draft: {drafts[i].subject}",
    )
    draft = drafts.get(choice)
    _editor(actor, campaign, draft)
    if draft is not None:
        _send_box(actor, campaign, draft)
    _past(started, progress)


def _editor(actor: Actor, campaign: Campaign, draft: SignerUpdate | None) -> None:
    scheme = reads.region_scheme(campaign.region_scheme)
    names = {r.code: r.name for r in scheme.regions}
    with st.form(f"{campaign.slug}-update-{draft.id if draft else 'new'}"):
        subject = st.text_input("Update subject", value=draft.subject if draft else "", max_chars=updates.SUBJECT_MAX)
        body = st.text_area(
            "Update text (markdown)",
            value=draft.body if draft else "",
            height=220,
            max_chars=updates.BODY_MAX,
            help="Headings, **bold**, lists and [links](https://example.org). Signers get it as plain text.",
        )
        regions = st.multiselect(
            "Only to signers in these regions (empty: everyone who agreed)",
            list(names),
            default=[c for c in (updates.region_list(draft) if draft else []) if c in names],
            format_func=lambda code: names.get(code, code),
        )
        saved = st.form_submit_button("Save draft", type="secondary" if draft else "primary")
    if not saved:
        return
    with errors.shown(each_field=True):
        if draft is None:
            new_id = access.write(
                lambda s: updates.draft_update(
                    session=s,
                    campaign_id=campaign.id or 0,
                    subject=subject,
                    body=body,
                    actor=actor,
                    region_codes=regions,
                )
            )
            show_draft(campaign.slug, new_id)
        else:
            access.write(
                lambda s: updates.edit_update(
                    session=s, update_id=draft.id or 0, subject=subject, body=body, region_codes=regions
                )
            )
        st.session_state[f"{campaign.slug}-update-saved"] = True
        st.rerun()


def _send_box(actor: Actor, campaign: Campaign, draft: SignerUpdate) -> None:
    uid = draft.id or 0
    if st.session_state.pop(f"{campaign.slug}-update-saved", False):
        st.success("Draft saved.")
    with access.reading() as session:
        email_text = updates.preview_text(session=session, update_id=uid)
        reach = updates.count_recipients(session=session, campaign_id=campaign.id or 0, region_codes=draft.region_codes)
    with st.container(border=True, key=f"update-preview-{uid}"):
        st.markdown("**Preview**: the campaign page")
        _show_update(draft.subject, datetime.now(UTC), draft.body)
        with st.expander("The email as signers get it"):
            st.text(email_text)
    tested_now = f"update-tested-{uid}"
    if st.session_state.pop(tested_now, False):
        st.success(f"A test is on its way to {actor.email}. Its unsubscribe link unsubscribes nobody.")
    if st.button(
        "Send a test to me", key=f"update-test-{uid}", type="secondary" if updates.tested(draft) else "primary"
    ):
        with errors.shown():
            access.write(lambda s: updates.send_test(session=s, update_id=uid, actor=actor))
            st.session_state[tested_now] = True
            st.rerun()  # the draft is tested now: its Send button opens
    where = "in the chosen regions " if draft.region_codes else ""
    st.markdown(f"It will reach **{reach:,}** signer{'s' if reach != 1 else ''} {where}who agreed to be contacted.")
    if not updates.tested(draft):
        st.caption(
            "Send yourself a test of this version first: you'll read the email as signers will, before it goes "
            "to all of them."
        )
    confirming = f"update-confirm-{uid}"
    if not st.session_state.get(confirming):
        with st.container(horizontal=True):
            if st.button(
                f"Send to {reach:,} signers",
                type="primary",
                key=f"update-send-{uid}",
                disabled=not reach or not updates.tested(draft),
            ):
                st.session_state[confirming] = True
                st.rerun()
            if st.button("Delete draft", key=f"update-delete-{uid}"):
                with errors.shown():
                    access.write(lambda s: updates.delete_draft(session=s, update_id=uid))
                    st.rerun()
        return
    st.warning(
        f"Send “{widgets.plain(draft.subject)}” to {reach:,} signers now? Each gets it once; it can't be changed or "
        "called back, and the campaign page will show it."
    )
    with st.container(horizontal=True):
        if st.button("Yes, send it", type="primary", key=f"update-yes-{uid}"):
            st.session_state.pop(confirming, None)
            with errors.shown():
                access.write(lambda s: updates.start_sending(session=s, update_id=uid, actor=actor))
                _forget_timeline()
                st.session_state[f"{campaign.slug}-update-started"] = (
                    f"Sending started: “{widgets.plain(draft.subject)}” is on its way to {reach:,} "
                    f"signer{'s' if reach != 1 else ''}. The campaign page shows it now."
                )
                st.rerun()
        if st.button("Cancel", key=f"update-cancel-{uid}"):
            st.session_state.pop(confirming, None)
            st.rerun()


@st.fragment(run_every=PROGRESS_SECONDS)
def _progress(update_id: int) -> None:
    """A sending update's progress, read again every few seconds until every message has gone."""
    with errors.friendly_errors():
        with access.reading() as session:
            row = updates.get_update(session=session, update_id=update_id)
            progress = updates.get_progress(session=session, update_id=update_id)
        if progress.done:
            st.rerun()  # the whole tab again: this update is listed as sent, and nothing polls any more
        total = max(1, progress.recipients)
        queued = "being queued" if progress.status == UpdateStatus.sending.value else "queued"
        text = (
            f"Sending “{widgets.plain(row.subject)}”: {progress.sent:,} of {progress.recipients:,} sent, "
            f"{progress.queued:,} {queued}"
            + (f", {progress.failed:,} failed (see the Mail page)" if progress.failed else "")
        )
        st.progress(min(1.0, (progress.sent + progress.failed) / total), text=text)


def _past(rows: list[SignerUpdate], progress: dict[int, updates.UpdateProgress]) -> None:
    if not rows:
        return
    st.markdown("**Past updates**")
    for row in rows:
        p = progress[row.id or 0]
        started = widgets.local_time(row.started_at) if row.started_at else None
        when = f"{started:%d %b %Y, %H:%M}" if started else ""
        regions = f" · regions {', '.join(updates.region_list(row))}" if row.region_codes else ""
        st.markdown(f"{widgets.plain(row.subject)} · {when}{regions}")
        st.caption(f"{p.sent:,} sent of {p.recipients:,}" + (f", {p.failed:,} failed" if p.failed else ""))


# --- the public timeline ---------------------------------------------------------------------------


def _show_update(subject: str, day: datetime, body: str) -> None:
    """One update as the campaign page shows it (and the editor's preview): its subject, day and text, the text's
    headings nested under the subject (never outranking it, "Updates" or the campaign's title)."""
    st.markdown(f"#### {widgets.plain(subject)}")  # under "Updates" (a subheader)
    st.caption(f"{widgets.local_time(day):%d %b %Y}")
    # organizer markdown; raw HTML is shown as text (unsafe_allow_html is off)
    st.markdown(widgets.nested_markdown(body, top=5))


@st.cache_data(ttl=TIMELINE_TTL_SECONDS, show_spinner=False)
def _timeline(url: str, slug: str, limit: int) -> list[updates.PublicUpdate]:
    with access.reading() as session:
        campaign = listing.get_public_campaign(session=session, slug=slug)
        return updates.list_public_updates(session=session, campaign_id=campaign.id or 0, limit=limit)


def _forget_timeline() -> None:
    _timeline.clear()


def render_timeline(slug: str) -> None:
    """The campaign's updates, newest first, a few at a time ("More updates")."""
    key = f"updates-shown:{slug}"
    shown = int(st.session_state.get(key, TIMELINE_PAGE))
    items = _timeline(get_settings().effective_database_url, slug, shown + 1)
    if not items:
        return
    st.subheader("Updates", anchor=False)
    for item in items[:shown]:
        with st.container(border=True):
            _show_update(item.subject, item.published_at, item.body)
    if len(items) > shown:
        st.button(
            "More updates",
            key=f"updates-more-{slug}",
            on_click=lambda: st.session_state.update({key: shown + TIMELINE_PAGE}),
        )
