"""Organizer tabs and pages: targets, the letter and its preview, comment moderation, custom region schemes."""

from __future__ import annotations

import functools

import pandas as pd
import streamlit as st

from campaigns.catalog import lifecycle
from campaigns.core.audit import Actor
from campaigns.core.models import Campaign
from campaigns.core.settings import get_settings
from campaigns.core.uploads import UploadRowsError
from campaigns.letters import outreach, pdf, preview, targets, templates
from campaigns.regions import custom, lookup
from campaigns.signatures import moderation
from campaigns.ui import access, errors, widgets
from campaigns.ui import moderation as moderation_page

TARGET_COLUMNS = ",".join(targets.REQUIRED_COLUMNS)


def _offer_report(failed: errors.Failure, report_name: str) -> None:
    """Below a refused upload's message: the report of its wrong rows, when it had some."""
    if isinstance(failed.error, UploadRowsError):
        st.download_button("Download the problem report (CSV)", failed.error.report_csv(), report_name, mime="text/csv")


def render_targets(actor: Actor, campaign: Campaign) -> None:
    cid = campaign.id or 0
    with access.reading() as session:
        current = targets.list_targets(session=session, campaign_id=cid)
    st.markdown("**Targets** are the people letters go to: one for everyone, or one or more per region.")
    if current:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "region": t.region_code or "everyone",
                        "name": t.name,
                        "title": t.title,
                        "email": t.email or "",
                        "postal address": ", ".join(t.postal_address.splitlines()),
                    }
                    for t in current
                ]
            ),
            hide_index=True,
            width="stretch",
        )
    else:
        st.info("No targets yet.")
    with st.expander("Add one target for everyone"), st.form(f"{campaign.slug}-target", clear_on_submit=True):
        name = st.text_input("Name")
        title = st.text_input("Title (e.g. Chief Executive)")
        email = st.text_input("Email (optional)")
        address = st.text_area(
            "Postal address (optional)",
            height=100,
            help="As on the envelope, one line per line: printed letters show it in the envelope's window.",
        )
        if st.form_submit_button("Add target"):
            with errors.shown(each_field=True) as failed:
                access.write(
                    lambda s: targets.add_target(
                        session=s,
                        campaign_id=cid,
                        region_code=None,
                        name=name,
                        title=title,
                        email=email or None,
                        postal_address=address,
                        actor=actor,
                    ),
                )
            if failed:
                _offer_report(failed, "target-problems.csv")
            else:
                st.rerun()
    if current:
        _bundle(campaign, current)
    st.markdown(
        f"**Targets per region from a CSV file** with the columns `{TARGET_COLUMNS}` and, for printed letters, "
        "the postal address: one `postal_address` cell of several lines, or `address_line1` to `address_line4` "
        f"(one printed line each). UTF-8, comma or semicolon, at most {get_settings().max_upload_mb} MB. "
        "Uploading replaces the current list; a file with any wrong row changes nothing."
    )
    upload = widgets.file_upload("Targets CSV", types=["csv"], key=f"{campaign.slug}-targets-csv")
    if upload is not None and st.button("Import targets", key=f"{campaign.slug}-import"):
        data = upload.getvalue()
        with errors.shown(each_field=True) as failed:
            result = access.write(lambda s: targets.import_targets(session=s, campaign_id=cid, data=data, actor=actor))
        if failed:
            _offer_report(failed, f"{campaign.slug}-target-problems.csv")
        else:
            st.success(f"Imported {result.count} targets (replacing {result.replaced}).")


