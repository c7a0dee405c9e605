"""Rally's public address and the links built on it: the one place that builds a link to Rally (pages, emails,
share links), and the share links of each channel (email, WhatsApp, Telegram, X, Bluesky, copy, the phone's own
share sheet).

**The address** (:func:`public_base`): ``RALLY_PUBLIC_URL`` when it is set. Otherwise the address the visitor
used, read from the request being answered (the browser's URL, else its ``Host``), when its host is in
``RALLY_ALLOWED_HOSTS`` (``core/hosts.py``: a forged ``Host`` never reaches a link or an email). Any other host,
and work done with no request (the mail worker's reminders, the command line), get the default address:
``http://localhost:<port>``, the port this process serves on (:func:`serve_on_port`, from ``web/lifespan.py``),
else ``STREAMLIT_SERVER_PORT`` (what ``make run PORT=...`` and ``make demo PORT=...`` set), else 8501.

Pages tell this module how to see the request they answer (:func:`read_requests_with`), so a link built
anywhere during a page's run (a service queueing a confirmation email included) is built on the right address;
HTTP routes do the same for their block of work with :func:`answering`.

**Share links** (:func:`share_targets`) are plain intent URLs (no third-party script), each with its own
``utm_source``, so organizers see which channel brings signers back (signing stores the ``utm_*`` it came with).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from campaigns.core import hosts
from campaigns.core.settings import Settings, get_settings

DEFAULT_PORT = 8501
PORT_VARIABLE = "STREAMLIT_SERVER_PORT"  # Streamlit's own variable for server.port; the Makefile sets it

RequestReader = Callable[[], tuple[str | None, str | None]]
"""Returns the request being answered now: (the browser's URL, the ``Host`` header); (None, None) outside one."""


@dataclass
class _Serving:
    port: int | None = None
    reader: RequestReader | None = None


_serving = _Serving()


def serve_on_port(port: int | None) -> None:
    """Record the port this process serves on (None: forget it); the default address uses it."""
    _serving.port = port


def read_requests_with(reader: RequestReader | None) -> None:
    """How to see the request being answered (None: there is none); pages register it once per process."""
    _serving.reader = reader


def _port() -> int:
    if _serving.port is not None:
        return _serving.port
    raw = os.environ.get(PORT_VARIABLE, "").strip()
    return int(raw) if raw.isdigit() and 0 < int(raw) < 65536 else DEFAULT_PORT


def default_base(settings: Settings | None = None) -> str:
    """``RALLY_PUBLIC_URL``, else ``http://localhost:<port>``; no trailing slash."""
    settings = settings or get_settings()
    return settings.public_url.rstrip("/") or f"http://localhost:{_port()}"


def base_for_request(*, url: str | None = None, host: str | None = None, scheme: str = "http") -> str:
    """The address links are built on for one request: ``RALLY_PUBLIC_URL``; else the request's own address (the
    browser's ``url``, or ``scheme`` and the ``host`` header) when its host is allowed; else the default."""
    settings = get_settings()
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return hosts.request_origin(settings, url=url, host=host, scheme=scheme) or default_base(settings)


_route_base: ContextVar[str | None] = ContextVar("rally_route_base", default=None)


@contextmanager
def answering(*, host: str | None, scheme: str) -> Iterator[str]:
    """Inside an HTTP route (not a page): links built in this block are built on the address the request used,
    when its host is allowed (``base_for_request``). Yields that address."""
    base = base_for_request(host=host, scheme=scheme)
    token = _route_base.set(base)
    try:
        yield base
    finally:
        _route_base.reset(token)


def public_base() -> str:
    """The address links are built on now (see the module's docstring); no trailing slash."""
    route_base = _route_base.get()
    if route_base is not None:
        return route_base
    url, host = _serving.reader() if _serving.reader is not None else (None, None)
    return base_for_request(url=url, host=host)


def page_url(path: str, *, base: str | None = None, **params: str) -> str:
    """A link to one of Rally's pages or routes (``/my-data``, ``/confirm``, ``/auth/set-password``), with
    ``params`` as its query."""
    root = (base or public_base()).rstrip("/")
    query = f"?{urlencode(params)}" if params else ""
    return f"{root}/{path.lstrip('/')}{query}"


LIGHT_PATH = "/s/"  # the light sign page, /s/<slug> (web/light.py)


def share_url(slug: str, *, light: bool = False, base: str | None = None, **utm: str) -> str:
    """The campaign's share link, with any ``utm_*`` parameters, on ``base`` or the public address: the campaign
    page (``/?campaign=<slug>``), or with ``light`` (the campaign's spike mode, ``light_share_link``) the light
    sign page (``/s/<slug>``). Every share link of a campaign (buttons, QR code, poster, emails, link previews)
    passes its campaign's setting here: this is the one rule for which link is the share link."""
    root = (base or public_base()).rstrip("/")
    if light:
        query = f"?{urlencode(utm)}" if utm else ""
        return f"{root}{LIGHT_PATH}{quote(slug, safe='')}{query}"
    return f"{root}/?{urlencode({'campaign': slug, **utm})}"


def preview_path(slug: str) -> str:
    """Where the campaign's link-preview image is served (``/share/<slug>/preview.png``)."""
    return f"/share/{quote(slug, safe='')}/preview.png"


def preview_image_url(slug: str, *, base: str | None = None) -> str:
    """The preview image's absolute address (crawlers need one), on ``base`` or the public address."""
    return (base or public_base()).rstrip("/") + preview_path(slug)


def file_url(slug: str, name: str, *, base: str | None = None, **params: str) -> str:
    """A link to one of the campaign's public files (``/share/<slug>/poster.pdf?paper=letter``: the field kit)."""
    root = (base or public_base()).rstrip("/")
    query = f"?{urlencode(params)}" if params else ""
    return f"{root}/share/{slug}/{name}{query}"


def embed_snippet(slug: str, *, base: str | None = None) -> str:
    """The HTML an organizer pastes into another site to show the campaign's widget (README, "Embedding")."""
    src = page_url("embed", base=base, campaign=slug, embed="true")
    return (
        f'<iframe src="{src}"\n'
        '        title="Sign our campaign" width="360" height="220" loading="lazy"\n'
        '        style="border: 1px solid #ddd; border-radius: 8px; max-width: 100%"></iframe>'
    )


# --- sharing by channel --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShareTarget:
    channel: str  # the utm_source its link carries
    label: str
    url: str  # where the button goes: an intent URL, a mailto:, or (copy, native) the share link itself


INTENTS: tuple[tuple[str, str], ...] = (
    ("email", "Email"),
    ("whatsapp", "WhatsApp"),
    ("telegram", "Telegram"),
    ("x", "X"),
    ("bluesky", "Bluesky"),
)
COPY, NATIVE = "copy", "native"


def _query(params: dict[str, str]) -> str:
    return urlencode(params, quote_via=quote)  # %20 for spaces: mailto: and some apps show a literal "+"


def intent_url(channel: str, *, text: str, url: str) -> str:
    """The address that opens ``channel``'s composer with ``text`` and ``url`` filled in (nothing is loaded
    from that site until the person taps the link)."""
    both = f"{text} {url}"
    if channel == "email":
        return "mailto:?" + _query({"subject": text, "body": f"{text}\n\n{url}"})
    if channel == "whatsapp":
        return "https://wa.me/?" + _query({"text": both})
    if channel == "telegram":
        return "https://t.me/share/url?" + _query({"url": url, "text": text})
    if channel == "x":
        return "https://x.com/intent/post?" + _query({"text": text, "url": url})
    if channel == "bluesky":
        return "https://bsky.app/intent/compose?" + _query({"text": both})
    raise ValueError(f"no share channel {channel!r}")


def share_targets(
    slug: str, title: str, *, medium: str, light: bool = False, base: str | None = None
) -> list[ShareTarget]:
    """Every way to share a campaign, each link with its own ``utm_source`` (and ``utm_medium=medium``): the
    intent links, then the link to copy and the one for the phone's share sheet. ``title`` is the text shared;
    ``light``: the campaign's spike mode (see :func:`share_url`)."""
    root = base or public_base()

    def link(channel: str) -> str:
        return share_url(slug, light=light, base=root, utm_source=channel, utm_medium=medium)

    targets = [ShareTarget(ch, label, intent_url(ch, text=title, url=link(ch))) for ch, label in INTENTS]
    targets += [ShareTarget(COPY, "Copy link", link(COPY)), ShareTarget(NATIVE, "Share…", link(NATIVE))]
    return targets
