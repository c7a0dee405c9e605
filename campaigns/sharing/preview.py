"""Link-preview images: a 1200×630 PNG card per campaign, drawn on the server with Pillow.

The card shows who runs the campaign (``RALLY_ORG_NAME``), its title (wrapped and shrunk to fit, in any script
the shipped fonts cover: ``core/fonts.py``), its count ("12,345 signatures"), how far it is toward its goal, and
a progress bar. ``web/share.py`` serves it at ``/share/<slug>/preview.png`` and keeps each card
``REFRESH_SECONDS``: a preview shows a count at most that old.

Letters no shipped font has (emoji, Hangul, Devanagari, Thai, ...) are left out rather than drawn as boxes.
Right-to-left titles (Arabic, Hebrew) are shaped and ordered by Pillow's Raqm layout and set flush right.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from sqlmodel import Session

from campaigns.catalog import listing
from campaigns.core import theme
from campaigns.core.fonts import FONT_BOLD, FONT_CJK, FONT_REGULAR, covered_chars

WIDTH, HEIGHT = 1200, 630  # the size Facebook, LinkedIn, X and chat apps show large
REFRESH_SECONDS = 300  # a card is drawn again at most this often (its count may be this old)

_MARGIN = 72
_BACKGROUND = (255, 247, 237)  # the theme's orange as a pale wash
_BAND = theme.primary_rgb()
_INK = (28, 25, 23)
_MUTED = (87, 83, 78)
_TRACK = (254, 215, 170)
_TITLE_SIZES = range(84, 39, -4)  # the largest size at which the title fits in the title box
_TITLE_TOP, _TITLE_BOTTOM = 150, 440
_LINE_SPACING = 1.22
_ELLIPSIS = "…"


@dataclass(frozen=True)
class PreviewCard:
    """What a campaign's preview image shows."""

    org_name: str
    title: str
    total: int
    goal: int
    closed: bool


def read_preview_card(*, session: Session, slug: str, org_name: str) -> PreviewCard:
    """The card of a public campaign; drafts, archived and unknown slugs raise ``CampaignNotFound``."""
    page = listing.get_campaign_page(session=session, slug=slug)
    return PreviewCard(org_name=org_name, title=page.title, total=page.total, goal=page.goal, closed=not page.is_open)


def count_text(total: int) -> str:
    return f"{total:,} signature" + ("" if total == 1 else "s")


def goal_text(card: PreviewCard) -> str:
    percent = int(listing.goal_share(card.total, card.goal, capped=False) * 100)
    text = f"{percent:,}% of {card.goal:,}"
    return f"Closed · {text}" if card.closed else text


def render_preview(card: PreviewCard) -> bytes:
    """The card as PNG bytes, 1200×630."""
    image = Image.new("RGB", (WIDTH, HEIGHT), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, 16), fill=_BAND)
    inner = WIDTH - 2 * _MARGIN

    org = _fit_one_line(_visible(card.org_name, FONT_BOLD), FONT_BOLD, 36, inner)
    _draw_line(draw, org, FONT_BOLD, 36, _MARGIN, 96, _BAND, inner, rtl=_is_rtl(card.org_name))

    size, lines = _fit_title(_visible(card.title, FONT_BOLD), inner)
    step = round(size * _LINE_SPACING)
    block = step * len(lines)
    baseline = _TITLE_TOP + max(0, (_TITLE_BOTTOM - _TITLE_TOP - block) // 2) + size
    rtl = _is_rtl(card.title)
    for line in lines:
        _draw_line(draw, line, FONT_BOLD, size, _MARGIN, baseline, _INK, inner, rtl=rtl)
        baseline += step

    count_baseline = 522
    draw.text((_MARGIN, count_baseline), count_text(card.total), font=_font(FONT_BOLD, 48), fill=_INK, anchor="ls")
    draw.text(
        (WIDTH - _MARGIN, count_baseline), goal_text(card), font=_font(FONT_REGULAR, 36), fill=_MUTED, anchor="rs"
    )
    top, bottom = 552, 584
    draw.rounded_rectangle((_MARGIN, top, WIDTH - _MARGIN, bottom), radius=16, fill=_TRACK)
    share = listing.goal_share(card.total, card.goal)
    if share > 0:
        right = _MARGIN + max(bottom - top, round(inner * share))  # at least a dot, so a start shows
        draw.rounded_rectangle((_MARGIN, top, right, bottom), radius=16, fill=_BAND)

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=6)
    return out.getvalue()


# --------------------------------------------------------------------------- text


@cache
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


def _fallbacks(path: Path) -> tuple[Path, ...]:
    """The fonts a character is looked for in, in order: ``path``, regular DejaVu, then Droid (CJK)."""
    return tuple(dict.fromkeys((path, FONT_REGULAR, FONT_CJK)))