def _bundle(campaign: Campaign, current: list) -> None:
    """One printable PDF per target: a cover page, then every letter written to them (the target with the most
    letters first, so the first bundle an organizer builds has letters in it)."""
    with access.reading() as session:
        tallies = outreach.tally_letters(session=session, campaign_id=campaign.id or 0)
    letters = {t.target_id: t.sent + t.downloaded + t.opened + t.failed + t.uncertain + t.waiting for t in tallies}
    by_id = {t.id: t for t in sorted(current, key=lambda t: -letters.get(t.id, 0))}
    chosen = st.selectbox(
        "Printable bundle for",
        list(by_id),
        key=f"{campaign.slug}-bundle-target",
        format_func=lambda i: f"{by_id[i].name} ({by_id[i].region_code or 'everyone'})",
    )
    ready_key = f"{campaign.slug}-bundle-{chosen}"
    if st.button("Build the bundle", key=f"{ready_key}-build"):
        bundle = outreach.bundle_letters(engine=access.engine(), target_id=chosen)
        if bundle.letter_count == 0:
            st.info("No letters to this target yet.")
        else:
            total = bundle.letter_count
            bar = st.progress(0.0, text=f"Building {total:,} letters…")
            st.session_state[ready_key] = pdf.bundle_pdf(
                bundle.target.name,
                bundle.target.title,
                bundle.campaign.title,
                templates.date_text(),
                bundle.letters,
                constituents=bundle.constituents,
                on_progress=lambda n: bar.progress(min(1.0, n / total), text=f"{n:,} of {total:,} letters"),
            )
            bar.empty()
    if st.session_state.get(ready_key):
        st.download_button(
            "Download the bundle (PDF)",
            st.session_state[ready_key],
            f"{campaign.slug}-letters-{chosen}.pdf",
            mime="application/pdf",
            key=f"{ready_key}-download",
        )


def render_comments(campaign: Campaign) -> None:
    """The editor's Comments tab: how many wait, and the way to the queue where they are reviewed in bulk."""
    with access.reading() as session:
        waiting = moderation.count_comments_for_review(
            session=session, comment_filter=moderation.CommentFilter(campaign.id or 0)
        )
    st.markdown("Comments appear on the public page only once approved. Counts never change.")
    st.markdown(
        f"**{waiting:,}** comment{'s' if waiting != 1 else ''} to review. "
        f"[Open the queue]({moderation_page.link(campaign.slug)}) to read them a page at a time, find them by "
        "words or region, and approve or hide many at once."
    )


def render_regions() -> None:
    actor = access.require("organizer")
    st.title("Region schemes")
    with access.reading() as session:
        mine = lookup.list_custom_schemes(session=session)
    st.markdown(
        "Campaigns count signatures by region. Besides the shipped schemes (US states, countries, UK "
        "constituencies, subdivisions of any country) you can upload your own."
    )
    if mine:
        st.dataframe(
            pd.DataFrame([{"id": s.id, "name": s.name, "a region is a": s.region_label} for s in mine]),
            hide_index=True,
            width="stretch",
        )
    with st.form("new-scheme"):
        name = st.text_input("Name (e.g. City council wards 2026)")
        label = st.text_input("What one region is called in the sign form", value="Ward")
        regions_csv = widgets.file_upload("Regions CSV: code,name[,population]", types=["csv"])
        shapes = widgets.file_upload(
            "Shapes (optional): GeoJSON or TopoJSON whose features carry the codes",
            types=["json", "geojson", "topojson"],
        )
        if st.form_submit_button("Create scheme", type="primary"):
            if regions_csv is None:
                st.error("Choose the regions CSV file.")
                return
            with errors.shown(each_field=True) as failed:
                created = access.write(
                    lambda s: custom.create_custom_scheme(
                        session=s,
                        name=name,
                        regions_csv=regions_csv.getvalue(),
                        shapes=shapes.getvalue() if shapes else None,
                        actor=actor,
                        region_label=label,
                    ),
                )
            if failed:
                _offer_report(failed, "region-problems.csv")
            else:
                st.success(
                    f"Created “{created.id}” with {created.regions} regions "
                    f"({created.with_shape} drawn on maps). It can be chosen for new campaigns now."
                )


