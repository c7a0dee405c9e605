"""The embeddable widget (``GET /embed?campaign=<slug>&embed=true``): a static HTML page, no websocket.

Organizers paste ``<iframe src="<RALLY_PUBLIC_URL>/embed?campaign=<slug>&embed=true">`` into their site (README,
"Embedding a campaign"); this route answers that address before Streamlit's pages do. The first paint is
rendered here (Jinja2, autoescaped) from the JSON API's cached answer, so the widget works without JavaScript;
a tiny inline script then fetches ``/api/campaigns/<slug>`` every ``REFRESH_SECONDS`` and updates the count and
the progress bar. The page's own Content-Security-Policy allows that script and the style by their hashes only,
and lets any site frame it (``frame-ancestors *``). The sign link opens the campaign in a new tab, where the
page is never framed. A viewer costs one cached read per refresh, not a Streamlit session.
"""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import quote

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from campaigns.catalog import listing
from campaigns.core.errors import StorageError
from campaigns.core.settings import get_settings
from campaigns.sharing import links
from campaigns.web import api, errors

PATH = "/embed"
REFRESH_SECONDS = 15
CACHE_SECONDS = api.API_CACHE_SECONDS

# Fixed text (no campaign data): the hashes below are of exactly these strings.
SCRIPT = """
(function () {
  var root = document.getElementById("rally-embed");
  if (!root || !window.fetch) return;
  var count = document.getElementById("count"), bar = document.getElementById("bar");
  var goal = document.getElementById("goal"), live = document.getElementById("live");
  var sign = document.getElementById("sign"), closed = document.getElementById("closed");
  function show(data) {
    count.textContent = data.total.toLocaleString("en-US");
    goal.textContent = data.goal.toLocaleString("en-US");
    bar.max = Math.max(data.goal, 1); bar.value = Math.min(data.total, data.goal);
    if (data.status !== "published") { sign.hidden = true; closed.hidden = false; }
    live.textContent = "Live \\u00b7 updated " + new Date().toLocaleTimeString();
  }
  function refresh() {
    fetch(root.getAttribute("data-api"), {headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) show(data); })
      .catch(function () {});
  }
  setInterval(refresh, Number(root.getAttribute("data-refresh")) * 1000);
})();
"""
STYLE = """
body { margin: 0; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2937;
  background: #fff; }
main { padding: 0.75rem 1rem; }
h1 { font-size: 1.1rem; margin: 0 0 0.5rem; line-height: 1.3; display: -webkit-box; -webkit-line-clamp: 2;
  -webkit-box-orient: vertical; overflow: hidden; }
p { margin: 0.25rem 0; }
progress { width: 100%; height: 0.6rem; accent-color: #1D4ED8; }
a.sign { display: block; margin: 0.6rem 0 0.4rem; padding: 0.5rem; border-radius: 0.5rem; background: #1D4ED8;
  color: #fff; text-align: center; text-decoration: none; font-weight: 600; }
a.sign:focus-visible { outline: 3px solid #1D4ED8; outline-offset: 2px; }
.caption { font-size: 0.8rem; color: #4b5563; }
"""


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        f"script-src {_hash(SCRIPT)}",
        f"style-src {_hash(STYLE)}",
        "connect-src 'self'",  # the JSON API
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors *",  # the one page any site may frame
    )
)

_PAGE = Environment(autoescape=True).from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ campaign.title if campaign else title }}</title><style>{{ style | safe }}</style></head>
<body><main>{% if campaign %}
<div id="rally-embed" data-api="{{ api }}" data-refresh="{{ refresh }}">
<h1>{{ campaign.title }}</h1>
<label for="bar"><strong id="count">{{ "{:,}".format(campaign.total) }}</strong> of
<span id="goal">{{ "{:,}".format(campaign.goal) }}</span> signatures</label>
<progress id="bar" max="{{ [campaign.goal, 1] | max }}" value="{{ [campaign.total, campaign.goal] | min }}"></progress>
<a class="sign" id="sign" href="{{ sign_url }}" target="_blank" rel="noopener"{% if not open %} hidden{% endif %}>
Sign the campaign <span aria-hidden="true">↗</span></a>
<p id="closed"{% if open %} hidden{% endif %}><strong>Closed.</strong> This campaign no longer takes signatures.</p>
<p class="caption" id="live">Live count</p>
</div><script>{{ script | safe }}</script>
{% else %}<p>{{ message }}</p>{% endif %}</main></body></html>
"""
)


def _page(status: int, *, message: str = "", **context: object) -> HTMLResponse:
    body = _PAGE.render(
        title=get_settings().org_name, style=STYLE, script=SCRIPT, message=message, refresh=REFRESH_SECONDS, **context
    )
    cache = f"public, max-age={CACHE_SECONDS}" if status == 200 else "no-store"
    headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": cache}
    return HTMLResponse(body, status_code=status, headers=headers)


def _unavailable(status: int, message: str) -> Response:
    return _page(status, message=message)


async def widget(request: Request) -> Response:
    slug = request.query_params.get("campaign", "")
    if not slug:
        return _page(400, message="Add the campaign's link name to the address: /embed?campaign=<link name>&embed=true")
    if not listing.is_possible_slug(slug):
        return _page(404, message=f"There is no published campaign at that address. {_CHECK}")
    try:
        encoded = await api.campaign_json(slug)
    except StorageError as exc:
        return errors.html_error(exc, _unavailable)
    if encoded == b"":
        return _page(404, message=f"There is no published campaign at “{slug}”. {_CHECK}")
    campaign = json.loads(encoded)
    base = links.base_for_request(host=request.headers.get("host"), scheme=request.url.scheme)
    return _page(
        200,
        campaign=campaign,
        open=campaign["status"] == "published",
        api=f"/api/campaigns/{quote(slug, safe='')}",
        sign_url=links.share_url(
            slug, light=campaign["light_share_link"], base=base, utm_source="embed", utm_medium="widget"
        ),
    )


_CHECK = "Check the link name in the embed code; drafts appear here once they are published."

ROUTES = [Route(PATH, widget, methods=["GET", "HEAD"])]
