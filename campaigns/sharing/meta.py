"""Link previews: the ``og:`` and ``twitter:`` tags a campaign's share link carries in its page's HTML.

Chat apps, social sites and mail clients read them (without running any script) to show the link as a card with
the campaign's title, its purpose and the preview image (``sharing/preview.py``). Everything here is a pure
function of a campaign: ``web/share.py`` reads the campaign and puts the tags in the page Streamlit serves.

Campaign text is data, never markup: every value is HTML-escaped (quotes too, as it sits in an attribute).
"""

from __future__ import annotations

import html
import re
from typing import Protocol

from campaigns.sharing import links

DESCRIPTION_MAX = 200  # characters of the purpose a card shows (longer ones are cut at a word, with "…")
_SPACES = re.compile(r"\s+")
_TITLE = re.compile(rb"<title>.*?</title>", re.DOTALL | re.IGNORECASE)
_HEAD_END = re.compile(rb"</head>", re.IGNORECASE)


class Shared(Protocol):
    """What a preview shows of a campaign (a ``Campaign`` or a ``CampaignPublic``)."""

    @property
    def slug(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def purpose(self) -> str: ...
    @property
    def light_share_link(self) -> bool: ...


def describe(purpose: str, limit: int = DESCRIPTION_MAX) -> str:
    """The purpose on one line, at most ``limit`` characters: cut at the last word that fits, then "…"."""
    text = _SPACES.sub(" ", purpose).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-–—") + "…"


def meta_tags(campaign: Shared, *, base: str, site_name: str) -> str:
    """The tags of ``campaign``'s share link on ``base`` (the public address), one per line, escaped."""
    url = links.share_url(campaign.slug, light=campaign.light_share_link, base=base)
    image = links.preview_image_url(campaign.slug, base=base)
    title, description = _SPACES.sub(" ", campaign.title).strip(), describe(campaign.purpose)
    tags = [
        ("name", "description", description),
        ("property", "og:type", "website"),
        ("property", "og:site_name", site_name),
        ("property", "og:title", title),
        ("property", "og:description", description),
        ("property", "og:url", url),
        ("property", "og:image", image),
        ("property", "og:image:type", "image/png"),
        ("property", "og:image:width", "1200"),
        ("property", "og:image:height", "630"),
        ("property", "og:image:alt", title),
        ("name", "twitter:card", "summary_large_image"),
        ("name", "twitter:title", title),
        ("name", "twitter:description", description),
        ("name", "twitter:image", image),
        ("name", "twitter:image:alt", title),
    ]
    lines = [f'<meta {kind}="{name}" content="{html.escape(value, quote=True)}" />' for kind, name, value in tags]
    lines.append(f'<link rel="canonical" href="{html.escape(url, quote=True)}" />')
    return "\n    ".join(lines)


def page_title(campaign: Shared) -> str:
    """The page's ``<title>`` element for ``campaign``, escaped."""
    return f"<title>{html.escape(_SPACES.sub(' ', campaign.title).strip(), quote=True)}</title>"


def rewrite_index(page: bytes, *, title: str, tags: str) -> bytes:
    """Streamlit's ``index.html`` with its ``<title>`` replaced by ``title`` and ``tags`` right after it (early
    in ``<head>``: some crawlers read only the start of a page). A page without a ``<title>`` gets both just
    before ``</head>``; one without either is returned as it was."""
    inserted = f"{title}\n    {tags}".encode()
    rewritten, found = _TITLE.subn(lambda _: inserted, page, count=1)
    if found:
        return rewritten
    rewritten, found = _HEAD_END.subn(lambda _: inserted + b"\n  </head>", page, count=1)
    return rewritten if found else page
