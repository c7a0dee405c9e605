"""A paper signature sheet (landscape A4 or US Letter, ruled rows) whose columns are the paper-signature
import's, and the blank CSV template with the same headers.

The table's header row is ``paper_rows.COLUMNS`` exactly, in order (``name, email, region, signed_date,
consent``), with a hint under each; the consent wording the ``consent`` column stands for is printed above
it. Whoever types the sheets in uses the template (or any spreadsheet whose first row is those headers),
saves it as CSV and imports it on the Paper signatures page: the rows come back through the same checks as
every paper signature.
"""

from __future__ import annotations

import csv
import io

from campaigns.core.pdf_text import GREY, Paper, PdfText
from campaigns.core.uploads import UTF8_BOM
from campaigns.fieldkit import qr
from campaigns.fieldkit.kit import KitCampaign
from campaigns.fieldkit.poster import ACCENT, draw_qr, printed_link
from campaigns.signatures.paper_rows import COLUMNS

_MARGIN = 12  # mm
_QR = 30  # mm, the small code in the top right corner
_ROW = 10  # mm per ruled row: room for handwriting
_PURPOSE_LINES = 3  # the purpose under the title: what a signer supports, cut after that many lines
_SHARES = {"name": 0.25, "email": 0.32, "region": 0.19, "signed_date": 0.13, "consent": 0.11}
INTRO = (
    "One person per row, in capitals if you can. Every row needs an email: it is how each person is counted "
    "once (someone who also signs online counts once)."
)
CONSENT_TEXT = "consent: write yes if you agree to this: “{consent}” Write no, or leave it empty, if not."
RETURN_TEXT = (
    "Typing it in: a spreadsheet whose first row is {headers} (or the blank CSV template), saved as CSV, "
    "imported on Rally's Paper signatures page."
)


def column_hints(kit: KitCampaign) -> dict[str, str]:
    """What goes in each column, in a few words under its header."""
    example = f", e.g. {kit.region_example}" if kit.region_example else ""
    return {
        "name": "Full name",
        "email": "Email address (required)",
        "region": f"{kit.region_label}: code or name{example}",
        "signed_date": "Date, as YYYY-MM-DD",
        "consent": "yes or no",
    }


def template_csv() -> bytes:
    """The blank template: the header row alone (UTF-8 with a BOM, so spreadsheets read accents right)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(COLUMNS)
    return UTF8_BOM + out.getvalue().encode("utf-8")


def sheet_pdf(kit: KitCampaign, *, paper: Paper = "a4") -> bytes:
    """The signature sheet as a one-page landscape PDF."""
    pdf = PdfText(paper=paper, landscape=True)
    pdf.set_title(f"Signature sheet: {pdf.clean(kit.title).strip()}")
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN + _QR + 6)  # the text beside the code stays clear of it
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_fill_color(*ACCENT)
    pdf.rect(0, 0, pdf.w, 3, style="F")

    qr_x = pdf.w - _MARGIN - _QR
    draw_qr(pdf, qr.qr_url(kit.slug, medium="sheet", light=kit.light_share_link), x=qr_x, y=_MARGIN - 3, size=_QR)
    pdf.set_xy(qr_x - 10, _MARGIN + _QR - 4)
    pdf.set_text_color(GREY)
    pdf.one_line("Or sign online", w=_QR + 10, h=4, size=8, align="C")
    pdf.set_text_color(0)

    pdf.set_y(_MARGIN)
    title = " ".join(pdf.clean(kit.title).split())
    rows = pdf.wrap_lines(title, bold=True, size=16)
    for row in rows[:2]:
        pdf.paragraph(row if len(rows) <= 2 or row is not rows[1] else row + " …", bold=True, size=16, line=7)
    purpose = pdf.wrap_lines(" ".join(pdf.clean(kit.purpose).split()), size=9)
    for i, row in enumerate(purpose[:_PURPOSE_LINES]):
        cut = i == _PURPOSE_LINES - 1 and len(purpose) > _PURPOSE_LINES
        pdf.paragraph(row.rstrip(" ,;:.") + " …" if cut else row, size=9, line=4.5)
    pdf.ln(1)
    pdf.paragraph(f"Sign on paper, or online at {printed_link(kit.slug, light=kit.light_share_link)}", size=9, line=4.5)
    pdf.paragraph(INTRO, size=9, line=4.5)
    pdf.ln(2)
    consent = " ".join(pdf.clean(kit.consent_text).split())
    pdf.set_right_margin(_MARGIN)
    top = max(pdf.get_y(), _MARGIN + _QR + 2)
    pdf.set_y(top)
    pdf.set_x(pdf.l_margin)
    _consent_box(pdf, consent)
    pdf.ln(3)

    widths = {c: pdf.epw * _SHARES[c] for c in COLUMNS}
    hints = column_hints(kit)
    pdf.set_draw_color(0)
    pdf.set_line_width(0.3)
    for column in COLUMNS:
        pdf.one_line(column, w=widths[column], h=6.5, bold=True, size=11, border="LTR")
    pdf.ln(6.5)
    pdf.set_text_color(GREY)
    for column in COLUMNS:
        pdf.one_line(hints[column], w=widths[column], h=4.5, size=7.5, border="LBR")
    pdf.ln(4.5)
    pdf.set_text_color(0)
    footer_top = pdf.h - _MARGIN - 4
    pdf.set_line_width(0.2)
    pdf.set_draw_color(120)
    while pdf.get_y() + _ROW <= footer_top - 1:
        for column in COLUMNS:
            pdf.cell(widths[column], _ROW, "", border=1)
        pdf.ln(_ROW)
    pdf.set_text_color(GREY)
    pdf.set_xy(pdf.l_margin, pdf.get_y() + 1.5)
    pdf.one_line(RETURN_TEXT.format(headers=",".join(COLUMNS)), w=pdf.epw, h=4, size=8)
    pdf.set_text_color(0)
    return bytes(pdf.output())


def _consent_box(pdf: PdfText, consent: str) -> None:
    """The consent wording the ``consent`` column stands for, whole (at most ``CONSENT_MAX`` characters, about
    six lines), in a grey box the width of the table."""
    top = pdf.get_y()
    pdf.set_left_margin(pdf.l_margin + 2)
    pdf.set_right_margin(pdf.r_margin + 2)
    rows = pdf.wrap_lines(CONSENT_TEXT.format(consent=consent), size=9)
    height = 3 + 4.5 * len(rows)
    pdf.set_fill_color(243)
    pdf.rect(pdf.l_margin - 2, top, pdf.epw + 4, height + 1, style="F")
    pdf.set_xy(pdf.l_margin, top + 1.5)
    for row in rows:
        pdf.paragraph(row, size=9, line=4.5)
    pdf.set_left_margin(pdf.l_margin - 2)
    pdf.set_right_margin(pdf.r_margin - 2)
    pdf.set_y(top + height + 1)
