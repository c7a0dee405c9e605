"""The campaign editor's Questions tab: ask the signers a question, close it early, choose whether its results
are public, watch the answers arrive by region (refreshing itself), and review the written answers."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import streamlit as st

from campaigns.core.audit import Actor
from campaigns.core.errors import RallyError
from campaigns.core.models import Campaign
from campaigns.questions import asking, free_text
from campaigns.ui import access, errors, questions, reads, widgets

FIELD_LABELS = {"prompt": "Question", "options": "Options", "closes_at": "Closes", "free_text": "Written answer"}


def render_tab(actor: Actor, campaign: Campaign) -> None:
    cid = campaign.id or 0
    with access.reading() as session:
        asked = asking.list_questions(session=session, campaign_id=cid)
    st.caption(
        "Ask this campaign's signers a question. They answer once each (a later answer replaces the earlier one "
        "until the question closes) from the thank-you after signing, their receipt link, or the answer link in "
        "an update email."
    )
    with st.expander("Ask a new question", expanded=not asked, icon=":material/add_comment:"):
        _ask_form(actor, campaign)
    for question in asked:
        with st.container(border=True):
            _one_question(actor, campaign, question)


def _ask_form(actor: Actor, campaign: Campaign) -> None:
    key = f"ask-{campaign.slug}"
    prompt = st.text_input("Question", placeholder="Which action next?", key=f"{key}-prompt")
    options = st.text_area(
        f"Options, one a line ({asking.MIN_OPTIONS} to {asking.MAX_OPTIONS})",
        placeholder="A march\nLetters to the council\nA call-in day",
        key=f"{key}-options",
    )
    left, right = st.columns(2)
    day = left.date_input("Closes on", value=date.today() + timedelta(days=7), key=f"{key}-day")
    at = right.time_input("at (UTC)", value=time(23, 59), key=f"{key}-time")
    allow = st.checkbox("Signers may add a written answer (reviewed before it is public)", key=f"{key}-free")
    public = st.checkbox("Show the results on the campaign's public page", key=f"{key}-public")
    if st.button("Ask the signers", type="primary", key=f"{key}-go"):
        closes = datetime.combine(day, at, tzinfo=UTC)
        with errors.shown(each_field=True, label=lambda f: FIELD_LABELS.get(f, f)) as failed:
            access.write(
                lambda s: asking.ask_question(
                    session=s,
                    campaign_id=campaign.id or 0,
                    prompt=prompt,
                    options=options.splitlines(),
                    closes_at=closes,
                    allow_free_text=allow,
                    show_results_public=public,
                    actor=actor,
                )
            )
        if not failed:
            reads.forget_public_reads()  # signers are asked from their next thank-you on
            for part in ("prompt", "options"):
                st.session_state.pop(f"{key}-{part}", None)
            st.toast("Question asked.")
            st.rerun()


def _one_question(actor: Actor, campaign: Campaign, question: asking.QuestionView) -> None:
    qid = question.id
    state = "open" if question.is_open else "closed"
    color = "green" if question.is_open else "blue"
    st.markdown(f"**{widgets.plain(question.prompt)}** :{color}-badge[{state}]")
    when = widgets.local_time(question.closes_at)
    st.caption(
        f"{'Closes' if question.is_open else 'Closed'} {when:%-d %b %Y, %H:%M} · "
        + " · ".join(widgets.plain(label) for _, label in question.options)
    )
    left, right = st.columns(2)
    public = left.toggle("Results on the public page", value=question.show_results_public, key=f"q-public-{qid}")
    if public != question.show_results_public:
        access.write(lambda s: asking.set_results_public(session=s, question_id=qid, public=public, actor=actor))
        questions.forget_reads()
        st.rerun()
    if question.is_open and right.button("Close it now", key=f"q-close-{qid}", icon=":material/lock:"):
        access.write(lambda s: asking.close_question(session=s, question_id=qid, actor=actor))
        reads.forget_public_reads()
        st.toast("Question closed: it takes no more answers.")
        st.rerun()
    _live_results(qid, campaign.region_scheme)
    if question.allow_free_text:
        _free_text_queue(actor, qid)


@st.fragment(run_every=questions.REFRESH_SECONDS)
def _live_results(question_id: int, scheme_id: str) -> None:
    with errors.friendly_errors():
        questions.render_results(question_id, scheme_id, key=f"staff-{question_id}", public=False)


CHANGED = "ft-changed-{}"  # a decision refused because the answer changed since the organizer read it


def _free_text_queue(actor: Actor, question_id: int) -> None:
    with access.reading() as session:
        waiting = free_text.count_free_text(session=session, question_id=question_id)
        pending = free_text.list_free_text(session=session, question_id=question_id)
        approved = free_text.list_free_text(session=session, question_id=question_id, status="approved")
    with st.expander(f"Written answers to review ({waiting:,})", expanded=bool(waiting)):
        changed = st.session_state.pop(CHANGED.format(question_id), None)
        if changed:
            st.warning(changed, icon=":material/edit_note:")
        if not pending:
            st.caption("Nothing to review.")
        for item in pending:
            _review_item(actor, question_id, item)
        if approved:
            st.markdown("**Approved** (public when the results are shown)")
            for item in approved:
                _review_item(actor, question_id, item)


def _review_item(actor: Actor, question_id: int, item: free_text.FreeTextForReview) -> None:
    with st.container(border=True):
        st.text(item.text)  # supporter text is data, never markup
        st.caption(f"{widgets.plain(item.region_name)} · {widgets.local_time(item.answered_at):%-d %b %Y, %H:%M}")
        approve, hide = st.columns(2)
        # callbacks run before the page is read again: they carry the words shown here, not what the answer
        # may say by the time of the click (a signer's rewrite keeps the answer's id)
        seen = (actor, question_id, item.answer_id, item.version)
        if item.status != "approved":
            approve.button("Approve", key=f"ft-approve-{item.answer_id}", on_click=_decide, args=(*seen, True))
        hide.button("Hide", key=f"ft-hide-{item.answer_id}", on_click=_decide, args=(*seen, False))


def _decide(actor: Actor, question_id: int, answer_id: int, version: str, approve: bool) -> None:
    """A button's callback: decide on the words the organizer read; if they changed, say so above the queue."""
    decide = free_text.approve_free_text if approve else free_text.hide_free_text
    try:
        access.write(lambda s: decide(session=s, question_id=question_id, seen={answer_id: version}, actor=actor))
    except RallyError as exc:  # AnswerChanged: the queue then shows the answer as it is now
        st.session_state[CHANGED.format(question_id)] = exc.user_message
