"""The embed widget (``/embed?campaign=<slug>&embed=true``) as static HTML from the ASGI layer: no websocket, the
first paint rendered on the server, its one inline script allowed by hash, framed by any site."""

from __future__ import annotations

import base64
import hashlib
import re
import time

import httpx
import pytest

from campaigns.core.db import run_write
from campaigns.signatures.signing import sign
from campaigns.web import embed
from tests.support.factories import make_campaign, signer

pytestmark = pytest.mark.xdist_group("live")


def widget(live_server, slug: str, **params: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.get(f"{live_server.url}/embed", params={"campaign": slug, "embed": "true", **params})


def sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_widget_is_server_rendered_html_with_its_script_allowed_by_hash_only(live_server):
    engine = live_server.engine()
    make_campaign(engine, slug="embed-http", goal=40, title='Clean <script>alert("x")</script> rivers')
    for _ in range(3):
        run_write(engine, lambda s: sign(session=s, campaign_slug="embed-http", signer=signer()))
    response = widget(live_server, "embed-http")
    assert response.status_code == 200
    body = response.text
    assert "_stcore" not in body and "static/js" not in body  # not Streamlit's page: no websocket
    assert "Clean &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; rivers" in body  # the title is data
    assert '<strong id="count">3</strong> of\n<span id="goal">40</span> signatures' in body
    assert '<progress id="bar" max="40" value="3">' in body
    sign_link = re.search(r'<a class="sign" id="sign" href="([^"]+)" target="_blank" rel="noopener">', body)
    assert sign_link, "the sign link opens the campaign in a new tab"
    assert sign_link.group(1).replace("&amp;", "&").endswith("/?campaign=embed-http&utm_source=embed&utm_medium=widget")
    scripts = re.findall(r"<script>(.*?)</script>", body, re.S)
    styles = re.findall(r"<style>(.*?)</style>", body, re.S)
    assert len(scripts) == 1 and len(styles) == 1 and "<script src" not in body
    policy = response.headers["content-security-policy"]
    assert f"script-src {sha256(scripts[0])};" in policy and f"style-src {sha256(styles[0])};" in policy
    assert "'unsafe-inline'" not in policy and policy.endswith("frame-ancestors *")
    assert "connect-src 'self'" in policy
    assert len(response.content) < 8_000
    refresh = re.search(r'data-api="([^"]+)" data-refresh="(\d+)"', body)
    assert refresh and refresh.group(1) == "/api/campaigns/embed-http"
    assert 10 <= int(refresh.group(2)) <= 30
    assert httpx.get(f"{live_server.url}{refresh.group(1)}").json()["total"] == 3  # what the script reads


def test_widget_follows_new_signatures_after_its_cache(live_server):
    engine = live_server.engine()
    make_campaign(engine, slug="embed-follow", goal=10)
    assert '<strong id="count">0</strong>' in widget(live_server, "embed-follow").text
    run_write(engine, lambda s: sign(session=s, campaign_slug="embed-follow", signer=signer()))
    deadline = time.monotonic() + 30
    while '<strong id="count">1</strong>' not in widget(live_server, "embed-follow").text:
        assert time.monotonic() < deadline, "the count follows once the few seconds' cache expires"
        time.sleep(0.5)


def test_closed_campaign_widget_shows_the_count_and_no_sign_link(live_server):
    make_campaign(live_server.engine(), slug="embed-closed", status="closed", goal=5)
    body = widget(live_server, "embed-closed").text
    assert re.search(r'<a class="sign" id="sign" [^>]* hidden>', body)
    assert '<p id="closed">' in body and "no longer takes signatures" in body


@pytest.mark.parametrize("slug", ["embed-draft", "no-such-campaign", "rivers\x00", "x" * 500])
def test_widget_says_plainly_when_there_is_no_published_campaign(live_server, slug):
    make_campaign(live_server.engine(), slug="embed-draft", status="draft") if slug == "embed-draft" else None
    response = widget(live_server, slug)
    assert response.status_code == 404
    assert "There is no published campaign at" in response.text and "Check the link name" in response.text
    assert response.headers["content-security-policy"] == embed.CONTENT_SECURITY_POLICY
    assert "Traceback" not in live_server.log_path.read_text()


def test_widget_without_a_campaign_explains_the_address(live_server):
    response = httpx.get(f"{live_server.url}/embed")
    assert response.status_code == 400 and "/embed?campaign=&lt;link name&gt;&amp;embed=true" in response.text
