"""The Status tab's share kit: the campaign's share link and its spike mode, its dashboard link, the embed snippet,
its QR code, and the field kit's downloads (QR code, poster, signature sheet and its blank CSV template).

The downloads are built only when a button is clicked (Streamlit runs the callable then), for drafts too, so
an organizer can print and check the kit before publishing. The same files of a public campaign are also at
public addresses (``web/fieldkit.py``) for volunteers; those are listed here once the campaign is public.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from campaigns.catalog import lifecycle, listing
from campaigns.core.audit import Actor
from campaigns.core.models import Campaign, CampaignStatus
from campaigns.fieldkit import kit, poster, qr, sheet
from campaigns.sharing import links
from campaigns.ui import access, errors, reads

SPIKE_MODE = "Spike mode: the share link opens the light sign page"
SPIKE_HELP = (
    "The light page (/s/…) is the same sign form as plain HTML: no JavaScript, a few kilobytes, and one process "
    "takes hundreds of sign-ons a second. Turn it on before a TV or radio mention, a national day of action, or "
    "when most supporters are on slow phones: every share button, QR code, poster, email and link preview then "
    "points there (links already shared keep working). Turn it off afterwards: the full page also shows the "
    "letter step, the comment wall and the updates."
)


def render(campaign: Campaign, *, actor: Actor | None = None) -> None:
    slug = campaign.slug
    public = listing.is_public(campaign)
    st.subheader("Share and print", anchor=False)
    if campaign.status == CampaignStatus.archived.value:
        st.info("This campaign is archived: its links below no longer open for anyone.", icon=":material/info:")
    elif not public:
        st.info(
            "This campaign is not public yet: the links below open once it is published. The QR code, poster "
            "and signature sheet can be downloaded now, to check them before you publish.",
            icon=":material/info:",
        )
    st.markdown("**Share link**: what supporters open to sign.")
    if actor is not None:
        _spike_mode(actor, campaign)
    st.code(links.share_url(slug, light=campaign.light_share_link), language=None, wrap_lines=True)
    st.markdown("**Live dashboard**: the count by region, for anyone to watch.")
    st.code(links.page_url("dashboard", campaign=slug), language=None, wrap_lines=True)
    st.markdown("**Embed on another site**: paste this HTML where the live count and sign button should appear.")
    st.code(links.embed_snippet(slug), language="html", wrap_lines=True)
    with errors.shown(), access.reading() as session:
        found = kit.read_kit_campaign(session=session, campaign=campaign)
        _field_kit(found, public)


def _spike_mode(actor: Actor, campaign: Campaign) -> None:
    on = st.toggle(SPIKE_MODE, value=campaign.light_share_link, key=f"{campaign.slug}-spike-mode")
    st.caption(SPIKE_HELP)
    if on == campaign.light_share_link:
        return
    with errors.shown() as failed:
        access.write(
            lambda s: lifecycle.set_light_share_link(session=s, campaign_id=campaign.id or 0, on=on, actor=actor)
        )
    if not failed:
        reads.forget_public_reads()  # the public page's share buttons follow at once
        st.rerun()


def _field_kit(found: kit.KitCampaign, public: bool) -> None:
    slug = found.slug
    st.markdown("**Field kit** for stalls, events and doors.")
    code, files = st.columns([1, 2], gap="medium")
    code.image(
        qr.qr_png(slug, scale=6, light=found.light_share_link),
        width=180,
        caption="Scanning it opens the share link, marked utm_source=qr in the export.",
    )
    with files:
        choice = st.radio(
            "Paper size",
            list(kit.PAPER_NAMES),
            format_func=kit.PAPER_NAMES.__getitem__,
            horizontal=True,
            key=f"{slug}-kit-paper",
        )
        paper = kit.check_paper(choice)
        _download(
            "QR code (PNG)",
            lambda: qr.qr_png(slug, light=found.light_share_link),
            kit.file_name(slug, "qr", "png"),
            "png",
            ":material/qr_code_2:",
        )
        _download(
            "QR code (SVG)",
            lambda: qr.qr_svg(slug, light=found.light_share_link),
            kit.file_name(slug, "qr", "svg"),
            "svg",
            ":material/qr_code_2:",
        )
        _download(
            f"Poster, {kit.PAPER_NAMES[paper]} (PDF)",
            lambda: poster.poster_pdf(found, paper=paper),
            kit.file_name(slug, "poster", "pdf", paper),
            "pdf",
            ":material/picture_as_pdf:",
        )
        _download(
            f"Signature sheet, {kit.PAPER_NAMES[paper]} (PDF)",
            lambda: sheet.sheet_pdf(found, paper=paper),
            kit.file_name(slug, "sheet", "pdf", paper),
            "pdf",
            ":material/picture_as_pdf:",
        )
        _download(
            "Blank sheet template (CSV)",
            sheet.template_csv,
            kit.file_name(slug, "sheet", "csv"),
            "csv",
            ":material/table:",
        )
    st.caption(
        "The signature sheet has the paper-signature import's columns and prints this campaign's consent wording. "
        "Type the filled-in sheets into the template (or any spreadsheet with the same first row), save it as CSV "
        "and import it on the Paper signatures page."
    )
    if public:
        poster_link = links.file_url(slug, "poster.pdf", paper=paper)
        sheet_link = links.file_url(slug, "sheet.pdf", paper=paper)
        st.caption(
            f"Volunteers can print them from public links too: [poster]({poster_link}), "
            f"[signature sheet]({sheet_link}), [QR code]({links.file_url(slug, 'qr.png')})."
        )


def _download(label: str, build: Callable[[], bytes], name: str, extension: str, icon: str) -> None:
    st.download_button(
        label, build, name, mime=kit.MEDIA_TYPES[extension], on_click="ignore", icon=icon, key=f"kit-{name}"
    )
