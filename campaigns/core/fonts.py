"""The fonts shipped under ``data/fonts/`` (see data/README.md), and which characters each one covers.

DejaVu Sans (regular and bold) has Latin, Greek, Cyrillic, Armenian, Georgian, Arabic, Hebrew and more; Droid
Sans Fallback adds Chinese and Japanese. Letters as PDF (``letters/pdf.py``) and the link-preview images
(``sharing/preview.py``) are set in them.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont

from campaigns.core.settings import PROJECT_ROOT

FONT_DIR = PROJECT_ROOT / "data" / "fonts"
FONT_REGULAR = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"
FONT_CJK = FONT_DIR / "DroidSansFallbackFull.ttf"


@cache
def covered_chars(path: Path) -> frozenset[str]:
    """The characters the font at ``path`` has a glyph for, read once per process."""
    if not path.is_file():
        raise FileNotFoundError(f"Font {path.name} is missing from {path.parent} (see data/README.md)")
    font = TTFont(path, lazy=True)
    try:
        return frozenset(map(chr, font.getBestCmap()))
    finally:
        font.close()