def _font_for(ch: str, path: Path) -> Path | None:
    if ch == " ":
        return path
    return next((p for p in _fallbacks(path) if ch in covered_chars(p)), None)


def _visible(text: str, path: Path) -> str:
    """``text`` on one line (NFC, runs of white space as one space) without the characters no font has."""
    text = " ".join(unicodedata.normalize("NFC", text).split())
    return " ".join("".join(ch for ch in text if _font_for(ch, path) is not None).split())


def _runs(text: str, path: Path) -> list[tuple[str, Path]]:
    """``text`` cut into runs that one font draws (spaces go with the run they are in)."""
    runs: list[tuple[str, Path]] = []
    for ch in text:
        font = _font_for(ch, path) or path
        if runs and (ch == " " or runs[-1][1] == font):
            runs[-1] = (runs[-1][0] + ch, runs[-1][1])
        else:
            runs.append((ch, font))
    return runs


def _width(text: str, path: Path, size: int) -> float:
    return sum(_font(p, size).getlength(run) for run, p in _runs(text, path))


def _is_cjk(ch: str) -> bool:
    return ch not in covered_chars(FONT_REGULAR) and ch in covered_chars(FONT_CJK)  # Droid read only if needed


def _tokens(text: str) -> list[str]:
    """Where a line may break: between words, and between any two CJK characters (they have no spaces)."""
    tokens: list[str] = []
    for ch in text:
        if ch == " " or _is_cjk(ch) or not tokens or tokens[-1] == " " or _is_cjk(tokens[-1][-1]):
            tokens.append(ch)
        else:
            tokens[-1] += ch
    return tokens


@lru_cache(maxsize=50_000)
def _piece_width(piece: str, path: Path, size: int) -> float:
    """One word's (or CJK character's, or space's) width: measured once per process and size."""
    return _width(piece, path, size)


def _wrap(text: str, path: Path, size: int, width: float) -> list[str]:
    """``text`` in lines no wider than ``width``; a word longer than a line is cut where it must be."""
    lines: list[str] = []
    line, used = "", 0.0
    for piece in _tokens(text):
        wide = _piece_width(piece, path, size)
        if used + wide <= width:
            line, used = line + piece, used + wide
            continue
        if line.strip():
            lines.append(line.rstrip())
        line, used = ("", 0.0) if piece == " " else (piece, wide)
        while used > width:  # one word wider than the card: cut it at the most that fits
            low, high = 1, len(line) - 1
            while low < high:
                middle = (low + high + 1) // 2
                low, high = (middle, high) if _width(line[:middle], path, size) <= width else (low, middle - 1)
            lines.append(line[:low])
            line = line[low:]
            used = _width(line, path, size)
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _fit_title(text: str, width: float) -> tuple[int, list[str]]:
    """The largest size at which the title fits the title box, and its lines; at the smallest size, the lines
    that fit with "…" at the end."""
    height = _TITLE_BOTTOM - _TITLE_TOP
    for size in _TITLE_SIZES:
        lines = _wrap(text, FONT_BOLD, size, width)
        if len(lines) * round(size * _LINE_SPACING) <= height:
            return size, lines
    size = _TITLE_SIZES[-1]
    lines = _wrap(text, FONT_BOLD, size, width)[: height // round(size * _LINE_SPACING)]
    lines[-1] = _fit_one_line(lines[-1] + _ELLIPSIS, FONT_BOLD, size, width)
    return size, lines


def _fit_one_line(text: str, path: Path, size: int, width: float) -> str:
    """``text``, or as much of it as fits in ``width`` followed by "…"."""
    if _width(text, path, size) <= width:
        return text
    text = text.removesuffix(_ELLIPSIS)
    while text and _width(text + _ELLIPSIS, path, size) > width:
        text = text[:-1]
    return text.rstrip() + _ELLIPSIS


def _is_rtl(text: str) -> bool:
    """Whether the first letter with a direction reads right to left (Arabic, Hebrew, ...)."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("L", "R", "AL"):
            return kind != "L"
    return False


def _draw_line(
    draw: ImageDraw.ImageDraw,
    line: str,
    path: Path,
    size: int,
    left: int,
    baseline: int,
    fill: tuple[int, int, int],
    width: int,
    *,
    rtl: bool,
) -> None:
    """One line on its baseline, each run in its own font: flush left, or flush right for right-to-left."""
    runs = _runs(line, path)
    x = float(left + width) - _width(line, path, size) if rtl else float(left)
    for run, font_path in runs:
        font = _font(font_path, size)
        draw.text((x, baseline), run, font=font, fill=fill, anchor="ls")
        x += font.getlength(run)
