"""Rally's HTTP routes, against the app started with `make run`."""

from __future__ import annotations

import time

import httpx
import pytest

from campaigns.core.db import run_write
from campaigns.signatures.signing import sign
from campaigns.web.middleware import CONTENT_SECURITY_POLICY
from tests.support.factories import make_campaign, signer
from tests.support.servers import running_app
from tests.support.storage import (
    NO_PG_REASON,
    TEST_DATABASE_URL,
    drop_pg_database,
    fresh_pg_database,
    worker_database_name,
)

pytestmark = pytest.mark.xdist_group("live")


def test_health_is_ok_when_the_database_answers(live_server):
    response = httpx.get(f"{live_server.url}/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"


def test_campaigns_api_lists_public_campaigns_with_totals(live_server):
    engine = live_server.engine()
    open_one = make_campaign(engine, slug="api-open", goal=50)
    make_campaign(engine, slug="api-closed", status="closed")
    make_campaign(engine, slug="api-draft", status="draft")
    for _ in range(3):
        run_write(engine, lambda s: sign(session=s, campaign_slug=open_one.slug, signer=signer()))
    response = httpx.get(f"{live_server.url}/api/campaigns")
    assert response.status_code == 200
    assert "max-age=" in response.headers["cache-control"]
    body = {c["slug"]: c for c in response.json()}
    assert "api-draft" not in body
    assert body["api-open"] == {
        "slug": "api-open",
        "title": "Fund the libraries",
        "total": 3,
        "goal": 50,
        "status": "published",
    }
    assert body["api-closed"]["status"] == "closed"
    engine.dispose()


@pytest.mark.parametrize("path", ["/", "/api/health", "/api/campaigns"])
def test_every_response_carries_security_headers(live_server, path):
    headers = httpx.get(f"{live_server.url}{path}").headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "frame-ancestors 'self'" in headers["content-security-policy"]


def test_outside_referrer_is_remembered_in_a_short_httponly_cookie(live_server):
    response = httpx.get(
        f"{live_server.url}/?campaign=x", headers={"Referer": "https://news.example/story?token=secret"}
    )
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("rally_ref=https://news.example/story;")
    assert "secret" not in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    same_site = httpx.get(f"{live_server.url}/", headers={"Referer": f"{live_server.url}/other"})
    assert "set-cookie" not in same_site.headers


@pytest.mark.parametrize("slug", ["api-open%00", "%00", "a%00b", "API-Open", "a%20b", "%F0%9F%8C%8D", "x" * 200])
def test_campaign_api_answers_not_found_for_text_that_cannot_be_a_slug(live_server, slug):
    before = len(live_server.log_path.read_text())
    response = httpx.get(f"{live_server.url}/api/campaigns/{slug}")
    if "%00" in slug:  # Streamlit's path guard refuses a NUL in any path before routing
        assert response.status_code in (400, 404)
    else:
        assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert "Traceback" not in live_server.log_path.read_text()[before:]


def test_health_route_accepts_only_get(live_server):
    assert httpx.post(f"{live_server.url}/api/health").status_code == 405


@pytest.mark.postgres
def test_health_turns_503_when_the_database_goes_away(tmp_path):
    if not TEST_DATABASE_URL:
        pytest.skip(NO_PG_REASON)
    name = worker_database_name("rally_gone")
    with running_app(fresh_pg_database(name), tmp_path) as server:
        assert httpx.get(f"{server.url}/api/health").status_code == 200
        drop_pg_database(name)  # the server goes away under a running app
        response = httpx.get(f"{server.url}/api/health")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable"}
        assert "health check failed" in server.log_path.read_text()


def test_tcp_nodelay_reaches_accepted_connections_of_listening_sockets():
    import socket

    from campaigns.web.lifespan import enable_tcp_nodelay

    with socket.socket(socket.AF_INET) as listener:  # protocol 0, as Streamlit binds it
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        assert enable_tcp_nodelay() >= 1
        with socket.create_connection(listener.getsockname()) as client:
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert client.fileno() == -1


def test_campaign_api_gives_region_counts_that_add_up_to_the_signatures(live_server):
    from sqlalchemy import func, select

    from campaigns.core.db import read_session
    from campaigns.core.models import Signature

    engine = live_server.engine()
    campaign = make_campaign(engine, slug="api-detail", goal=40, title="Clean rivers")
    for region, n in (("US-CA", 3), ("US-TX", 2), ("US-VT", 1)):
        for _ in range(n):
            run_write(
                engine, lambda s, r=region: sign(session=s, campaign_slug=campaign.slug, signer=signer(region_code=r))
            )
    response = httpx.get(f"{live_server.url}/api/campaigns/api-detail")
    assert response.status_code == 200 and response.headers["cache-control"] == "public, max-age=5"
    body = response.json()
    with read_session(engine) as session:
        counted = session.execute(select(func.count()).where(Signature.campaign_id == campaign.id)).scalar_one()
    assert (body["slug"], body["title"], body["status"], body["goal"]) == (
        "api-detail",
        "Clean rivers",
        "published",
        40,
    )
    assert body["total"] == sum(r["count"] for r in body["regions"]) == counted == 6
    assert body["regions"][0] == {"code": "US-CA", "name": "California", "count": 3}
    assert body["updated"].endswith("+00:00")
    engine.dispose()


@pytest.mark.parametrize("slug", ["no-such-campaign", "api-hidden-draft"])
def test_campaign_api_is_a_json_404_for_unknown_and_draft_campaigns(live_server, slug):
    engine = live_server.engine()
    if slug == "api-hidden-draft":
        make_campaign(engine, slug=slug, status="draft")
    response = httpx.get(f"{live_server.url}/api/campaigns/{slug}")
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    engine.dispose()


def test_region_shapes_are_served_for_maps_and_cached_by_the_browser(live_server):
    response = httpx.get(f"{live_server.url}/api/shapes/us-states.json")
    assert response.status_code == 200 and response.json()["type"] == "Topology"
    assert "max-age=86400" in response.headers["cache-control"]
    assert httpx.get(f"{live_server.url}/api/shapes/subdivisions-de.json").status_code == 404  # no shapes shipped
    assert httpx.get(f"{live_server.url}/api/shapes/..%2Fsecret.json").status_code in (400, 404)  # never a file


# --- framing: other sites may frame the embed widget, and nothing else ------------------------------


def test_only_the_embed_widget_page_may_be_framed_by_other_sites(live_server):
    from campaigns.web import embed as widget

    make_campaign(live_server.engine(), slug="framed-anything")
    embed = httpx.get(f"{live_server.url}/embed?campaign=framed-anything&embed=true")
    assert embed.status_code == 200 and embed.headers["content-type"].startswith("text/html")
    assert embed.headers["content-security-policy"] == widget.CONTENT_SECURITY_POLICY
    assert widget.CONTENT_SECURITY_POLICY.endswith("; frame-ancestors *")
    assert "x-frame-options" not in embed.headers
    assert embed.headers["x-content-type-options"] == "nosniff"  # the other headers stay
    assert httpx.head(f"{live_server.url}/embed").headers["content-security-policy"].endswith("; frame-ancestors *")
    for path in (
        "/",
        "/?campaign=anything&embed=true",  # the campaign page (with its sign form), even in embed mode
        "/dashboard?campaign=anything&embed=true",
        "/embed/",  # a redirect to /embed (Streamlit's), itself no page
        "/Embed?campaign=anything",  # not the widget's exact path: Streamlit opens the default page there
        "/embedded",
        "/campaigns/embed",
        "/api/campaigns",
        "/api/health",
    ):
        response = httpx.get(f"{live_server.url}{path}")
        assert response.headers["content-security-policy"] == f"{CONTENT_SECURITY_POLICY}; frame-ancestors 'self'", path


# --- the campaign API's cache ---------------------------------------------------------------------


def test_campaign_api_cache_headers_match_its_server_cache_for_answers_and_404s(live_server):
    from campaigns.web.api import API_CACHE_SECONDS

    engine = live_server.engine()
    make_campaign(engine, slug="api-cached", goal=10)
    expected = f"public, max-age={API_CACHE_SECONDS}"
    first = httpx.get(f"{live_server.url}/api/campaigns/api-cached")
    assert first.headers["cache-control"] == expected and first.json()["total"] == 0
    assert httpx.get(f"{live_server.url}/api/campaigns/api-nothing-here").headers["cache-control"] == expected
    run_write(engine, lambda s: sign(session=s, campaign_slug="api-cached", signer=signer(region_code="US-NY")))
    # the server keeps its answer no longer than it tells browsers and proxies to: the new count arrives
    deadline = time.monotonic() + 3 * API_CACHE_SECONDS + 10
    while (body := httpx.get(f"{live_server.url}/api/campaigns/api-cached").json())["total"] != 1:
        assert time.monotonic() < deadline, body
        time.sleep(0.5)
    assert body["regions"] == [{"code": "US-NY", "name": "New York", "count": 1}]
    engine.dispose()


def test_campaign_api_for_a_closed_campaign_without_signatures(live_server):
    engine = live_server.engine()
    make_campaign(engine, slug="api-quiet", status="closed", goal=5, title="Quiet one")
    body = httpx.get(f"{live_server.url}/api/campaigns/api-quiet").json()
    assert set(body) == {"slug", "title", "status", "goal", "total", "updated", "light_share_link", "regions"}
    assert (body["status"], body["total"], body["regions"]) == ("closed", 0, [])
    engine.dispose()


# --- Streamlit's websocket: opened by Rally's own pages only -----------------------------------------


def _open_session(base_url: str, origin: str | None):
    """Streamlit's websocket, opened the way a browser page at ``origin`` would open it."""
    from websockets.sync.client import connect

    url = base_url.replace("http://", "ws://") + "/_stcore/stream"
    return connect(url, origin=origin, subprotocols=["streamlit"], open_timeout=10)


@pytest.mark.parametrize(
    "origin",
    ["http://localhost:9999", "http://127.0.0.1:1", "https://evil.example", "null", "http://localhost"],
)
def test_a_websocket_opened_by_another_sites_page_is_refused(live_server, origin):
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as refused:
        _open_session(live_server.url, origin)
    assert refused.value.response.status_code == 403


def test_a_websocket_from_rallys_own_pages_is_accepted(live_server):
    from urllib.parse import urlsplit

    localhost = f"http://localhost:{urlsplit(live_server.url).port}"
    for address in (
        live_server.url,  # the configured RALLY_PUBLIC_URL, and the address the browser used
        localhost,  # the same app opened at another address: its own Host
    ):
        with _open_session(address, address) as ws:
            assert ws.subprotocol == "streamlit"
            ws.ping().wait(10)
    with pytest.raises(Exception, match="HTTP 403"):  # but a page at localhost may not open it at 127.0.0.1
        _open_session(live_server.url, localhost)


def test_public_json_may_be_read_by_any_site_and_nothing_else_may(live_server):
    """A partner site's page can fetch a campaign's count: the public JSON routes (answers and 404s alike) allow
    any origin, without credentials; the health check, log-in, export download and pages allow none."""
    make_campaign(live_server.engine(), slug="api-partner", goal=10)
    partner = {"Origin": "https://partner.example"}
    public = ("/api/campaigns", "/api/campaigns/api-partner", "/api/campaigns/no-such", "/api/shapes/us-states.json")
    for path in public:
        response = httpx.get(f"{live_server.url}{path}", headers=partner)
        assert response.status_code in (200, 404), path
        assert response.headers.get("access-control-allow-origin") == "*", path
        assert "access-control-allow-credentials" not in response.headers, path
    assert httpx.get(f"{live_server.url}/api/campaigns/api-partner", headers=partner).json()["total"] == 0
    for path in ("/api/health", "/auth/login", "/export/download?t=x", "/"):
        response = httpx.get(f"{live_server.url}{path}", headers=partner)
        assert "access-control-allow-origin" not in response.headers, path
