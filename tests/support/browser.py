"""A real browser: Debian's Chromium, driven by Playwright."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
E2E = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("live"),
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM) and not os.environ.get("RALLY_REQUIRE_BROWSER"),
        reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)",
    ),
]


@contextmanager
def browser_page(browser: object, request: pytest.FixtureRequest, tmp_path: Path, **context_options: object):
    """A fresh browser context and page; a full-page screenshot is saved if the test failed."""
    context = browser.new_context(**context_options)  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        yield page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            shot = tmp_path / f"{request.node.name}.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failure: {shot}")
        context.close()


def log_in(page: Any, base_url: str, email: str, password: str) -> None:
    """Log in through the app's form (``/auth/login``) and wait for the home page it leads to."""
    page.goto(f"{base_url}/auth/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/")


def pick_option(page: Any, label: str, *, box: Any = None) -> None:
    """Choose ``label`` in a Streamlit selectbox (the page's first, or ``box``), typing it first: the list only
    draws the options in view, and a shared test server holds many campaigns."""
    box = box or page.get_by_test_id("stSelectbox").first
    field = box.locator("input")
    if label in (box.inner_text(), field.input_value(), field.get_attribute("placeholder") or ""):
        return  # already chosen (typing it again would search for the label twice over)
    field.click()
    field.fill(label)
    page.get_by_role("option", name=label).click()
