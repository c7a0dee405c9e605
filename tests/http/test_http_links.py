"""The public address of a running app started without RALLY_PUBLIC_URL (`make run PORT=...`): pages build their
links on the Host a request names when it is allowed (RALLY_ALLOWED_HOSTS), and on the default address
(http://localhost:<the port it serves on>) for any other; the share buttons' script is served from the site;
`make demo PORT=...` prints links on that port."""

from __future__ import annotations

import io
import os
import re
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy.engine import make_url

from campaigns.sharing import buttons
from tests.support.factories import make_campaign
from tests.support.html_head import parsed
from tests.support.servers import REPO, UVICORN, LiveServer, running_app
from tests.support.storage import (
    NO_PG_REASON,
    TEST_DATABASE_URL,
    drop_pg_database,
    fresh_pg_database,
    worker_database_name,
)
from tests.support.streamlit_ws import PageRun, run_page

pytestmark = pytest.mark.xdist_group("live")
ALLOWED = "localhost, 127.0.0.1, rally.test"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def unconfigured(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`make run` with no RALLY_PUBLIC_URL, as on a fresh clone (plus one more allowed host, rally.test)."""
    folder = tmp_path_factory.mktemp("links")
    if request.param == "sqlite":
        database_url = f"sqlite:///{folder / 'rally.db'}"
    else:
        if not TEST_DATABASE_URL:
            pytest.skip(NO_PG_REASON)
        database_url = fresh_pg_database(worker_database_name("rally_links"))
    with running_app(database_url, folder, {"RALLY_PUBLIC_URL": "", "RALLY_ALLOWED_HOSTS": ALLOWED}) as server:
        make_campaign(server.engine(), slug="rivers", title="Save the rivers")
        yield server
    if request.param == "postgres":
        drop_pg_database(make_url(database_url).database or "")


def port_of(server: LiveServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def campaign_page(server: LiveServer, host: str, url: str | None = None) -> PageRun:
    run = run_page(port_of(server), host=host, query="campaign=rivers", url=url)
    assert not run.exceptions, run.exceptions
    return run


SHARE_LINK = re.compile(r"\[([^\]]+)\]\(<([^>]+)>\)")  # ui/share.channel_links: one markdown element of links


def share_links(run: PageRun) -> list[tuple[str, str]]:
    """(label, URL) of the channel links the page drew."""
    return [found for body in run.markdown for found in SHARE_LINK.findall(body)]


def links_in(run: PageRun) -> list[str]:
    """The share links (intent URLs) and the share box (the link to copy, the one for the share sheet)."""
    return [url for _label, url in share_links(run)] + [body for body in run.html if "data-rally-share" in body]


@pytest.mark.parametrize("host", ["localhost:{port}", "127.0.0.1:{port}", "rally.test:{port}", "RALLY.test"])
def test_links_are_built_on_the_allowed_host_the_request_names(unconfigured, host):
    named = host.format(port=port_of(unconfigured))
    run = campaign_page(unconfigured, named)
    base = f"http://{named.lower()}"
    assert [label for label, _url in share_links(run)] == ["Email", "WhatsApp", "Telegram", "X", "Bluesky"]
    for url in links_in(run):
        assert "campaign%3Drivers" in url or "campaign=rivers" in url
        assert base.replace(":", "%3A").replace("/", "%2F") in url or f"{base}/?campaign=rivers" in url, url
    assert f'value="{base}/?campaign=rivers&amp;utm_source=copy&amp;utm_medium=page"' in run.html[-1]


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("evil.example", None),  # a forged Host header
        ("evil.example:{port}", "http://evil.example:{port}/"),  # and a browser URL to match
        ("localhost.evil.example", None),
        ("rally.test.evil.example", "https://rally.test.evil.example/"),
    ],
)
def test_a_request_naming_an_unlisted_host_gets_links_on_the_default_address(unconfigured, host, url):
    port = port_of(unconfigured)
    run = campaign_page(unconfigured, host.format(port=port), url and url.format(port=port))
    assert share_links(run) and run.html
    for link in links_in(run):
        assert "evil" not in link, link
    assert f'value="http://localhost:{port}/?campaign=rivers&amp;utm_source=copy&amp;utm_medium=page"' in run.html[-1]


def test_the_browsers_own_address_wins_when_it_is_allowed(unconfigured):
    """Behind a proxy that rewrites Host, the browser's URL (scheme included) is the address people use."""
    run = campaign_page(unconfigured, f"127.0.0.1:{port_of(unconfigured)}", url="https://rally.test/?campaign=rivers")
    assert 'value="https://rally.test/?campaign=rivers&amp;utm_source=copy' in run.html[-1]


def test_the_campaign_list_links_each_campaign_on_the_list_s_own_address(unconfigured):
    run = run_page(port_of(unconfigured), host="evil.example")
    assert ("Read and sign", "", "campaign=rivers") in run.page_links  # relative: the address the visitor used


def test_the_share_script_is_served_from_the_site_as_javascript(unconfigured):
    response = httpx.get(f"{unconfigured.url}{buttons.script_url()}")
    assert response.status_code == 200 and response.text == buttons.script_text()
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["x-content-type-options"] == "nosniff"  # so a browser runs it only as what it is
    assert "max-age" in response.headers["cache-control"]
    assert httpx.head(f"{unconfigured.url}{buttons.SCRIPT_PATH}").status_code == 200


def test_make_demo_prints_links_on_the_port_it_is_given(unconfigured):
    """`make run PORT=8600` serves there; `make demo PORT=8600` prints the demo's links there."""
    env = {**os.environ, "DATABASE_URL": unconfigured.database_url, "RALLY_PUBLIC_URL": ""}
    env.pop("STREAMLIT_SERVER_PORT", None)
    done = subprocess.run(
        ["make", "--no-print-directory", "demo", f"PORT={port_of(unconfigured)}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"->  http://localhost:{port_of(unconfigured)}/?campaign=save-our-libraries" in done.stdout, done.stdout


def test_the_default_address_follows_the_port_of_any_asgi_server(tmp_path):
    """`uvicorn rally_app:app --port N` (no Makefile, no Streamlit option): the port comes from the listening
    socket itself (web/lifespan.py), so a request naming an unlisted host still gets links on port N."""
    env = {"RALLY_PUBLIC_URL": "", "STREAMLIT_SERVER_PORT": ""}
    with running_app(f"sqlite:///{tmp_path / 'rally.db'}", tmp_path, env, command=UVICORN) as server:
        make_campaign(server.engine(), slug="rivers", title="Save the rivers")
        port = port_of(server)
        run = campaign_page(server, "evil.example")
        assert f'value="http://localhost:{port}/?campaign=rivers&amp;utm_source=copy' in run.html[-1]


@pytest.mark.parametrize(
    ("named", "expected"), [("rally.test:{port}", "rally.test:{port}"), ("evil.example", "localhost:{port}")]
)
def test_routes_build_their_links_on_the_allowed_host_too(unconfigured, named, expected):
    """The share link's preview tags and the poster's printed link and QR code follow the request's host when it
    is allowed, and the default address for any other (a forged Host never reaches them)."""
    port = port_of(unconfigured)
    host, want = named.format(port=port), expected.format(port=port)
    page = httpx.get(f"{unconfigured.url}/?campaign=rivers", headers={"Host": host}, timeout=30)
    head = parsed(page.text)
    assert head.meta["og:url"].startswith(f"http://{want}/?campaign=rivers")
    assert head.meta["og:image"] == f"http://{want}/share/rivers/preview.png"
    poster = httpx.get(f"{unconfigured.url}/share/rivers/poster.pdf", headers={"Host": host}, timeout=60)
    assert poster.status_code == 200
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(poster.content)).pages)
    assert f"{want}/?campaign=rivers" in text.replace("\n", "")
    assert "evil.example" not in text
