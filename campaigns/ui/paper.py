"""Paper signatures: a coordinator or organizer checks a CSV of offline signers, then imports the good rows."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from campaigns.core.models import SignatureSource
from campaigns.core.settings import get_settings
from campaigns.signatures import paper
from campaigns.ui import access, errors, reads, widgets

_SHOWN_ROWS = 500
_STATE = "paper-import"  # session_state: {"key": (campaign, file digest), "preview": report, "result": report}


def _explain() -> None:
    st.markdown(
        "Add signatures collected on paper or offline to a campaign. They count like any signature, once per "
        "person: someone who also signed online is counted once. Upload a CSV (UTF-8 or Excel's Windows "
        f"encoding; comma, semicolon or tab; at most {get_settings().max_upload_mb} MB) with these columns:"
    )
    st.code(  # wrapped: a code block that scrolls sideways cannot be reached by keyboard
        "name,email,region,signed_date,consent\nAda Lovelace,ada@example.org,CA,2026-03-14,yes",
        language=None,
        wrap_lines=True,
    )
    st.caption(
        "**email** is required (it is how a person is counted once). **region**: the scheme's code, the "
        "region's name, or a US state's two-letter abbreviation, any case. **signed_date**: YYYY-MM-DD, not "
        "in the future, not before the campaign started. **consent** to be contacted: yes or no (empty is no). "
        "First you see what would happen to each row; then the good rows are imported. Fix the others and "
        "upload the whole file again: rows already imported are recognised and never counted twice."
    )


def _outcomes(report: paper.ImportReport) -> None:
    rows = [r for r in report.rows if r.outcome in (paper.Outcome.error, paper.Outcome.duplicate)]
    if not rows:
        return
    shown = rows[:_SHOWN_ROWS]
    st.dataframe(
        pd.DataFrame([{"line": r.line, "outcome": r.outcome, "message": r.message} for r in shown]),
        hide_index=True,
        width="stretch",
        column_config={"message": st.column_config.TextColumn("message", width="large")},
    )
    if len(rows) > len(shown):
        st.caption(f"The first {len(shown):,} of {len(rows):,} rows to look at; the report lists them all.")


def _download(report: paper.ImportReport, label: str, key: str) -> None:
    stem = report.file_name.rsplit(".", 1)[0] or "signatures"
    name = f"{report.campaign_slug}-{stem}-{'check' if report.dry_run else 'import'}-report.csv"
    st.download_button(label, report.report_csv(), name, mime="text/csv", key=key)


def render() -> None:
    actor = access.require("coordinator", "organizer")
    st.title("Paper signatures")
    _explain()
    with access.reading() as session:
        campaigns = paper.list_importable_campaigns(session=session)
    labels = widgets.campaign_choices(
        campaigns, "No published or closed campaign yet: paper signatures go into one of those."
    )
    if not labels:
        return
    slug = st.selectbox("Campaign", list(labels), format_func=labels.__getitem__, key="paper-campaign")
    upload = widgets.file_upload("Signatures CSV", types=["csv", "txt"], key="paper-file")
    if upload is None:
        return
    data = upload.getvalue()
    file_name = paper.clean_file_name(upload.name)
    key = (slug, hashlib.sha256(data).hexdigest())
    state = st.session_state.get(_STATE)
    if state is None or state["key"] != key:
        state = st.session_state[_STATE] = {"key": key, "preview": None, "result": None}
    fresh = state["preview"] is None and state["result"] is None
    if st.button("Check the file", type="primary" if fresh else "secondary"):
        state["result"] = None
        bar = st.progress(0.0, text="Checking…")
        try:
            with errors.shown(each_field=True) as failed, access.reading() as session:
                state["preview"] = paper.preview_import(
                    session=session,
                    campaign_slug=slug,
                    data=data,
                    file_name=file_name,
                    on_progress=lambda done, total: bar.progress(done / total, text=f"Checked {done:,} of {total:,}"),
                )
        finally:
            bar.empty()
        if failed:
            state["preview"] = None
    preview: paper.ImportReport | None = state["preview"]
    if preview is not None and state["result"] is None:
        st.markdown(f"**Check of {widgets.plain(file_name)}**: {preview.summary()}")
        _outcomes(preview)
        _download(preview, "Download the check report (CSV)", "paper-check-report")
        if preview.ready:
            count = "1 row" if preview.ready == 1 else f"{preview.ready:,} rows"
            if st.button(f"Import the {count} that are ready", type="primary"):
                _import(state, actor, slug, data, file_name)
        else:
            st.info("No row to import: fix the rows above, or this file is already in.")
    result: paper.ImportReport | None = state["result"]
    if result is not None:
        st.success(f"Imported {widgets.plain(file_name)}: {result.summary()}")
        _outcomes(result)
        _download(result, "Download the import report (CSV)", "paper-import-report")


def _import(state: dict, actor, slug: str, data: bytes, file_name: str) -> None:
    bar = st.progress(0.0, text="Importing…")
    try:
        with errors.shown() as failed:
            state["result"] = paper.import_signatures(
                engine=access.engine(),
                campaign_slug=slug,
                data=data,
                actor=actor,
                file_name=file_name,
                source=SignatureSource.paper.value,
                on_progress=lambda done, total: bar.progress(done / total, text=f"Imported {done:,} of {total:,} rows"),
            )
        if failed:
            st.info("Rows saved before the problem stay counted; importing the same file again adds only the rest.")
        else:
            state["preview"] = None
            reads.forget_public_reads()
    finally:
        bar.empty()
    if state["result"] is not None:
        st.rerun()  # show the result alone, not below the check it replaces
