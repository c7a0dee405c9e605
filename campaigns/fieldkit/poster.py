"""A printable poster or flyer for one campaign (A4 or US Letter, one page): its title, its purpose, a large
QR code of its share link and the link itself in type big enough to read across a stall.

The title and the purpose take the largest type that fits their space (a long purpose gets smaller type, and
past the smallest size is cut with an ellipsis): the QR code and the link always keep their place and size.
The QR code and the printed link are also links in the PDF, for a flyer shared as a file.
"""

from __future__ import annotations

from campaigns.core import theme
from campaigns.core.pdf_text import FAMILY, GREY, Paper, PdfText
from campaigns.fieldkit import qr
from campaigns.fieldkit.kit import KitCampaign
from campaigns.sharing import links

ACCENT = theme.primary_rgb()  # Rally's orange, as on its pages
KICKER = "Sign this campaign"
SCAN_TEXT = "Scan with your phone's camera, or visit"
_MARGIN = 18  # mm
_PT = 0.3528  # mm per point
_TITLE_SIZES = (40, 34, 28, 24, 20)
_TITLE_MAX_LINES = 4
_PURPOSE_SIZES = (22, 20, 18, 16, 14, 12, 11)
_LINK_SIZES = (26, 22, 18, 16, 14, 12)


def printed_link(slug: str, *, light: bool = False) -> str:
    """The campaign's share link as it is printed: no ``utm_*`` noise, and no ``https://`` to type."""
    url = links.share_url(slug, light=light)
    return url.removeprefix("https://")


def line_height(size: float) -> float:
    """mm per line of type at ``size`` points (1.2 times the size)."""
    return size * _PT * 1.2


def fit_lines(pdf: PdfText, text: str, *, sizes: tuple[float, ...], room: float, bold: bool) -> tuple[float, list[str]]:
    """The largest size of ``sizes`` whose wrapped lines fit ``room`` mm of height, and those lines; at the
    smallest size, the lines that fit, the last one ended with an ellipsis."""
    for size in sizes:
        rows = pdf.wrap_lines(text, bold=bold, size=size)
        if len(rows) * line_height(size) <= room:
            return size, rows
    size = sizes[-1]
    rows = pdf.wrap_lines(text, bold=bold, size=size)
    keep = max(1, int(room // line_height(size)))
    if len(rows) > keep:
        rows = rows[:keep]
        last = rows[-1].split(" ")
        while len(last) > 1 and len(pdf.wrap_lines(" ".join(last) + " …", bold=bold, size=size)) > 1:
            last.pop()
        rows[-1] = " ".join(last).rstrip(" ,;:.") + " …"
    return size, rows


def draw_qr(pdf: PdfText, url: str, *, x: float, y: float, size: float) -> None:
    """The QR code of ``url`` as black squares, ``size`` mm wide with its quiet zone inside, a link to ``url``."""
    modules, runs = qr.dark_runs(url)
    cell = size / (modules + 2 * qr.QUIET_ZONE)
    left, top = x + qr.QUIET_ZONE * cell, y + qr.QUIET_ZONE * cell
    pdf.set_fill_color(0)
    for row, column, length in runs:
        pdf.rect(left + column * cell, top + row * cell, length * cell, cell * 1.001, style="F")  # rows overlap a hair
    pdf.link(x, y, size, size, url)


def poster_pdf(kit: KitCampaign, *, paper: Paper = "a4") -> bytes:
    """The poster as a one-page PDF."""
    pdf = PdfText(paper=paper)
    pdf.set_title(f"Poster: {pdf.clean(kit.title).strip()}")
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_fill_color(*ACCENT)
    pdf.rect(0, 0, pdf.w, 6, style="F")

    # the bottom block keeps its size: the QR code, what to do with it, the link
    link = printed_link(kit.slug, light=kit.light_share_link)
    qr_size = min(115.0, pdf.epw * 0.62)
    link_size = next((s for s in _LINK_SIZES if _width(pdf, link, s) <= pdf.epw), _LINK_SIZES[-1])
    link_rows = pdf.wrap_lines(link, bold=True, size=link_size)
    bottom = qr_size + 4 + line_height(14) + 2 + len(link_rows) * line_height(link_size)
    bottom_top = pdf.h - _MARGIN - bottom

    # above it, the words: measured first, then drawn in the middle of the room they have
    kicker = line_height(14) + 3
    title = pdf.clean(kit.title).strip()
    title_room = min(_TITLE_MAX_LINES * line_height(_TITLE_SIZES[0]), (bottom_top - _MARGIN) * 0.45)
    title_size, title_rows = fit_lines(pdf, title, sizes=_TITLE_SIZES, room=title_room, bold=True)
    title_height = len(title_rows) * line_height(title_size) + 5
    purpose = " ".join(pdf.clean(kit.purpose).split())
    room = bottom_top - 8 - _MARGIN - kicker - title_height
    size, rows = fit_lines(pdf, purpose, sizes=_PURPOSE_SIZES, room=room, bold=False) if purpose else (0.0, [])
    words = kicker + title_height + len(rows) * line_height(size) if rows else kicker + title_height
    pdf.set_y(_MARGIN + max(0.0, (bottom_top - 8 - _MARGIN - words) / 2))
    pdf.set_text_color(*ACCENT)
    pdf.paragraph(KICKER.upper(), bold=True, size=14, line=line_height(14), align="C")
    pdf.set_text_color(0)
    pdf.ln(3)
    _rows(pdf, title_rows, size=title_size, bold=True)
    pdf.ln(5)
    pdf.set_text_color(40)
    _rows(pdf, rows, size=size, bold=False)
    pdf.set_text_color(0)

    draw_qr(
        pdf,
        qr.qr_url(kit.slug, medium="poster", light=kit.light_share_link),
        x=(pdf.w - qr_size) / 2,
        y=bottom_top,
        size=qr_size,
    )
    pdf.set_y(bottom_top + qr_size + 4)
    pdf.set_text_color(GREY)
    pdf.paragraph(SCAN_TEXT, size=14, line=line_height(14), align="C")
    pdf.set_text_color(0)
    pdf.ln(2)
    link_top = pdf.get_y()
    _rows(pdf, link_rows, size=link_size, bold=True)
    pdf.link(
        pdf.l_margin, link_top, pdf.epw, pdf.get_y() - link_top, links.share_url(kit.slug, light=kit.light_share_link)
    )
    return bytes(pdf.output())


def _width(pdf: PdfText, text: str, size: float) -> float:
    pdf.set_font(FAMILY, "B", size)
    return pdf.get_string_width(text) + 2 * pdf.c_margin


def _rows(pdf: PdfText, rows: list[str], *, size: float, bold: bool) -> None:
    for row in rows:
        pdf.paragraph(row, bold=bold, size=size, line=line_height(size), align="C")
