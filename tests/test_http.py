"""Rally's HTTP routes, against the app started with `make run`."""

from __future__ import annotations

import httpx
import pytest

from campaigns.db import run_write
from campaigns.signing import sign
from tests.conftest import (
    NO_PG_REASON,
    TEST_DATABASE_URL,
    drop_pg_database,
    fresh_pg_database,
    running_app,
    worker_database_name,
)
from tests.factories import make_campaign, signer

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

    from campaigns.web import enable_tcp_nodelay

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
