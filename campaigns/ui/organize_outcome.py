"""The editor's Outcome tab: the target's responses (record, edit, delete), the campaign's outcome with a note,
and what telling signers of either would say (campaigns.outcomes)."""

from __future__ import annotations

from datetime import date

import streamlit as st

from campaigns.core.audit import Actor
from campaigns.core.models import Campaign, CampaignOutcome, Target
from campaigns.letters import targets
from campaigns.outcomes import responses, results
from campaigns.ui import access, organize_steps, widgets
from campaigns.ui import updates as updates_page
from campaigns.updates import updates

LABELS = {
    "text": "Response",
    "responded_on": "Date",
    "attachment_url": "Link to the document",
    "target_id": "From",
    "note": "Note",
    "outcome": "Outcome",
}
_OUTCOMES = [o.value for o in CampaignOutcome]


def _label(field: str) -> str:
    return LABELS.get(field, field.replace("_", " ").capitalize())


def render(actor: Actor, campaign: Campaign) -> None:
    cid = campaign.id or 0
    with access.reading() as session:
        recorded = responses.list_responses(session=session, campaign_id=cid)
        people = targets.list_targets(session=session, campaign_id=cid)
    st.markdown(
        "Record what the target answered and what came of the campaign: the public page shows the response and, "
        "for a win, a victory banner; the home page lists victories."
    )
    if campaign.response_threshold:
        st.caption(
            f"The target is expected to answer at {campaign.response_threshold:,} signatures "
            "(change it in Details). Once a response is recorded, the page shows it instead."
        )
    _outcome_form(actor, campaign)
    st.divider()
    st.markdown("#### The target's responses")
    if not recorded:
        st.info("No response recorded yet.")
    for response in recorded:
        _response_card(actor, campaign, response, people)
    with st.expander("Record a response", expanded=not recorded):
        _response_form(actor, campaign, people, None)


def _target_choice(people: list[Target], key: str, current: int | None) -> int | None:
    names = {None: "No particular target"} | {t.id: responses.target_label(t) for t in people}
    options = list(names)
    return st.selectbox(
        "From",
        options,
        index=options.index(current) if current in options else 0,
        format_func=lambda i: names[i],
        key=key,
    )


def _response_form(
    actor: Actor, campaign: Campaign, people: list[Target], existing: responses.PublicResponse | None
) -> None:
    cid = campaign.id or 0
    key = f"{campaign.slug}-response-{existing.response_id if existing else 'new'}"
    with st.form(key):  # not cleared on submit: a refused response keeps what was typed
        target_id = _target_choice(people, f"{key}-target", existing.target_id if existing else None)
        text = st.text_area(
            "Response (plain text, as the target wrote it)",
            value=existing.text if existing else "",
            height=160,
            key=f"{key}-text",
        )
        day = st.date_input(
            "Date of the response", value=existing.responded_on if existing else date.today(), key=f"{key}-date"
        )
        url = st.text_input(
            "Link to the document (optional)",
            value=(existing.attachment_url or "") if existing else "",
            placeholder="https://",
            key=f"{key}-url",
            help="An https:// address, shown on the page as a link. Rally never opens it.",
        )
        saved = st.form_submit_button("Save the response" if existing else "Record the response", type="primary")
    if not saved:
        return
    given = responses.ResponseInput(
        text=text, responded_on=day if isinstance(day, date) else date.today(), attachment_url=url, target_id=target_id
    )
    if existing is None:
        done = organize_steps.attempt(
            lambda s: responses.record_response(session=s, campaign_id=cid, response=given, actor=actor), label=_label
        )
    else:
        rid = existing.response_id
        done = organize_steps.attempt(
            lambda s: responses.edit_response(session=s, response_id=rid, response=given, actor=actor), label=_label
        )
    if done is not None:
        for part in ("target", "text", "date", "url"):  # a new form starts empty again
            st.session_state.pop(f"{key}-{part}", None)
        st.toast("Response saved: the campaign's page shows it.", icon=":material/check_circle:")
        st.rerun()


def _response_card(actor: Actor, campaign: Campaign, response: responses.PublicResponse, people: list[Target]) -> None:
    key = f"{campaign.slug}-response-{response.response_id}"
    with st.container(border=True, key=f"{key}-card"):
        who = f"{widgets.plain(response.target)} · " if response.target else ""
        st.caption(f"{who}{response.responded_on:%-d %B %Y}")
        st.markdown(widgets.plain(response.text))
        if response.attachment_url:
            st.caption(f"Link: {widgets.plain(response.attachment_url)}")
        with st.expander("Edit"):
            _response_form(actor, campaign, people, response)
        with st.container(horizontal=True):
            sure = st.checkbox("Delete this response", key=f"{key}-sure")
            if st.button("Delete", disabled=not sure, key=f"{key}-delete"):
                rid = response.response_id
                done = organize_steps.attempt(
                    lambda s: responses.delete_response(session=s, response_id=rid, actor=actor)
                )
                if done is not None:
                    st.toast("Response deleted.")
                    st.rerun()
        with access.reading() as session:
            subject, body = responses.response_update(session=session, response_id=response.response_id)
        _tell_signers(actor, campaign, subject, body, kind="response", key=f"{key}-tell")


def _outcome_form(actor: Actor, campaign: Campaign) -> None:
    cid = campaign.id or 0
    current = results.outcome_of(campaign)
    with st.form(f"{campaign.slug}-outcome"):
        st.markdown("#### Outcome")
        outcome = st.radio(
            "What came of the campaign",
            _OUTCOMES,
            index=_OUTCOMES.index(current),
            format_func=results.OUTCOME_LABELS.__getitem__,
            horizontal=True,
            key=f"{campaign.slug}-outcome-choice",
        )
        note = st.text_area(
            "Note for the public page (plain text, optional)",
            value=campaign.outcome_note or "",
            max_chars=results.NOTE_MAX,
            key=f"{campaign.slug}-outcome-note",
        )
        saved = st.form_submit_button("Save the outcome", type="primary")
    if saved:
        done = organize_steps.attempt(
            lambda s: results.set_outcome(session=s, campaign_id=cid, outcome=outcome, note=note, actor=actor),
            label=_label,
        )
        if done is not None:
            st.toast("Outcome saved: the campaign's page shows it.", icon=":material/check_circle:")
            st.rerun()
    if current != CampaignOutcome.ongoing.value:
        with access.reading() as session:
            subject, body = results.outcome_update(session=session, campaign_id=cid)
        _tell_signers(actor, campaign, subject, body, kind="outcome", key=f"{campaign.slug}-outcome-tell")


def _tell_signers(actor: Actor, campaign: Campaign, subject: str, body: str, *, kind: str, key: str) -> None:
    """What signers who opted in would be told, and the button that drafts it as an update (sent from the Updates
    tab, where the organizer edits, previews, tests and sends it like any other)."""
    cid = campaign.id or 0
    with st.expander("Tell signers"):
        st.markdown(f"**{widgets.plain(subject)}**")
        with st.container(border=True):
            st.markdown(body)  # built by the service with the organizer's and target's text escaped
        if st.button("Draft this update to signers", key=key):
            drafted = organize_steps.attempt(
                lambda s: updates.draft_update(
                    session=s, campaign_id=cid, subject=subject, body=body, actor=actor, kind=kind
                ),
                label=_label,
            )
            if drafted is not None:
                updates_page.show_draft(campaign.slug, drafted)
                st.toast(
                    "Drafted: the Updates tab has it, to read over, test and send to the signers who agreed to hear "
                    "from you.",
                    icon=":material/drafts:",
                )
                st.rerun()
