"""The embed widget inside another site's iframe, and the public page's live count, in a real browser.

"Another site" is a tiny HTTP server on another port, opened as ``localhost`` while the app is
``127.0.0.1``: a different origin and a different site, as a newspaper framing the widget would be.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import expect

from campaigns.core.db import run_write
from campaigns.signatures.signing import sign
from tests.support.browser import E2E, browser_page
from tests.support.factories import make_campaign, signer

pytestmark = E2E
REFRESH_WAIT_MS = 60_000  # API cache (5 s) + the widget's refresh (15 s), with room for a busy machine


@contextmanager
def other_site(frames: dict[str, str]) -> Iterator[str]:
    """A page on another origin holding one 360x220 iframe per ``{id: src}``; yields its URL."""
    tags = "".join(
        f'<iframe id="{escape(name)}" src="{escape(src)}" width="360" height="220" title="{escape(name)}"></iframe>'
        for name, src in frames.items()
    )
    body = f"<!doctype html><html><body><h1>A news site</h1>{tags}</body></html>".encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def desktop(browser, request, tmp_path: Path):
    with browser_page(browser, request, tmp_path, viewport={"width": 1280, "height": 800}) as page:
        yield page


def test_widget_renders_in_another_sites_iframe_follows_new_signatures_and_opens_the_campaign(
    live_server, desktop, tmp_path
):
    engine = live_server.engine()
    make_campaign(engine, slug="embed-rivers", goal=40, title="Protect the river")
    for _ in range(2):
        run_write(engine, lambda s: sign(session=s, campaign_slug="embed-rivers", signer=signer()))
    widget_url = f"{live_server.url}/embed?campaign=embed-rivers&embed=true"
    sockets: list[str] = []
    refused: list[str] = []
    desktop.on("websocket", lambda ws: sockets.append(ws.url))
    desktop.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    with other_site({"widget": widget_url}) as site:
        page = desktop
        page.goto(site)
        frame = page.frame_locator("#widget")
        frame.get_by_role("heading", name="Protect the river").wait_for()
        expect(frame.locator("label[for=bar]")).to_have_text("2 of 40 signatures")
        expect(frame.locator("progress")).to_have_attribute("value", "2")
        link = frame.get_by_role("link", name="Sign the campaign")
        campaign_url = f"{live_server.url}/?campaign=embed-rivers"
        assert link.get_attribute("href") == f"{campaign_url}&utm_source=embed&utm_medium=widget"
        assert link.get_attribute("target") == "_blank"
        assert {"noopener", "noreferrer"} & set((link.get_attribute("rel") or "").split())  # noreferrer implies it
        # it works without cookies: Chromium neither stores nor sends the app's SameSite=Lax cookies in this frame
        assert page.context.cookies(live_server.url) == []
        box = page.locator("#widget").bounding_box()
        page.screenshot(path=str(tmp_path / "widget-in-iframe.png"), clip=box)

        for region in ("US-CA", "US-TX", "US-NY"):
            new = signer(region_code=region)
            run_write(engine, lambda s, new=new: sign(session=s, campaign_slug="embed-rivers", signer=new))
        # the inline script (allowed by its hash) fetched the JSON API and redrew the count, without a reload
        expect(frame.locator("label[for=bar]")).to_have_text("5 of 40 signatures", timeout=REFRESH_WAIT_MS)
        expect(frame.locator("progress")).to_have_attribute("value", "5")
        expect(frame.locator("#live")).to_contain_text("updated")
        assert page.url == site  # nobody reloaded anything
        assert sockets == [], "the widget holds no websocket session"
        assert refused == [], refused

        with page.expect_popup() as popup_info:
            link.click()
        campaign_page = popup_info.value
        campaign_page.get_by_role("heading", name="Protect the river").wait_for()
        expect(campaign_page.get_by_role("button", name="Sign the campaign")).to_be_visible()
        assert campaign_page.url.startswith(campaign_url)
        campaign_page.close()
    engine.dispose()


def test_campaign_and_dashboard_pages_refuse_to_render_in_another_sites_iframe(live_server, desktop):
    engine = live_server.engine()
    make_campaign(engine, slug="embed-guarded", goal=40, title="Guarded campaign")
    frames = {
        "campaign": f"{live_server.url}/?campaign=embed-guarded&embed=true",
        "dashboard": f"{live_server.url}/dashboard?campaign=embed-guarded&embed=true",
        "other-case": f"{live_server.url}/Embed?campaign=embed-guarded&embed=true",  # Streamlit opens the default page
        "widget": f"{live_server.url}/embed?campaign=embed-guarded&embed=true",
    }
    blocked: list[str] = []
    desktop.on("requestfailed", lambda r: blocked.append(r.url) if "BLOCKED_BY_RESPONSE" in (r.failure or "") else None)
    with other_site(frames) as site:
        desktop.goto(site)
        widget = desktop.frame_locator("#widget")
        widget.get_by_role("heading", name="Guarded campaign").wait_for()
        expect(widget.locator("label[for=bar]")).to_have_text("0 of 40 signatures")  # the one that may render
        for _ in range(100):
            if len(blocked) >= 3:
                break
            desktop.wait_for_timeout(100)
        for name in ("campaign", "dashboard", "other-case"):
            assert frames[name] in blocked, (name, blocked)
            assert desktop.frame_locator(f"#{name}").get_by_text("Guarded campaign").count() == 0
    assert frames["widget"] not in blocked
    engine.dispose()


def test_public_page_count_refreshes_while_a_supporter_types_and_the_form_still_signs(live_server, desktop):
    engine = live_server.engine()
    make_campaign(engine, slug="embed-live-page", goal=10, title="Light the park")
    page = desktop
    page.goto(f"{live_server.url}/?campaign=embed-live-page")
    page.get_by_role("heading", name="Light the park").wait_for()
    expect(page.get_by_test_id("stProgress")).to_contain_text("0 of 10 signatures")
    expect(page.get_by_text("Updated at")).to_be_visible()
    page.get_by_role("textbox", name="Your name").fill("Grace Hopper")
    page.get_by_role("textbox", name="Email", exact=True).fill("grace@example.org")

    for _ in range(3):
        run_write(engine, lambda s: sign(session=s, campaign_slug="embed-live-page", signer=signer()))
    expect(page.get_by_test_id("stProgress")).to_contain_text("3 of 10 signatures", timeout=REFRESH_WAIT_MS)
    # the refresh redrew the count only: what the supporter typed is still there
    expect(page.get_by_role("textbox", name="Your name")).to_have_value("Grace Hopper")
    expect(page.get_by_role("textbox", name="Email", exact=True)).to_have_value("grace@example.org")

    page.get_by_role("textbox", name="ZIP code (optional)").fill("10001")
    page.get_by_role("button", name="Sign the campaign").click()
    page.get_by_text("Thank you, Grace Hopper").wait_for()
    expect(page.get_by_test_id("stProgress")).to_contain_text("4 of 10 signatures")
    engine.dispose()
