"""A real browser on the app process that dies: it reconnects through HAProxy to the other and says so.

Streamlit's frontend reconnects by itself and asks to resume its session, which the other process never had:
the page (streamlit_app.py, ``access.resumed_elsewhere``) then says what happened. The typed form survives
(the frontend keeps what was typed and sends it again), so pressing the button signs, once.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from campaigns.ops.cluster import Cluster
from campaigns.ui.access import RECONNECTED
from tests.cluster.conftest import CLUSTER
from tests.cluster.test_cluster_crash import stored_emails
from tests.e2e.conftest import browser  # noqa: F401  (the fixture: one Chromium for this module)
from tests.support.browser import E2E, browser_page
from tests.support.factories import make_campaign

pytestmark = [*CLUSTER, *E2E]
SLUG = "cluster-browser"


def test_a_visitor_on_the_dead_process_is_told_and_signs_through_the_other(
    two_apps: Cluster,
    cluster_engine,
    browser,  # noqa: F811
    request,
    tmp_path: Path,
) -> None:
    make_campaign(cluster_engine, slug=SLUG, goal=10, title="Keep the ferry")
    with browser_page(browser, request, tmp_path) as page:
        page.goto(f"{two_apps.url}/?campaign={SLUG}")
        page.get_by_role("heading", name="Keep the ferry").wait_for()
        notice = page.get_by_text(RECONNECTED)
        expect(notice).to_have_count(0)  # a new visitor is told nothing
        node = {c["name"]: c["value"] for c in page.context.cookies()}["RALLY_NODE"]
        page.get_by_role("textbox", name="Your name").fill("Grace Hopper")
        page.get_by_role("textbox", name="Email", exact=True).fill("grace@example.org")
        page.get_by_role("textbox", name="ZIP code (optional)").fill("10001")

        next(app for app in two_apps.apps if app.name == node).kill()
        notice.wait_for(timeout=60_000)
        assert {c["name"]: c["value"] for c in page.context.cookies()}["RALLY_NODE"] != node
        expect(page.get_by_role("textbox", name="Your name")).to_have_value("Grace Hopper")
        page.get_by_role("button", name="Sign the campaign").click()
        page.get_by_text("Thank you, Grace Hopper").wait_for(timeout=60_000)
    assert stored_emails(cluster_engine, SLUG) == ["grace@example.org"]
