"""PDF pages in the fonts shipped under ``data/fonts/``: any script, emoji dropped, paragraphs wrapped fast.

``PdfText`` is an fpdf2 document (A4 or US Letter, portrait or landscape, in mm) that letters
(``letters/pdf.py``) and the field kit (``fieldkit/``) print with. Text is set in DejaVu Sans (Latin, Greek,
Cyrillic, Armenian, Georgian, Arabic, Hebrew, ...); characters DejaVu lacks (Chinese, Japanese) fall back to
Droid Sans Fallback, which is only loaded into a document that needs it. Lines with right-to-left or joining
scripts (Arabic, Hebrew, ...) go through fpdf2's HarfBuzz shaping and bidi, so they print joined and in reading
order; other lines skip it. Emoji, symbols and control characters no shipped font has are left out; letters of
scripts no shipped font has (Hangul, Devanagari, Thai, ...) print as empty boxes, and are missing from the
PDF's text layer.

Text is data, never markup: nothing is parsed as Markdown or HTML, and ``{nb}`` is not a page count.

Speed: fpdf2's ``multi_cell`` measures a line again for every character it adds, and walks every character
when fallback fonts or shaping are on. So paragraphs are wrapped here with widths cached per process, each
line is drawn with ``cell``, and fallback fonts and shaping are switched on only around lines that need them
(about 7 times faster than plain ``multi_cell``: ``python -m bench --only pdf_bundle``).

fpdf2 rewrites a font's tables when it embeds its subset, so a font object can't serve two documents: each
document parses its fonts again (about 0.06 s for DejaVu; about 0.35 s more, subsetting included, when it
needs Droid). What is cached per process is which characters each font covers and how wide they are.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Literal

from fpdf import FPDF
from fpdf.bidi import auto_detect_base_direction
from fpdf.enums import TextDirection

from campaigns.core.fonts import FONT_BOLD, FONT_CJK, FONT_REGULAR, covered_chars

FAMILY, _CJK = "dejavu", "droidfallback"
BODY_SIZE = 11  # pt
BODY_LINE = 5.6  # mm per body line
GREY = 110

# Scripts that need shaping (joining forms) or bidi reordering: Hebrew to NKo, Arabic supplements and
# presentation forms, Indic, Thai/Lao, Myanmar, Khmer. Directional marks and embeddings too.
_NEEDS_SHAPING = re.compile(
    "[\u0590-\u08ff\u0900-\u0dff\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"
    "\u200e\u200f\u202a-\u202e\u2066-\u2069\ufb1d-\ufdff\ufe70-\ufeff]"
)
# What an emoji leaves behind once its picture is dropped: joiners, variation selectors, skin tones, tags.
_EMOJI_GLUE = frozenset(
    "\u200d\ufe0e\ufe0f\u20e3" + "".join(map(chr, range(0x1F3FB, 0x1F400))) + "".join(map(chr, range(0xE0020, 0xE0080)))
)
_CJK_CLASS = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff"
_TOKEN = re.compile(f"[{_CJK_CLASS}]|[^\\s{_CJK_CLASS}]+|\\s+")  # line-break units: CJK chars, words, spaces
_CHAR_WIDTHS: dict[str, dict[str, float]] = {}  # style -> character -> width in mm at 1 pt
_WORD_WIDTHS: dict[tuple[str, str], float] = {}  # (style, word) -> shaped width in mm at 1 pt
_WORD_WIDTHS_MAX = 50_000
_SPACING = str.maketrans({"\r": "\n", "\x85": "\n", "\u2028": "\n", "\u2029": "\n\n", "\t": "    "})
_DROPPED_RUN = re.compile("(?: ?\0)+")
_DROPPED_CATEGORIES = frozenset({"So", "Sk", "Cc", "Cf", "Cs", "Co", "Cn"})


@dataclass(frozen=True)
class _Coverage:
    regular: frozenset[str]  # characters DejaVu Sans has
    bold: frozenset[str]  # characters DejaVu Sans Bold has
    cjk: frozenset[str]  # characters Droid Sans Fallback adds to DejaVu Sans


@cache
def _coverage() -> _Coverage:
    """Which characters each shipped font covers, read once per process."""
    regular = covered_chars(FONT_REGULAR)
    return _Coverage(regular, covered_chars(FONT_BOLD), covered_chars(FONT_CJK) - regular)


Paper = Literal["a4", "letter"]
PAPERS: dict[str, str] = {"a4": "A4", "letter": "Letter"}  # what a person picks -> fpdf2's page format


class PdfText(FPDF):
    """A page in mm (A4 or US Letter, portrait or landscape) with the shipped fonts; no header or footer.

    fpdf2 handles text fastest with no fallback fonts and no shaping set (one fragment per line instead of a
    walk over every character), so both are switched on only around the lines that need them.
    """

    def __init__(self, *, paper: Paper = "a4", landscape: bool = False) -> None:
        super().__init__(orientation="L" if landscape else "P", format=PAPERS[paper], unit="mm")
        self._cov = _coverage()
        self._cjk_loaded = False
        self._fallback_on = False
        self.alias_nb_pages(None)  # type: ignore[arg-type]  # None turns the alias off: "{nb}" in a letter is text, not the page count
        self.set_creator("Rally")
        self.add_font(FAMILY, "", FONT_REGULAR)
        self.add_font(FAMILY, "B", FONT_BOLD)

    # ----------------------------------------------------------------------- text in, text out

    def clean(self, text: str) -> str:
        """NFC text with unified line ends; emoji and controls no font can draw dropped; loads CJK on need."""
        text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").translate(_SPACING))
        missing = set(text).difference(self._cov.regular)
        missing.discard("\n")
        if not missing:
            return text
        if not self._cjk_loaded and not missing.isdisjoint(self._cov.cjk):
            self.add_font(_CJK, "", FONT_CJK)
            self._cjk_loaded = True
            if self._fallback_on:
                self.set_fallback_fonts([FAMILY, _CJK], exact_match=False)
        drop = {c for c in missing - self._cov.cjk if unicodedata.category(c) in _DROPPED_CATEGORIES}
        if not drop:
            return text
        marked: list[str] = []
        after_dropped = False
        for c in text:
            if c in drop or (after_dropped and c in _EMOJI_GLUE):
                after_dropped = True
                c = "\0"
            else:
                after_dropped = False
            marked.append(c)
        return _DROPPED_RUN.sub("", "".join(marked))  # "a 🎉 🎉 b" -> "a b"

    def paragraph(
        self, text: str, *, bold: bool = False, size: float = BODY_SIZE, line: float = BODY_LINE, align: str = "L"
    ) -> None:
        """Cleaned text as a block between the margins (right-aligned when it reads right to left).

        fpdf2's multi_cell measures the whole line again for every character it adds to it; wrapping here
        with cached widths and drawing each line with cell() is several times faster. Every line of a
        paragraph that needs bidi keeps the paragraph's base direction.
        """
        style = "B" if bold else ""
        self.set_font(FAMILY, style, size)
        direction = auto_detect_base_direction(text) if _NEEDS_SHAPING.search(text) else None
        if direction == TextDirection.RTL and align == "L":
            align = "R"  # right-to-left text starts at the right; centred text stays centred
        for row in self._wrap(text, style, size, direction):
            shaped = direction == TextDirection.RTL or (direction is not None and _NEEDS_SHAPING.search(row))
            with self._drawing(row, style, direction if shaped else None):
                self.cell(0, line, row, align=align, markdown=False, new_x="LMARGIN", new_y="NEXT")

    def wrap_lines(self, text: str, *, bold: bool = False, size: float = BODY_SIZE) -> list[str]:
        """The lines ``paragraph`` would print ``text`` in (cleaned), between the margins: to measure a block."""
        style = "B" if bold else ""
        self.set_font(FAMILY, style, size)  # _wrap measures characters it has not seen at the current size
        text = self.clean(text)
        direction = auto_detect_base_direction(text) if _NEEDS_SHAPING.search(text) else None
        return self._wrap(text, style, size, direction)

    def one_line(
        self,
        text: str,
        *,
        w: float,
        h: float,
        bold: bool = False,
        size: float = BODY_SIZE,
        align: str = "L",
        border: Literal[0, 1] | str = 0,
    ) -> None:
        """Cleaned ``text`` on one line ``w`` mm wide at the current position, cut with an ellipsis to fit."""
        style = "B" if bold else ""
        self.set_font(FAMILY, style, size)
        text = " ".join(self.clean(text).split())
        direction = auto_detect_base_direction(text) if _NEEDS_SHAPING.search(text) else None
        with self._drawing(text, style, direction):
            room = w - 2 * self.c_margin
            while len(text) > 1 and self.get_string_width(text) > room:
                text = text[: max(1, int(len(text) * 0.9))].rstrip() + "…"
            self.cell(w, h, text, border=border, align=align, markdown=False)

    def small_line(self, text: str, y: float) -> None:
        """One grey 8 pt line at ``y``, cut with an ellipsis to the page's width."""
        if not text:
            return
        self.set_font(FAMILY, "", 8)
        direction = auto_detect_base_direction(text) if _NEEDS_SHAPING.search(text) else None
        with self._drawing(text, "", direction):
            while len(text) > 1 and self.get_string_width(text) > self.epw:
                text = text[: max(1, int(len(text) * 0.9))].rstrip() + "…"
            self.set_text_color(GREY)
            self.set_xy(self.l_margin, y)
            self.cell(0, 4, text, align="C", markdown=False)
            self.set_text_color(0)

    @contextmanager
    def _drawing(self, text: str, style: str, direction: TextDirection | None) -> Iterator[None]:
        """Fallback fonts on if ``text`` needs them, HarfBuzz shaping on if a direction is given; then the
        state as it was (the header and footer run inside a paragraph's page break)."""
        before_shaping, before_fallback = self.text_shaping, self._fallback_on
        self._set_fallback(not (self._cov.bold if style == "B" else self._cov.regular).issuperset(text))
        self.text_shaping = None
        if direction is not None:
            self.set_text_shaping(True, direction=direction)
        try:
            yield
        finally:
            self.text_shaping = before_shaping
            self._set_fallback(before_fallback)

    def _set_fallback(self, on: bool) -> None:
        if on != self._fallback_on:
            fonts = [FAMILY, _CJK] if self._cjk_loaded else [FAMILY]  # a glyph bold lacks comes from regular
            self.set_fallback_fonts(fonts if on else [], exact_match=False)
            self._fallback_on = on

    def _wrap(self, text: str, style: str, size: float, direction: TextDirection | None) -> list[str]:
        """Greedy line breaks at spaces and between CJK characters; a word longer than a line is cut.

        Widths are cached per process (the fonts never change): per character, and per word for words
        HarfBuzz shapes (joined Arabic letters are not as wide as the letters alone).
        """
        chars = _CHAR_WIDTHS.setdefault(style, {})
        if len(_WORD_WIDTHS) > _WORD_WIDTHS_MAX:
            _WORD_WIDTHS.clear()

        def measure(chunk: str, shaped: bool) -> float:
            with self._drawing(chunk, style, direction if shaped else None):
                return self.get_string_width(chunk) / size

        def width(chunk: str) -> float:
            if direction is not None and _NEEDS_SHAPING.search(chunk):
                w = _WORD_WIDTHS.get((style, chunk))
                if w is None:
                    w = _WORD_WIDTHS[style, chunk] = measure(chunk, True)
                return w
            total = 0.0
            for c in chunk:
                w = chars.get(c)
                if w is None:
                    w = chars[c] = measure(c, False)
                total += w
            return total

        room = (self.epw - 2 * self.c_margin) / size - 1e-6
        rows: list[str] = []
        for hard_line in text.split("\n"):
            row: list[str] = []
            row_width = 0.0
            wrapped = False
            for token in _TOKEN.findall(hard_line):
                w = width(token)
                if token.isspace():
                    if row or not wrapped:  # indentation stays, the space a line was broken at goes
                        row.append(token)
                        row_width += w
                    continue
                if row and row_width + w > room:
                    rows.append("".join(row).rstrip())
                    row, row_width, wrapped = [], 0.0, True
                while w > room:
                    cut, cut_width = 1, width(token[0])
                    while cut < len(token) and cut_width + width(token[cut]) <= room:
                        cut_width += width(token[cut])
                        cut += 1
                    rows.append(token[:cut])
                    token = token[cut:]
                    w, wrapped = width(token), True
                if token:
                    row.append(token)
                    row_width += w
            rows.append("".join(row).rstrip())
        return rows
