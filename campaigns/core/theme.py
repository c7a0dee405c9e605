"""Rally's colour: the theme's primary colour, set in one place (``.streamlit/config.toml``, ``[theme]
primaryColor``), for what Streamlit does not draw itself: the HTTP routes' own pages, the charts, the poster, the
signature sheet and the link-preview image."""

from __future__ import annotations

import re
import tomllib
from functools import cache

from campaigns.core.settings import PROJECT_ROOT

CONFIG = PROJECT_ROOT / ".streamlit" / "config.toml"
FALLBACK = "#B93E0B"  # what the shipped config.toml sets (4.8:1 on its own tint, 5.6:1 under white text)
_HEX = re.compile(r"#[0-9A-Fa-f]{6}")


@cache
def primary_hex() -> str:
    """``#RRGGBB``: the configured primary colour, or the shipped one when the file or the line is missing."""
    try:
        value = tomllib.loads(CONFIG.read_text("utf-8")).get("theme", {}).get("primaryColor", "")
    except (OSError, tomllib.TOMLDecodeError):
        return FALLBACK
    return value if isinstance(value, str) and _HEX.fullmatch(value) else FALLBACK


def primary_rgb() -> tuple[int, int, int]:
    """The primary colour as (red, green, blue), 0 to 255 each."""
    code = primary_hex()
    return int(code[1:3], 16), int(code[3:5], 16), int(code[5:7], 16)
