"""The client address under `uvicorn rally_app:app`: uvicorn's own X-Forwarded-For rewriting is off, and
RALLY_TRUSTED_PROXIES alone decides whose header is believed. Requests come from two loopback addresses
(127.0.0.1, the default that uvicorn trusts, and 127.0.0.2, the one Rally is told to trust)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from campaigns.core.db import read_session
from campaigns.core.models import LoginAttempt
from tests.support.servers import UVICORN, running_app

pytestmark = pytest.mark.xdist_group("live")


@pytest.fixture(scope="module")
def uvicorn_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uvicorn")
    env = {"RALLY_TRUSTED_PROXIES": "127.0.0.2/32"}
    with running_app(f"sqlite:///{folder / 'rally.db'}", folder, extra_env=env, command=UVICORN) as server:
        engine = server.engine()
        yield server, engine
        engine.dispose()


def counted_address(server, engine, *, source: str, forwarded: str) -> str:
    client = httpx.Client(transport=httpx.HTTPTransport(local_address=source))
    with client:
        response = client.post(
            f"{server.url}/auth/login",
            data={"email": "nobody@example.org", "password": "wrong password here", "next": "/"},
            headers={"Origin": server.url, "X-Forwarded-For": forwarded},
            follow_redirects=False,
        )
    assert response.status_code == 401  # refused, the form shown again
    with read_session(engine) as session:
        return session.execute(select(LoginAttempt.client_address).order_by(LoginAttempt.id.desc())).scalar()


def test_uvicorn_does_not_rewrite_the_peer_from_forwarded_for(uvicorn_server):
    server, engine = uvicorn_server
    assert counted_address(server, engine, source="127.0.0.1", forwarded="198.51.100.1") == "127.0.0.1"


def test_a_trusted_proxys_forwarded_for_names_the_client(uvicorn_server):
    server, engine = uvicorn_server
    forwarded = "6.6.6.6, 198.51.100.7, 127.0.0.2"  # a claim, the client, the proxy itself
    assert counted_address(server, engine, source="127.0.0.2", forwarded=forwarded) == "198.51.100.7"
