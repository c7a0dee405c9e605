"""A campaign's public address and its share links: the one place that builds a link to a campaign."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from campaigns.core.settings import get_settings


def public_base() -> str:
    """The address Rally is reached at, without a trailing slash (``RALLY_PUBLIC_URL``)."""
    return get_settings().public_url.rstrip("/")


def share_url(slug: str, *, base: str | None = None, **utm: str) -> str:
    """The campaign's share link (``/?campaign=<slug>``), with any ``utm_*`` parameters, on ``base`` or the
    public address."""
    root = (base or public_base()).rstrip("/")
    return f"{root}/?{urlencode({'campaign': slug, **utm})}"


def preview_path(slug: str) -> str:
    """Where the campaign's link-preview image is served (``/share/<slug>/preview.png``)."""
    return f"/share/{quote(slug, safe='')}/preview.png"


def preview_image_url(slug: str, *, base: str | None = None) -> str:
    """The preview image's absolute address (crawlers need one), on ``base`` or the public address."""
    return (base or public_base()).rstrip("/") + preview_path(slug)
