"""Questions to signers on the supporters' side: the page an answer link opens (``/answer?t=...``), the answer
form (on that page, on the thank-you after signing and on the receipt page), and the results on the public page.

Privacy: the form shows a signer's own chosen option only to someone who proved the mailbox (the signed link,
the receipt, or the browser session that just created the signature), and never their written answer (it
says one was given: the answer link can be forwarded and does not expire; "your data" shows the text). Nothing
of an erased signature's answer is shown. The public sees results (small regions left out) and approved
written answers only, never anything about one signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from campaigns.core.models import CampaignPublic
from campaigns.core.settings import get_settings
from campaigns.questions import answering, asking, free_text, links, results
from campaigns.regions.schemes import hex_layout
from campaigns.ui import access, dashboard_charts, errors, reads, widgets

URL_PATH = links.PAGE_PATH
ASKED = "A question from the organizers"  # the answer page's title, and the lead of the form elsewhere
STATE = "answer_grant"  # the grant an answer link proved, kept for this browser tab
REFRESH_SECONDS = 5
ALL = "__all__"


# --- answering --------------------------------------------------------------------------------------


def render_answer_page() -> None:
    """``/answer?t=...``: the link leaves the address bar at once; the tab remembers what it proved."""
    st.title(ASKED)
    with errors.friendly_errors():
        token = st.query_params.get("t")
        if token:
            del st.query_params["t"]
            try:
                st.session_state[STATE] = links.read_token(token)
            except links.AnswerLinkInvalid as exc:
                st.session_state.pop(STATE, None)
                st.error(exc.user_message, icon=":material/link_off:")
        grant: links.AnswerGrant | None = st.session_state.get(STATE)
        if grant is None:
            if not token:
                st.info("Open the link in the email we sent you: it brings you here, ready to answer.")
            widgets.public_footer()
            return
        with access.reading() as session:
            question = asking.get_question(session=session, question_id=grant.question_id)
            campaign = asking.asked_by(session=session, question=question)
        title = widgets.plain(campaign.title)
        st.markdown(
            f"From the campaign [{title}](/?campaign={campaign.slug})"
            if campaign.public
            else f"From the campaign {title}"
        )
        render_form(question, grant.signature_id, key="link")
        widgets.public_footer()


def render_for_signature(signature_id: int | None, *, key: str) -> None:
    """The open question of this signature's campaign with its form, when it has one and the signature counts
    (the caller has proved the signature: a receipt, or the session that just created it)."""
    if signature_id is None:
        return
    with access.reading() as session:
        question = answering.answerable_question(session=session, signature_id=signature_id)
    if question is not None:
        with st.container(border=True):
            st.caption(ASKED)
            render_form(question, signature_id, key=key, nested=True)


def render_form(question: asking.QuestionView, signature_id: int, *, key: str, nested: bool = False) -> None:
    """The question, the signer's answer so far, and the form to give or change it while the question is open.

    ``nested``: inside a page about something else (the thank-you, a signature on the receipt page), the prompt is
    a small heading that does not outrank the page's own."""
    with access.reading() as session:
        mine = answering.get_my_answer(session=session, question_id=question.id, signature_id=signature_id)
    if nested:
        st.markdown(f"#### {widgets.plain(question.prompt)}")
    else:
        st.subheader(widgets.plain(question.prompt), anchor=False)
    ids = [oid for oid, _ in question.options]
    if not question.is_open:
        chosen = f" Your answer: {widgets.plain(question.label_of(mine.option_id))}." if mine else ""
        st.info(f"This question has closed.{chosen} Thank you for taking part.")
        return
    saved_key = f"answer-saved-{key}-{question.id}"
    if st.session_state.get(saved_key):
        st.success(st.session_state.pop(saved_key), icon=":material/how_to_vote:")
    with st.form(f"answer-{key}-{question.id}", border=False):
        option = st.radio(
            "Your answer",
            ids,
            index=ids.index(mine.option_id) if mine and mine.option_id in ids else None,
            format_func=lambda oid: widgets.plain(question.label_of(oid)),
            key=f"answer-{key}-{question.id}-option",
        )
        slot = st.empty()
        written = None
        if question.allow_free_text:
            wrote = bool(mine and mine.free_text)
            written = st.text_area(
                "Anything to add? (optional)",
                height=90,
                key=f"answer-{key}-{question.id}-text",
                help="Written answers appear publicly only after an organizer reviews them. Your name never does.",
            )
            if wrote:  # never shown back: this link can be forwarded, and it does not expire
                st.caption(
                    "You already wrote an answer (it isn't shown here). Sending this form replaces it with what "
                    "you type above; leave it empty to take it back."
                )
        sent = st.form_submit_button("Change my answer" if mine else "Send my answer", type="primary")
    st.caption(
        f"One answer per signature: you can change it until {widgets.local_time(question.closes_at):%-d %b %Y, %H:%M}."
    )
    if not sent:
        return
    with errors.shown(slot, each_field=True) as failed:
        done = access.write(
            lambda s: answering.answer(
                session=s, question_id=question.id, signature_id=signature_id, option_id=option, free_text=written
            )
        )
    if failed:
        return
    chosen = widgets.plain(question.label_of(done.option_id))
    st.session_state[saved_key] = (
        f"Thank you: your answer is now “{chosen}”." if done.replaced else f"Thank you: your answer “{chosen}” counts."
    )
    st.rerun()


# --- results (the public page and the organizer's tab) ---------------------------------------------


