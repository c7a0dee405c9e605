"""The Content-Security-Policy in a real browser: every page works under it, and nothing is fetched from elsewhere.

Chromium reports each blocked load or script as a console error ("Refused to ... because it violates the
following Content Security Policy directive") and as a ``securitypolicyviolation`` event; both are collected.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from campaigns.core.db import run_write
from campaigns.core.models import Campaign
from campaigns.signatures.signing import sign
from tests.support.browser import E2E, browser_page, log_in
from tests.support.factories import PASSWORD, make_campaign, make_user, signer

pytestmark = E2E
COLLECT_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


class Watched:
    """A page with everything it reports collected: CSP violations, console errors, requests."""

    def __init__(self, page) -> None:  # type: ignore[no-untyped-def]
        self.page = page
        self.console_errors: list[str] = []
        self.requests: list[str] = []
        self.failed: dict[str, str] = {}
        page.add_init_script(COLLECT_VIOLATIONS)
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.context.on("request", lambda r: self.requests.append(r.url))
        page.context.on("requestfailed", lambda r: self.failed.setdefault(r.url, r.failure or ""))
        page.on("websocket", lambda ws: self.requests.append(ws.url))

    def violations(self) -> list[str]:
        reported = self.page.evaluate("window.__csp || []")
        return reported + [e for e in self.console_errors if "Content Security Policy" in e]


@pytest.fixture
def watched(browser, request, tmp_path: Path) -> Iterator[Watched]:
    with browser_page(browser, request, tmp_path, viewport={"width": 1280, "height": 900}) as page:
        yield Watched(page)


@pytest.fixture
def other_site() -> Iterator[tuple[str, list[str]]]:
    """A real third-party web server on another port, recording every request it gets."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/gif")
            self.end_headers()
            self.wfile.write(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def test_public_pages_and_the_dashboard_map_work_with_no_policy_violation(live_server, watched):
    engine = live_server.engine()
    make_campaign(engine, slug="csp-open", goal=50, title="Shade trees for every school")
    for region in ("US-CA", "US-CA", "US-NY"):
        run_write(engine, lambda s, r=region: sign(session=s, campaign_slug="csp-open", signer=signer(region_code=r)))
    engine.dispose()
    page = watched.page

    page.goto(f"{live_server.url}/")
    page.get_by_role("heading", name="Shade trees for every school").wait_for()

    page.goto(f"{live_server.url}/?campaign=csp-open")
    page.get_by_role("button", name="Sign the campaign").wait_for()
    page.get_by_role("textbox", name="Your name").fill("Wangari Maathai")
    page.get_by_role("textbox", name="Email", exact=True).fill("wangari@example.org")
    page.get_by_role("textbox", name="ZIP code (optional)").fill("10001")
    page.get_by_role("button", name="Sign the campaign").click()
    page.get_by_text("Thank you, Wangari Maathai").wait_for()

    page.goto(f"{live_server.url}/dashboard?campaign=csp-open")
    the_map = page.get_by_test_id("stVegaLiteChart").first
    the_map.locator("path[aria-roledescription='geoshape'][aria-label*='Region: California;']").wait_for()
    expect(page.get_by_test_id("stMetric").filter(has_text="Signatures").first).to_contain_text("4")

    page.goto(f"{live_server.url}/embed?campaign=csp-open&embed=true")
    page.get_by_role("link", name="Sign the campaign").wait_for()

    assert watched.violations() == []
    assert not [e for e in watched.console_errors if "Refused" in e], watched.console_errors
    own = urlsplit(live_server.url).netloc
    assert f"ws://{own}/_stcore/stream" in watched.requests  # the websocket is allowed ('self')


def test_staff_pages_work_with_no_policy_violation(live_server, watched):
    engine = live_server.engine()
    make_user(engine, email="csp-staff@example.org", roles=["admin", "organizer", "coordinator"])
    make_campaign(engine, slug="csp-staff", title="Quiet streets")
    engine.dispose()
    page = watched.page
    log_in(page, live_server.url, "csp-staff@example.org", PASSWORD)
    for path, heading in (
        ("overview", "Overview"),
        ("editor", "Campaign editor"),
        ("regions", "Region schemes"),
        ("export", "Export signers"),
        ("paper", "Paper signatures"),
        ("people", "People"),
        ("audit", "Audit log"),
        ("account", "Account"),
    ):
        page.goto(f"{live_server.url}/{path}")
        page.get_by_role("heading", name=heading).first.wait_for()
    page.goto(f"{live_server.url}/editor?edit=csp-staff")
    page.get_by_role("textbox", name="Title").wait_for()
    page.goto(f"{live_server.url}/auth/login")
    page.get_by_text("You are logged in as").wait_for()
    assert watched.violations() == []


def test_an_image_from_another_site_in_campaign_text_is_never_fetched(live_server, watched, other_site):
    """Saved before images from other sites were refused (or written to the database directly): the page
    still shows, and no visitor's browser contacts that site."""
    site, hits = other_site
    engine = live_server.engine()
    campaign = make_campaign(engine, slug="csp-pixel", title="Safe crossings")
    body = f"## Why\n\nEvery child deserves a safe walk.\n\n![tracking pixel]({site}/pixel.gif?who=reader)"
    run_write(engine, lambda s: s.execute(update(Campaign).where(Campaign.id == campaign.id).values(body=body)))
    engine.dispose()
    page = watched.page

    page.goto(f"{live_server.url}/?campaign=csp-pixel")
    page.get_by_text("Every child deserves a safe walk.").wait_for()
    image = page.locator("img[alt='tracking pixel']")
    expect(image).to_have_attribute("src", f"{site}/pixel.gif?who=reader")  # rendered, and refused by the browser
    page.wait_for_function("window.__csp.length > 0")
    assert hits == []  # the other site never heard from the browser
    tried = {u for u in watched.requests if u.startswith(site)}  # Chromium announces, then blocks, the load
    assert {u: watched.failed.get(u) for u in tried} == {u: "csp" for u in tried}
    assert watched.violations()[0] == f"img-src {site}/pixel.gif?who=reader"
