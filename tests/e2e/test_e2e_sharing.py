"""Links and sharing in a real Chromium at 390 px, on an app started like a fresh clone's `make run` (no
RALLY_PUBLIC_URL): the campaign list's links are real ``<a href>`` to each share URL on the address the browser
used, they open in the same tab (with the address bar, and Back, right), and after signing every share link is
there with its own utm_source; *Copy link* copies, *Share…* opens the phone's share sheet (where there is one),
all under the Content-Security-Policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy.engine import make_url

from tests.support.browser import E2E, browser_page
from tests.support.factories import make_campaign
from tests.support.servers import LiveServer, running_app
from tests.support.storage import (
    NO_PG_REASON,
    TEST_DATABASE_URL,
    drop_pg_database,
    fresh_pg_database,
    worker_database_name,
)

pytestmark = E2E
PHONE = {"width": 390, "height": 844}
# a stand-in for the phone's share sheet (headless Chromium on Linux has none): it records what it was given
SHARE_SHEET = """
navigator.share = (data) => { window.__shared = data; return Promise.resolve(); };
navigator.canShare = () => true;
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_clone(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("sharing")
    if request.param == "sqlite":
        database_url = f"sqlite:///{folder / 'rally.db'}"
    else:
        if not TEST_DATABASE_URL:
            pytest.skip(NO_PG_REASON)
        database_url = fresh_pg_database(worker_database_name("rally_share"))
    with running_app(database_url, folder, {"RALLY_PUBLIC_URL": ""}) as server:
        yield server
    if request.param == "postgres":
        drop_pg_database(make_url(database_url).database or "")


def localhost(server: LiveServer) -> str:
    """The address a newcomer types (the server was started at 127.0.0.1; links must follow the browser)."""
    return f"http://localhost:{urlsplit(server.url).port}"


@pytest.fixture
def phone(browser, request, tmp_path: Path, fresh_clone):
    with browser_page(
        browser, request, tmp_path, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    ) as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=localhost(fresh_clone))
        page.add_init_script(SHARE_SHEET)
        yield page


def utm_of(url: str) -> dict[str, str]:
    """The query of the share link ``url`` is, or (an intent URL) carries in one of its parameters."""
    if not url.startswith("http://localhost"):
        [url] = [v for vs in parse_qs(urlsplit(url).query).values() for v in vs if "http://localhost" in v]
        url = url.split()[-1]  # the link ends the shared text ("Title http://...")
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def test_the_campaign_list_is_real_links_that_open_in_the_same_tab(fresh_clone, phone, tmp_path):
    make_campaign(fresh_clone.engine(), slug="share-list", title="Plant a million trees")
    base = localhost(fresh_clone)
    page = phone
    page.goto(f"{base}/")
    link = page.get_by_role("link", name="Read and sign")
    expect(link).to_have_count(1)
    title = page.get_by_role("heading", name="Plant a million trees", level=1)  # not the list's card, which a
    # rerun may leave on the page for a moment
    # a real <a href>: long-press, copy and "open in a new tab" all get the share URL on this address
    assert link.evaluate("a => a.href") == f"{base}/?campaign=share-list"
    assert link.get_attribute("target") in (None, "")  # the same tab
    page.screenshot(path=str(tmp_path / "list-390.png"), full_page=True)
    pages_before = len(page.context.pages)
    link.click()
    title.wait_for()
    page.wait_for_url(f"{base}/?campaign=share-list")  # the address bar says where we are
    assert len(page.context.pages) == pages_before
    back = page.get_by_role("link", name="All campaigns")
    assert back.evaluate("a => a.href") == f"{base}/?campaign="  # the list (a blank campaign is none)
    back.click()
    page.wait_for_url(f"{base}/")
    page.get_by_role("link", name="Read and sign").wait_for()
    page.go_back()  # the browser's Back returns to the campaign
    title.wait_for()
    assert page.evaluate("window.__csp") == []


def test_after_signing_every_share_link_is_there_with_its_own_utm_source(fresh_clone, phone, tmp_path):
    make_campaign(fresh_clone.engine(), slug="share-thanks", title='Trees & "rivers"')
    base = localhost(fresh_clone)
    page = phone
    page.goto(f"{base}/?campaign=share-thanks")
    page.get_by_role("textbox", name="Your name").fill("Wangari Maathai")
    page.get_by_role("textbox", name="Email", exact=True).fill("wangari@example.org")
    page.get_by_role("textbox", name="ZIP code (optional)").fill("10001")
    expect(page.locator(".st-key-share-page")).to_have_count(1)
    page.get_by_role("button", name="Sign the campaign").click()
    page.get_by_text("Thank you, Wangari Maathai").wait_for()
    # the campaign page's own share box leaves once the rerun settles (the thank-you carries one instead)
    expect(page.locator(".st-key-share-page")).to_have_count(0)

    expected = {"Email": "email", "WhatsApp": "whatsapp", "Telegram": "telegram", "X": "x", "Bluesky": "bluesky"}
    starts = {
        "Email": "mailto:?subject=Trees%20%26%20%22rivers%22&body=",
        "WhatsApp": "https://wa.me/?text=",
        "Telegram": "https://t.me/share/url?url=",
        "X": "https://x.com/intent/post?text=",
        "Bluesky": "https://bsky.app/intent/compose?text=",
    }
    for label, channel in expected.items():
        link = page.get_by_role("link", name=label, exact=True)
        href = link.get_attribute("href") or ""
        assert href.startswith(starts[label]), href
        assert utm_of(href) == {"campaign": "share-thanks", "utm_source": channel, "utm_medium": "supporter"}, href
        assert link.get_attribute("target") == "_blank"  # the other app or site opens beside Rally
    field = page.get_by_role("textbox", name="Link to this campaign")
    copy_url = f"{base}/?campaign=share-thanks&utm_source=copy&utm_medium=supporter"
    expect(field).to_have_value(copy_url)
    field.scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "thank-you-390.png"))

    page.get_by_role("button", name="Copy link").click()
    expect(page.locator(".rally-share [role=status]").first).to_contain_text("Link copied")  # read out, too
    assert page.evaluate("navigator.clipboard.readText()") == copy_url

    page.get_by_role("button", name="Share…").click()
    page.wait_for_function("window.__shared !== undefined")
    assert page.evaluate("window.__shared") == {
        "title": 'Trees & "rivers"',
        "text": 'Trees & "rivers"',
        "url": f"{base}/?campaign=share-thanks&utm_source=native&utm_medium=supporter",
    }
    assert page.evaluate("window.__csp") == []  # the buttons' script is the site's own


def test_without_a_share_sheet_only_the_copy_button_shows(fresh_clone, browser, request, tmp_path):
    make_campaign(fresh_clone.engine(), slug="share-desktop", title="Quiet streets")
    with browser_page(browser, request, tmp_path, viewport={"width": 1280, "height": 900}) as page:
        page.goto(f"{localhost(fresh_clone)}/?campaign=share-desktop")
        page.get_by_role("heading", name="Share this campaign").scroll_into_view_if_needed()
        expect(page.get_by_role("button", name="Copy link")).to_be_visible()
        if page.evaluate("typeof navigator.share") != "function":  # Chromium on Linux: no share sheet
            expect(page.get_by_role("button", name="Share…")).to_be_hidden()
        href = page.get_by_role("link", name="WhatsApp").get_attribute("href") or ""
        assert utm_of(href)["utm_medium"] == "page"  # shared from the campaign page, before signing
        page.screenshot(path=str(tmp_path / "campaign-1280.png"))
