"""Coordinators' signer export: choose who and how, see how many, then download through a signed link."""

from __future__ import annotations

import streamlit as st

from campaigns.catalog import lifecycle
from campaigns.core.models import CampaignStatus
from campaigns.core.settings import get_settings
from campaigns.export import filters, links, snapshot
from campaigns.export.formats import check_format
from campaigns.ui import access, errors, widgets

STATUS_LABELS = {
    "counted": "Counted",
    "pending": "Awaiting confirmation",
    "any": "Counted and awaiting",
    "flagged": "Held for review",
}
FORMAT_LABELS = {"csv": "CSV", "xlsx": "Excel (XLSX)", "json": "JSON (OSDI)"}
CONSENT_LABELS = {
    "consenting": "Only people who agreed to be contacted",
    "everyone": "Everyone, for a delivery to decision-makers only",
}
FIELD_LABELS = {"campaigns": "Campaigns", "regions": "Regions", "signed_to": "Dates", "reason": "Reason"}


def render() -> None:
    actor = access.require("coordinator")
    st.title("Export signers")
    st.caption(
        "A list of signers for a delivery, a follow-up or your CRM. Withdrawn and erased signatures are never "
        "included. Every export is written to the audit log."
    )
    with access.reading() as session:
        campaigns = lifecycle.list_campaigns_for_staff(session=session)
    labels = widgets.campaign_choices(campaigns, "No campaigns yet.")
    if not labels:
        return
    # the newest campaign that can have signers (a draft has none): an empty export is no place to start
    first = next((c.slug for c in campaigns if c.status != CampaignStatus.draft.value), next(iter(labels)))
    chosen = st.multiselect("Campaigns", list(labels), default=[first], format_func=labels.__getitem__)
    with access.reading() as session:
        names = filters.list_region_choices(session=session, slugs=chosen)
    regions = st.multiselect(
        "Regions (leave empty for all)", list(names), format_func=lambda code: f"{names[code]} ({code})"
    )
    left, right = st.columns(2)
    signed_from = left.date_input("Signed from (UTC)", value=None, format="YYYY-MM-DD")
    signed_to = right.date_input("Signed until (UTC, included)", value=None, format="YYYY-MM-DD")
    status = st.radio("Signatures", list(STATUS_LABELS), format_func=STATUS_LABELS.get, horizontal=True)
    consent = st.radio("People", list(CONSENT_LABELS), format_func=CONSENT_LABELS.get)
    reason = ""
    if consent == "everyone":
        st.warning(
            "People who did not agree to be contacted may only be used to deliver the petition "
            "(for example the list of constituents handed to a representative), never to contact them."
        )
        reason = st.text_input("What is the delivery? (written to the audit log)", max_chars=filters.REASON_MAX)
    fmt = st.radio("Format", list(FORMAT_LABELS), format_func=FORMAT_LABELS.get, horizontal=True)
    bom = fmt == "csv" and st.checkbox(
        "Start the CSV with a byte-order mark (Excel on Windows then reads accents right)", value=False
    )
    export_filter = filters.ExportFilter(
        campaigns=tuple(chosen),
        regions=tuple(regions),
        signed_from=signed_from,
        signed_to=signed_to,
        status=status or "counted",
        include_non_consenting=consent == "everyone",
        reason=reason,
    )
    with errors.shown(label=lambda field: FIELD_LABELS.get(field, field)) as failed:
        count = snapshot.count_matching(engine=access.engine(), export_filter=export_filter)
    if failed:
        return
    st.metric("People in this export", f"{count:,}")
    with errors.shown() as failed:
        check_format(fmt or "csv", count)
    if failed:
        return
    wanted = (export_filter, fmt, bool(bom))
    if st.button("Prepare download", type="primary", disabled=count == 0):
        _prepare(actor.user_id or 0, *wanted)
    ready = st.session_state.get("export_ready")
    if ready and ready["wanted"] == wanted:
        st.link_button(f"Download {ready['name']}", ready["url"], type="primary", icon=":material/download:")
        st.caption(
            f"{_people(ready['count'])} when counted. The link works for you only, for "
            f"{get_settings().export_link_minutes} minutes; the file is read from the database as it downloads, "
            "so large lists start at once and never wait in memory."
        )
    with st.expander("What is in the file"):
        st.markdown(
            "Columns: " + ", ".join(f"`{c}`" for c in snapshot.COLUMNS) + ". Cells that a spreadsheet could run "
            "as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) get a leading `'` in CSV, "
            "and are plain text cells in Excel. JSON keeps every value exactly."
        )


def _prepare(user_id: int, export_filter: filters.ExportFilter, fmt: str, bom: bool) -> None:
    with st.status("Preparing the export…", expanded=True) as status:
        bar = st.progress(0.0, text="Checking the filters")
        count = snapshot.count_matching(engine=access.engine(), export_filter=export_filter)
        bar.progress(0.6, text=f"Counted {_people(count)} in one consistent snapshot")
        token = links.make_token(user_id=user_id, export_filter=export_filter, fmt=fmt, bom=bom)
        bar.progress(1.0, text="Signed a download link for you")
        status.update(label=f"Ready: {_people(count)}", state="complete", expanded=False)
    st.session_state["export_ready"] = {
        "wanted": (export_filter, fmt, bom),
        "url": links.download_url(token),
        "name": snapshot.file_name(export_filter.campaigns, fmt),
        "count": count,
    }


def _people(count: int) -> str:
    return f"{count:,} {'person' if count == 1 else 'people'}"
