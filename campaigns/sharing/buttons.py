"""The copy and native-share buttons: their HTML, with every piece of campaign text escaped, and their script.

Copying and the phone's share sheet need a little JavaScript in the page. The pages' Content-Security-Policy
runs no inline script, so the script is a file of this package (``static/share.js``) served from this site
(``web/assets.py``, ``GET /assets/share.js``) and named by the HTML; nothing comes from another site. The HTML is
built here, not in a page, so that the campaign's title and link are escaped once, in one place: they are data
in attributes and a read-only field, never markup. Without the script (or in a test) the link is still there to
copy by hand; the buttons show only once the script has set them up.
"""

from __future__ import annotations

import hashlib
import html
from functools import lru_cache
from pathlib import Path

SCRIPT_FILE = Path(__file__).resolve().parent / "static" / "share.js"
SCRIPT_PATH = "/assets/share.js"


@lru_cache(maxsize=1)
def script_text() -> str:
    """The buttons' script, as served."""
    return SCRIPT_FILE.read_text("utf-8")


def script_url() -> str:
    """Where the page loads the script from: this site, with a version so a changed script is fetched again."""
    return f"{SCRIPT_PATH}?v={hashlib.sha256(script_text().encode()).hexdigest()[:12]}"


def share_box_html(*, copy_url: str, native_url: str, title: str, key: str) -> str:
    """The link in a read-only field with a *Copy link* button beside it, and a *Share…* button for the phone's
    share sheet (shown only where the browser has one). ``key`` keeps the field's id unique on the page."""
    native, name = (html.escape(value, quote=True) for value in (native_url, title))
    share = (
        f'<button type="button" class="rally-share-button" data-rally-native="{native}" data-rally-title="{name}" '
        "hidden>Share…</button>"
    )
    return _box(url=copy_url, label="Link to this campaign", key=key, extra=share, copied="", button="Copy link")


def copy_box_html(*, url: str, label: str, key: str, button: str, copied: str) -> str:
    """A link in a read-only field with a visible copy ``button`` (``copied``: what it says once copied), for a
    link that is not shared, such as a signer's own receipt."""
    return _box(url=url, label=label, key=key, extra="", copied=copied, button=button)


def _box(*, url: str, label: str, key: str, extra: str, copied: str, button: str) -> str:
    field_id = "rally-share-" + "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in key)[:60]
    link, said = (html.escape(value, quote=True) for value in (url, copied))
    return (
        '<div class="rally-share" data-rally-share>'
        f'<label class="rally-share-label" for="{field_id}">{html.escape(label)}</label>'
        '<div class="rally-share-row">'
        f'<input id="{field_id}" class="rally-share-link" type="text" readonly value="{link}">'
        f'<button type="button" class="rally-share-button" data-rally-copy="{link}"'
        + (f' data-rally-copied="{said}"' if copied else "")
        + f" hidden>{html.escape(button)}</button>{extra}"
        "</div>"
        '<p class="rally-share-status" data-rally-status role="status" aria-live="polite"></p>'
        f'<script src="{html.escape(script_url(), quote=True)}"></script>'
        "</div>"
    )
