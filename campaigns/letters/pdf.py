"""Letters as PDF: one letter (``letter_pdf``) or a bundle for one target (``bundle_pdf``).

Set in the shipped fonts by ``core/pdf_text.PdfText`` (any script; emoji dropped; paragraphs wrapped fast):
its docstring says what prints and how fast. Supporter text is data, never markup: nothing is parsed as
Markdown or HTML, and ``{nb}`` is not a page count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from campaigns.core.pdf_text import BODY_LINE, GREY, PdfText
from campaigns.letters import layout

PROGRESS_EVERY = 100

_LINE = BODY_LINE
_GREY = GREY


@dataclass(frozen=True)
class LetterDoc:
    campaign_title: str
    signer_name: str
    signer_region: str  # region name
    target_name: str
    target_title: str
    target_address: str  # may contain newlines; may be ""
    date_text: str  # e.g. "22 November 2026"
    subject: str
    body: str  # plain text, paragraphs separated by blank lines; any script, emoji


def letter_pdf(letter: LetterDoc) -> bytes:
    """One letter on A4, laid out by ``campaigns.letters.layout``: sender, the address block in a window
    envelope's window, the date once, subject (bold), body, and the signer's name once."""
    pdf = _Document(footer=letter.campaign_title)
    pdf.set_title(letter.subject)
    pdf.set_author(letter.signer_name)
    _add_letter(pdf, letter)
    return bytes(pdf.output())


def bundle_pdf(
    target_name: str,
    target_title: str,
    campaign_title: str,
    date_text: str,
    letters: Iterable[LetterDoc],
    *,
    constituents: int,
    on_progress: Callable[[int], object] | None = None,
) -> bytes:
    """A cover page, then each letter from its own page on (long letters run onto further pages).

    ``letters`` is consumed once, lazily (a generator is fine). ``on_progress(n)`` is called after every
    ``PROGRESS_EVERY`` letters, and once more at the end with the total when that is not a multiple of it.
    """
    pdf = _Document(footer=campaign_title)
    pdf.set_title(f"Letters to {target_name}: {campaign_title}")
    _add_cover(pdf, target_name, target_title, campaign_title, date_text, constituents)
    done = 0
    for letter in letters:
        _add_letter(pdf, letter)
        done += 1
        if on_progress is not None and done % PROGRESS_EVERY == 0:
            on_progress(done)
    if on_progress is not None and done % PROGRESS_EVERY:
        on_progress(done)
    return bytes(pdf.output())


# --------------------------------------------------------------------------- the letter's pages


class _Document(PdfText):
    """A4 with a grey footer line, and a header on a letter's continuation pages."""

    def __init__(self, *, footer: str) -> None:
        super().__init__(paper="a4")
        self.set_margins(25, 22, 25)
        self.set_auto_page_break(True, margin=22)
        self.footer_text = self.clean(footer)
        self.continued_text = ""  # header of the current letter's pages after its first
        self.letter_first_page = 0

    def header(self) -> None:
        if self.continued_text and self.page > self.letter_first_page:
            self.small_line(f"{self.continued_text}, page {self.page - self.letter_first_page + 1}", 12)
            self.set_xy(self.l_margin, self.t_margin)

    def footer(self) -> None:
        self.small_line(self.footer_text, self.h - 14)


_LAYOUT_FIELDS = "signer_name signer_region target_name target_title target_address date_text subject body".split()


def _add_letter(pdf: _Document, letter: LetterDoc) -> None:
    """Sender, the address block in the envelope's window, the date, subject and body; signed once (see layout)."""
    clean = pdf.clean
    parts = layout.letter_parts(**{name: clean(getattr(letter, name)) for name in _LAYOUT_FIELDS})
    pdf.continued_text = ""  # the new page is the letter's first: no header
    pdf.add_page()
    pdf.letter_first_page = pdf.page
    pdf.continued_text = f"{clean(letter.signer_name).strip()} to {parts.recipient[0] if parts.recipient else ''}"
    pdf.set_draw_color(_GREY)
    for y, length in ((layout.FOLD_MARKS[0], 5), (layout.HOLE_MARK, 8), (layout.FOLD_MARKS[1], 5)):
        pdf.line(0, y, length, y)
    pdf.set_y(layout.SENDER_TOP)
    for text in parts.sender:
        pdf.paragraph(text, size=layout.ADDRESS_SIZE, line=layout.ADDRESS_LINE, align="R")
    pdf.set_y(max(pdf.get_y() + _LINE, layout.ADDRESS_TOP))
    for text in parts.recipient:
        pdf.paragraph(text, size=layout.ADDRESS_SIZE, line=layout.ADDRESS_LINE)
    pdf.set_y(max(pdf.get_y() + _LINE, layout.DATE_TOP))
    if parts.date:
        pdf.paragraph(parts.date, align="R")
        pdf.ln(_LINE)
    if parts.subject:
        pdf.paragraph(parts.subject, bold=True)
        pdf.ln(_LINE)
    for n, text in enumerate(parts.paragraphs):
        if n == parts.signed_at:
            pdf.ln(layout.SIGN_ROOM)
        pdf.paragraph(text)
        pdf.ln(_LINE * 0.6)
    if not parts.signature:
        return
    if pdf.will_page_break(_LINE * (len(parts.signature) + 1.5)):
        pdf.add_page()  # keep the signature with at least its own lines
    pdf.ln(_LINE)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + 70, pdf.get_y())
    pdf.ln(1.5)
    pdf.paragraph(parts.signature[0], bold=True)
    for text in parts.signature[1:]:
        pdf.paragraph(text)


def _add_cover(
    pdf: _Document, target_name: str, target_title: str, campaign_title: str, date_text: str, constituents: int
) -> None:
    clean = pdf.clean
    pdf.add_page()
    pdf.set_y(70)
    pdf.paragraph(clean(campaign_title).strip(), bold=True, size=20, line=9)
    pdf.ln(8)
    pdf.paragraph("Letters to", size=12, line=6)
    pdf.paragraph(clean(target_name).strip(), bold=True, size=16, line=8)
    title = clean(target_title).strip()
    if title:
        pdf.paragraph(title, size=12, line=6)
    pdf.ln(10)
    noun = "constituent" if constituents == 1 else "constituents"
    pdf.paragraph(f"From {constituents:,} {noun}", size=12, line=6)
    date = clean(date_text).strip()
    if date:
        pdf.ln(2)
        pdf.paragraph(date, size=12, line=6)