@dataclass(frozen=True)
class ResultsView:
    """A question's results and the frames its charts draw: plain values, shared by every viewer."""

    results: results.QuestionResults
    overall: pd.DataFrame  # name, count, share, per_100k, rank: one row per option
    regions: dict[str, pd.DataFrame]  # option id (or ALL) -> the dashboard's region frame
    table: pd.DataFrame  # region, one column per option, total: regions with answers


def _overall(found: results.QuestionResults) -> pd.DataFrame:
    rows = [(o.label, o.count, round(100 * o.share, 1)) for o in found.options]
    frame = pd.DataFrame(rows, columns=["name", "count", "share"])
    frame["per_100k"] = float("nan")
    frame["rank"] = frame["count"].rank(method="min", ascending=False).astype(int)
    return frame


@st.cache_data(ttl=REFRESH_SECONDS, show_spinner=False, max_entries=200)
def _results(url: str, question_id: int, public: bool) -> ResultsView:
    """One read of the aggregate rows per question and interval, however many people watch (``public``: without
    the regions too small to show, ``results.public_results``)."""
    with access.reading(snapshot=True) as session:
        read = results.public_results if public else results.read_results
        found = read(session=session, question_id=question_id)
        regions = {ALL: results.region_frame(session=session, results=found)}
        for oid, _ in found.question.options:
            regions[str(oid)] = results.region_frame(session=session, results=found, option_id=oid)
    names = dict(zip(regions[ALL]["code"], regions[ALL]["name"], strict=True))
    rows = [
        [names.get(code, code), *[options.get(oid, 0) for oid, _ in found.question.options], sum(options.values())]
        for code, options in found.by_region.items()
    ]
    labels = [label for _, label in found.question.options]
    table = pd.DataFrame(rows, columns=["Region", *labels, "Total"]).sort_values(
        ["Total", "Region"], ascending=[False, True]
    )
    return ResultsView(results=found, overall=_overall(found), regions=regions, table=table)


def _map(frame: pd.DataFrame, scheme_id: str, label: str) -> alt.TopLevelMixin | None:
    info = reads.region_scheme(scheme_id).info
    if info.shape_kind == "geojson" or (info.shape_kind == "topojson" and info.shape_object):
        return dashboard_charts.choropleth(frame, info.id, info.shape_kind, info.shape_object, "count", label)
    if info.shape_kind == "hexjson":
        return dashboard_charts.hexmap(frame, hex_layout(info.id), "count", label)
    return None


def _chart(chart: alt.TopLevelMixin, key: str) -> None:
    spec: dict[str, Any] = dashboard_charts.readable(chart.to_dict())
    st.vega_lite_chart(spec, width="stretch", key=key)


def render_results(question_id: int, scheme_id: str, *, key: str, public: bool) -> None:
    """Overall bars, then by region: the map and the ranking bars for all answers or one option, and a table.

    ``public``: the public page's figures (small regions not shown); organizers see every region exactly."""
    view = _results(get_settings().effective_database_url, question_id, public)
    found = view.results
    st.caption(
        f"{found.total:,} answer{'s' if found.total != 1 else ''} · updated at "
        f"{widgets.local_time(found.read_at):%H:%M:%S}"
    )
    if not found.total:
        st.info("No answers yet: they appear here within seconds of arriving.")
        return
    _chart(dashboard_charts.ranking(view.overall, "count", "Answers"), key=f"{key}-overall")
    labels = {ALL: "All answers", **{str(oid): label for oid, label in found.question.options}}
    picked = st.selectbox("By region: show", list(labels), format_func=labels.__getitem__, key=f"{key}-pick")
    frame = view.regions[picked]
    label = "Answers" if picked == ALL else f"Answers “{labels[picked]}”"
    drawn = _map(frame, scheme_id, label)
    if drawn is not None:
        _chart(drawn, key=f"{key}-map-{picked}")
    top = frame[frame["count"] > 0].head(15)
    if len(top):
        _chart(dashboard_charts.ranking(top, "count", label), key=f"{key}-regions-{picked}")
    if found.withheld_regions:
        st.caption(
            f"Regions with fewer than {found.min_region} answers are not shown, so nobody's answer can be picked out "
            f"({found.withheld_regions:,} region{'s' if found.withheld_regions != 1 else ''} left out here; "
            "their answers count in the totals above)."
        )
    with st.expander(f"Answers by region ({len(view.table):,} regions): the map's figures as a table"):
        st.dataframe(view.table, hide_index=True, width="stretch")


@st.cache_data(ttl=REFRESH_SECONDS, show_spinner=False, max_entries=200)
def _public(url: str, slug: str) -> tuple[asking.QuestionView | None, list[free_text.PublicFreeText]]:
    with access.reading() as session:
        question = asking.public_question(session=session, slug=slug)
        texts = free_text.public_free_text(session=session, question_id=question.id) if question else []
    return question, texts


def render_public(page: CampaignPublic) -> None:
    """On the campaign page, when the organizer chose it: the question's results and approved written answers."""
    question, texts = _public(get_settings().effective_database_url, page.slug)
    if question is None:
        return
    st.subheader("What signers answered", anchor=False)
    st.markdown(f"**{widgets.plain(question.prompt)}**")
    _public_live(question.id, page.region_scheme)
    for text in texts:
        with st.container(border=True):
            st.text(text.text)  # supporter text is data, never markup
            st.caption(f"{widgets.plain(text.region_name)} · {text.answered_on:%d %b %Y}")


def forget_reads() -> None:
    """Forget the cached results and public questions (after an organizer changes what the public sees)."""
    _results.clear()
    _public.clear()


@st.fragment(run_every=REFRESH_SECONDS * 2)
def _public_live(question_id: int, scheme_id: str) -> None:
    with errors.friendly_errors():
        render_results(question_id, scheme_id, key=f"public-{question_id}", public=True)
