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


def page_url(path: str, slug: str, *, base: str | None = None, **params: str) -> str:
    """A link to one of the campaign's pages (``dashboard``, ``embed``): ``/<path>?campaign=<slug>&...``."""
    root = (base or public_base()).rstrip("/")
    return f"{root}/{path}?{urlencode({'campaign': slug, **params})}"


def file_url(slug: str, name: str, *, base: str | None = None, **params: str) -> str:
    """A link to one of the campaign's public files (``/share/<slug>/poster.pdf?paper=letter``: the field kit)."""
    root = (base or public_base()).rstrip("/")
    query = f"?{urlencode(params)}" if params else ""
    return f"{root}/share/{slug}/{name}{query}"


def embed_snippet(slug: str, *, base: str | None = None) -> str:
    """The HTML an organizer pastes into another site to show the campaign's widget (README, "Embedding")."""
    src = page_url("embed", slug, base=base, embed="true")
    return (
        f'<iframe src="{src}"\n'
        '        title="Sign our campaign" width="360" height="220" loading="lazy"\n'
        '        style="border: 1px solid #ddd; border-radius: 8px; max-width: 100%"></iframe>'
    )