def render_letter(actor: Actor, campaign: Campaign) -> None:
    """The campaign's letter: start from a stock template or write one; preview for each target; save."""
    cid = campaign.id or 0
    key = f"{campaign.slug}-letter"
    stock = {t.name: t for t in templates.stock_templates()}
    st.markdown(
        "The letter signers send to their targets. They see it filled in for them and can change every word. "
        "The variables you can use are listed below; anything else is refused when you save."
    )
    choice = st.selectbox(
        "Start from",
        ["(keep the current letter)", *stock],
        key=f"{key}-stock",
        format_func=lambda n: stock[n].title if n in stock else n,
    )
    if choice in stock and st.button("Use this template", key=f"{key}-use"):
        st.session_state[f"{key}-subject"] = stock[choice].subject
        st.session_state[f"{key}-body"] = stock[choice].body
    subject = st.text_input("Subject (a template too)", value=campaign.letter_subject or "", key=f"{key}-subject")
    body = st.text_area(
        "Letter (Jinja2 template)",
        value=campaign.letter_template or "",
        height=320,
        max_chars=templates.SOURCE_MAX,
        key=f"{key}-body",
    )
    with st.expander("Variables you can use"):
        st.text(
            "\n".join(
                f"{{{{ {name}.{field} }}}}" if fields_ else f"{{{{ {name} }}}}"
                for name, fields_ in templates.ALLOWED.items()
                for field in (sorted(fields_) if fields_ else [""])
            )
        )
    _previews(campaign, subject, body)
    if st.button("Save the letter", type="primary", key=f"{key}-save"):
        with errors.shown(each_field=True) as refused:
            access.write(
                lambda s: lifecycle.set_letter(session=s, campaign_id=cid, subject=subject, template=body, actor=actor),
            )
        if not refused:
            st.success("Saved. New signers get this letter.")
    with access.reading() as session:
        tallies = outreach.tally_letters(session=session, campaign_id=cid)
        failed = outreach.list_failed_deliveries(session=session, campaign_id=cid)
    if tallies:
        st.markdown("**Letters per target**")
        st.dataframe(
            pd.DataFrame([_tally_row(t) for t in tallies], columns=list(TALLY_COLUMNS.values())),
            hide_index=True,
            width="stretch",
        )
        st.caption(
            "Only *sent by Rally* letters certainly reached the target: Rally emailed them and the mail server "
            "took them. Downloads and letters opened in a signer's mail app are counted apart: Rally can't know "
            "whether the signer then posted or sent them."
        )
    if failed:
        st.warning(
            f"{len(failed)} of Rally's emails to targets could not be delivered (refused by the mail server, or it "
            "could not be reached through every retry). The *Mail* page shows each answer and can send them again."
        )


PREVIEW_TARGETS = 5  # previews shown at once; the rest are like them


def _previews(campaign: Campaign, subject: str, body: str) -> None:
    """The letter as typed, filled in for a made-up signer and each target (the first few), with its PDF."""
    cid = campaign.id or 0
    with access.reading() as session:
        target_ids = [t.id for t in targets.list_targets(session=session, campaign_id=cid)]
    more = len(target_ids) - PREVIEW_TARGETS
    st.caption(
        f"Preview for a made-up signer ({preview.SAMPLE_NAME}) writing to "
        + ("each target" if target_ids else "a placeholder target (add targets to see each one)")
        + ", with this campaign's own title, purpose and count. The PDF is exactly what gets printed."
        + (f" The {more:,} other targets get the same letter." if more > 0 else "")
    )
    for n, target_id in enumerate(target_ids[:PREVIEW_TARGETS] or [None]):
        with st.container(border=True), errors.shown():
            with access.reading() as session:
                letter = preview.preview_letter(
                    session=session, campaign_id=cid, subject=subject, template=body, target_id=target_id
                )
            where = f" in {widgets.plain(letter.region_name)}" if letter.region_name else ""
            st.caption(f"To {widgets.plain(letter.target_name or 'a placeholder target')}, from a signer{where}")
            st.markdown(f"**{widgets.plain(letter.subject)}**" if letter.subject else "")
            st.text(letter.body or "Nothing yet.")
            if letter.body:
                st.download_button(
                    "Download this preview (PDF)",
                    functools.partial(pdf.letter_pdf, letter.document),  # made only when asked for, this one's
                    f"{campaign.slug}-letter-preview-{n + 1}.pdf",
                    mime="application/pdf",
                    key=f"{campaign.slug}-letter-preview-{n}",
                    on_click="ignore",
                )


TALLY_COLUMNS = {  # TargetTally field -> the Letter tab's column
    "target_name": "Target",
    "region_code": "Region",
    "sent": "Sent by Rally (email)",
    "downloaded": "Downloaded (PDF or text)",
    "opened": "Opened in the signer's mail app",
    "waiting": "Email waiting to be sent",
    "failed": "Email failed",
    "uncertain": "Email maybe sent (interrupted)",
}


def _tally_row(tally: outreach.TargetTally) -> dict[str, object]:
    row = {label: getattr(tally, field) for field, label in TALLY_COLUMNS.items()}
    row["Region"] = tally.region_code or "everyone"
    return row
