"""The light sign page, ``/s/<slug>``: a campaign and its sign form as plain HTML, for spikes, slow phones and
browsers without JavaScript.

``GET`` answers from a page kept ``CACHE_SECONDS`` per campaign and address (``core/ttl_cache.py``: one database
read per interval however many ask) and only puts this visitor's form token in it. ``POST`` is the Streamlit
form's own path: ``signing.sign`` with a ``SignerInput`` in a write transaction (``core/db.run_write``, in a
worker thread, so the event loop never waits on the database; in a spike, sign-ons that wait together share one
transaction, each in its savepoint: ``web/sign_lane.py``); validation, flood control, confirmation emails,
consent and receipts are the service's. It answers with the thank-you (``signatures/wording.py``, the same words
as the Streamlit page) or the form again with each message under its field (422).

Forms are protected by a double-submit token: the GET sets a random ``rally_csrf`` cookie (HttpOnly, SameSite=Lax)
and puts its HMAC under the app's secret in a hidden field; a POST whose field does not match its cookie, or whose
``Origin`` names a host that is not allowed (``core/hosts.py``), stores nothing and says how to try again (403).
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import anyio
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from campaigns.catalog import listing
from campaigns.core import hosts, theme
from campaigns.core.client_address import client_address
from campaigns.core.db import get_engine, read_session
from campaigns.core.errors import CampaignClosed, InvalidInput, NotFound, RallyError
from campaigns.core.mail import mail_mode
from campaigns.core.models import CampaignPublic
from campaigns.core.settings import get_settings
from campaigns.core.tokens import keyed_mac, mac_matches
from campaigns.core.ttl_cache import TTLCache
from campaigns.people.logins import secret_key
from campaigns.people.supporter_links import receipt_url
from campaigns.regions.lookup import resolve_scheme
from campaigns.regions.schemes import RegionScheme
from campaigns.sharing import links, meta
from campaigns.signatures import wording
from campaigns.signatures.signing import SignerInput, SignResult
from campaigns.web import errors, sign_lane

PATH = "/s/{slug}"
CACHE_SECONDS = 5  # as the JSON API and the link previews: a new count shows this quickly
MAX_BODY = 16 * 1024  # a filled-in form is well under 4 KB
MAX_FIELDS = 40
URLENCODED = "application/x-www-form-urlencoded"
COOKIE = "rally_csrf"
FIELD = "rally_form"
_PURPOSE = b"rally light sign form"
_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_-]{32}")
_HIDDEN = "RALLY-HIDDEN-FIELDS-d41d8c"  # where each visitor's own hidden fields go in the cached page
SOURCE_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "ref")
NO_CAMPAIGN = "There is no published campaign at that address."
WRITE_LETTER = "Write your letter to the decision-maker (on the full campaign page: enter your details once more)"
REFUSED = (
    "This form was sent without the token its page gave it (an old tab, blocked cookies, or another site), so "
    "nothing was stored. Open the form again and press the button once more."
)
TOO_BIG = "That was far more text than the form takes, so nothing was stored. Shorten your comment and try again."

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    auto_reload=False,
    trim_blocks=True,
    lstrip_blocks=True,
)
_template = _env.get_template("light.html")


@dataclass(frozen=True)
class LightCampaign:
    """One public campaign as the light page shows it, kept a few seconds: its page with the form (a marker
    where each visitor's hidden fields go), and what a POST needs to sign and answer."""

    page: CampaignPublic
    scheme: RegionScheme
    tags: str  # the og:/twitter: tags, escaped by sharing/meta.py
    html: str
    share_targets: tuple[links.ShareTarget, ...] = ()  # the thank-you's share links (intent URLs, plain <a>)
    share_link: str = ""  # the link to copy


_cache = TTLCache(CACHE_SECONDS)  # (slug, base) -> LightCampaign, or None for a slug the public can't see


def read_light(slug: str, base: str) -> LightCampaign | None:
    """The public campaign ``slug`` for its light page on ``base`` (None: draft, archived or unknown)."""
    with read_session(get_engine()) as session:
        try:
            page = listing.get_campaign_page(session=session, slug=slug)
        except NotFound:
            return None
        scheme = resolve_scheme(session=session, scheme_id=page.region_scheme)
    tags = meta.meta_tags(page, base=base, site_name=get_settings().org_name)  # escaped by meta_tags
    targets = links.share_targets(page.slug, page.title, medium="supporter", light=page.light_share_link, base=base)
    found = LightCampaign(
        page=page,
        scheme=scheme,
        tags=tags,
        html="",
        share_targets=tuple(t for t in targets if t.channel not in (links.COPY, links.NATIVE)),
        share_link=next(t.url for t in targets if t.channel == links.COPY),
    )
    state = "form" if page.is_open else "message"
    notice = None if page.is_open else wording.closed_message(page.total)
    return replace(found, html=_render(found, state=state, notice=notice, hidden=_HIDDEN))


async def _campaign(slug: str, base: str) -> LightCampaign | None:
    key = (slug, base)
    hit = _cache.peek(key)
    if hit is not None:
        return hit
    return await anyio.to_thread.run_sync(lambda: _cache.get(key, lambda: read_light(slug, base)))


def _render(found: LightCampaign | None, **context: Any) -> str:
    page = found.page if found else None
    values = {"full_name": "", "email": "", "region_code": "", "postal_code": "", "comment": ""}
    values.update(context.pop("values", {}))
    total = max(page.total, context.pop("own_total", 0)) if page else 0  # the signer sees themselves counted
    return _template.render(
        title=page.title if page else get_settings().org_name,
        tags=found.tags if found else None,
        primary=theme.primary_hex(),
        org_name=get_settings().org_name,
        campaign=page,
        total=total,
        percent=round(100 * listing.goal_share(total, page.goal)) if page else 0,
        deadline=listing.deadline_text(page.deadline, page.is_open) if page else "",
        action=f"/s/{page.slug}" if page else "",
        full_page_url=f"/?campaign={page.slug}" if page else "/",
        regions=[(r.code, r.name) for r in found.scheme.regions] if found and context["state"] == "form" else [],
        region_label=found.scheme.info.region_label if found else "",
        postal_label=found.scheme.info.postal_code_label if found else None,
        consent_text=page.consent_text if page else "",
        wording=wording,
        values=values,
        errors=context.pop("errors", {}),
        other_errors=context.pop("other_errors", []),
        **context,
    )


def _page(
    status: int, body: str, *, cache: str = "no-store", cookie: str | None = None, https: bool = False
) -> Response:
    response = HTMLResponse(body, status_code=status, headers={"Cache-Control": cache})
    if cookie is not None:
        response.set_cookie(COOKIE, cookie, httponly=True, samesite="lax", secure=https, path="/s/")
    return response


def _message(found: LightCampaign | None, status: int, message: str, *, back: str | None = None) -> Response:
    body = _render(found, state="message", notice=message, back_url=back, back_label="Back to the form")
    return _page(status, body)


def _not_found(status: int = 404, message: str = NO_CAMPAIGN) -> Response:
    return _page(status, _render(None, state="message", notice=message), cache="no-store")


def _base(request: Request) -> str:
    settings = get_settings()
    return _base_for(request.headers.get("host"), request.url.scheme, settings.public_url, settings.allowed_hosts)


@lru_cache(maxsize=64)
def _base_for(host: str | None, scheme: str, public_url: str, allowed_hosts: str) -> str:
    """``links.base_for_request``, kept per Host and settings (every visitor of a spike names the same host)."""
    return links.base_for_request(host=host, scheme=scheme)


@lru_cache(maxsize=4)
def _form_key(configured: str) -> bytes:
    """The app's secret (``RALLY_SECRET_KEY``, or the kept file's), read once per configured value, not per form."""
    return secret_key()


def _key() -> bytes:
    return _form_key(get_settings().secret_key)


def _token_for(cookie: str) -> str:
    return keyed_mac(cookie, key=_key(), purpose=_PURPOSE)


def _hidden(token: str, source: Mapping[str, str]) -> str:
    """This visitor's hidden fields, escaped: the form token, and where their link came from."""
    fields = [(FIELD, token), *((name, value[:300]) for name, value in source.items() if value)]
    return "".join(
        f'<input type="hidden" name="{html.escape(name, quote=True)}" value="{html.escape(value, quote=True)}">'
        for name, value in fields
    )


async def show(request: Request) -> Response:
    """``GET /s/<slug>``: the campaign and its form (404 for drafts, archived and unknown campaigns)."""
    slug = request.path_params["slug"]
    if not listing.is_possible_slug(slug):
        return _not_found()
    try:
        found = await _campaign(slug, _base(request))
    except RallyError as exc:
        return errors.html_error(exc, lambda status, message: _not_found(status, message))
    if found is None:
        return _not_found()
    held = request.cookies.get(COOKIE, "")
    cookie = held if _COOKIE_VALUE.fullmatch(held) else secrets.token_urlsafe(24)
    params = request.query_params
    source = {name: params.get(name) or "" for name in SOURCE_FIELDS}
    if not source["ref"]:
        source["ref"] = request.headers.get("referer", "")
    body = found.html.replace(_HIDDEN, _hidden(_token_for(cookie), source), 1)
    return _page(
        200,
        body,
        cache="private, no-cache",
        cookie=cookie if cookie != held else None,
        # Secure over https, also behind a proxy that ends TLS (the configured public address says so)
        https=request.url.scheme == "https" or get_settings().public_url.startswith("https://"),
    )


async def _bounded_form(request: Request) -> dict[str, str] | None:
    """The form's fields, or None when the body is over ``MAX_BODY`` or has more than ``MAX_FIELDS`` fields.

    A browser sends this form urlencoded: that is parsed by the standard library (``parse_qsl``, a tenth of
    Starlette's multipart parser's time, which a spike notices); anything else by Starlette."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY:
            return None

    if request.headers.get("content-type", "").partition(";")[0].strip().lower() == URLENCODED:
        try:
            pairs = parse_qsl(
                body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="replace"
            )
        except ValueError:  # more fields than any form of this page has
            return None
        form: dict[str, str] = {}
        for key, value in pairs:
            form.setdefault(key, value)
        return form

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": bytes(body), "more_body": False}

    parsed = await Request(request.scope, replay).form(max_files=0, max_fields=MAX_FIELDS)
    return {key: value for key, value in parsed.items() if isinstance(value, str)}


def _allowed_origin(request: Request) -> bool:
    """No ``Origin`` (an old browser): the token alone decides; one that names a host not allowed: refused."""
    origin = request.headers.get("origin")
    return origin is None or hosts.request_origin(get_settings(), url=origin) is not None


async def sign_on(request: Request) -> Response:
    """``POST /s/<slug>``: sign through the service; the thank-you, or the form again with its messages."""
    slug = request.path_params["slug"]
    if not listing.is_possible_slug(slug):
        return _not_found()
    base = _base(request)
    try:
        found = await _campaign(slug, base)
    except RallyError as exc:
        return errors.html_error(exc, lambda status, message: _not_found(status, message))
    if found is None:
        return _not_found()
    form = await _bounded_form(request)
    if form is None:
        return _message(found, 413, TOO_BIG, back=f"/s/{slug}")
    cookie = request.cookies.get(COOKIE, "")
    if not (_allowed_origin(request) and _COOKIE_VALUE.fullmatch(cookie)) or not mac_matches(
        cookie, form.get(FIELD, ""), key=_key(), purpose=_PURPOSE
    ):
        return _message(found, 403, REFUSED, back=f"/s/{slug}")
    signer = SignerInput(
        full_name=form.get("full_name", ""),
        email=form.get("email", ""),
        region_code=form.get("region_code") or None,
        postal_code=form.get("postal_code") or None,
        comment=form.get("comment") or None,
        comment_credit=bool(form.get("comment_credit")),
        contact_consent=bool(form.get("contact_consent")),
        utm_source=form.get("utm_source") or None,
        utm_medium=form.get("utm_medium") or None,
        utm_campaign=form.get("utm_campaign") or None,
        referrer=form.get("ref") or None,
    )
    forwarded = ", ".join(request.headers.getlist("x-forwarded-for")) or None
    address = client_address(request.client.host if request.client else None, forwarded)
    host = request.headers.get("host")
    item = sign_lane.SignOn(slug, signer, address, found.scheme, host, request.url.scheme)
    try:
        done = await sign_lane.lane.sign(item)
    except InvalidInput as exc:
        return _invalid(found, form, exc)
    except CampaignClosed as exc:
        return _message(found, 409, exc.user_message)
    except RallyError as exc:
        return errors.html_error(exc, lambda status, message: _message(found, status, message, back=f"/s/{slug}"))
    with links.answering(host=host, scheme=request.url.scheme):  # the receipt link, on the address used
        return _page(200, _thank_you(found, done, base))


FIELDS = ("full_name", "email", "region", "postal_code", "comment")


def _invalid(found: LightCampaign, form: Mapping[str, str], exc: InvalidInput) -> Response:
    """The form again (422): what was typed kept, each message under its field."""
    shown = {name: message for name, message in exc.errors.items() if name in FIELDS}
    if "postal_code" in shown and not found.scheme.info.postal_code_label:
        shown["region"] = shown.pop("postal_code")
    other = [(name, message) for name, message in exc.errors.items() if name not in FIELDS]
    values: dict[str, Any] = {
        name: form.get(name, "") for name in ("full_name", "email", "region_code", "postal_code", "comment")
    }
    values["comment_credit"] = bool(form.get("comment_credit"))
    values["contact_consent"] = bool(form.get("contact_consent"))
    source = {name: form.get(name, "") for name in SOURCE_FIELDS}
    body = _render(
        found,
        state="form",
        values=values,
        errors=shown,
        other_errors=other,
        hidden=_hidden(form.get(FIELD, ""), source),
    )
    return _page(422, body)


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LINK = re.compile(r"\[([^\]]+)\]\((/[^)\s]*)\)")


def escape_text(text: str) -> str:
    """A person's text, for a wording sentence that becomes HTML: escaped, and no ``*`` left to mean bold nor
    ``[`` to start a link (a name such as ``[Click](//elsewhere.example)`` stays text)."""
    return html.escape(text, quote=True).replace("*", "&#42;").replace("[", "&#91;").replace("]", "&#93;")


def markup(sentence: str) -> str:
    """A ``signatures/wording.py`` sentence (its own text, with dynamic parts through ``escape_text``) as HTML; the
    template shows it as it is (``|safe``): everything a person typed in it was escaped by ``escape_text``."""
    return _LINK.sub(r'<a href="\2">\1</a>', _BOLD.sub(r"<strong>\1</strong>", sentence))


def _thank_you(found: LightCampaign, done: SignResult, base: str) -> str:
    page = found.page
    said = wording.thank_you(done, escape=escape_text, confirm_link_days=get_settings().confirm_link_days)
    return _render(
        found,
        state="thanks",
        own_total=done.total,
        thanks={"headline": markup(said.headline), "paragraphs": [markup(p) for p in said.paragraphs]},
        outbox_note=wording.OUTBOX_NOTE if said.check_inbox and mail_mode() == "outbox" else None,
        next_step=markup(wording.NEXT_STEP),
        share_targets=found.share_targets,
        share_link=found.share_link,
        receipt_url=receipt_url(done.receipt_token) if done.receipt_token else None,
        receipt_intro=markup(wording.RECEIPT_INTRO),
        receipt_warning=wording.RECEIPT_WARNING,
        # the letter step lives on the full page (signing there again with the same details shows it): offered
        # only when the campaign has a letter, and once the signature counts
        full_app_url=links.page_url("/", base=base, campaign=page.slug)
        if page.has_letter and not said.check_inbox
        else None,
        full_app_label=WRITE_LETTER,
        changed_mind=markup(wording.CHANGED_MIND),
        again_url=f"/s/{page.slug}",
    )


ROUTES = [Route(PATH, show, methods=["GET"]), Route(PATH, sign_on, methods=["POST"])]
