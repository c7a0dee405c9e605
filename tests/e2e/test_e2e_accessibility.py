"""Accessibility in a real browser at phone width (390 px): axe-core on every public page and the main staff pages,
a sign-on by keyboard alone, the map's text alternative, and text pasted over a length limit.

One app (`make run`) with mail to a real SMTP server serves the whole module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from campaigns.core.db import run_write
from campaigns.signatures.signing import sign
from tests.support.accessibility import violations
from tests.support.browser import E2E, browser_page, log_in
from tests.support.factories import PASSWORD, make_campaign, make_letter_campaign, make_user, signer
from tests.support.mail import CollectMail, smtp_environment, wait_for_mail
from tests.support.servers import LiveServer, free_port, running_app

pytestmark = E2E
PHONE = {"width": 390, "height": 844}
STAFF = "staff@example.org"
TEMPLATE = "Dear {{ target.title }} {{ target.name }},\n\nI back {{ campaign.title }}.\n\n{{ signer.full_name }}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, CollectMail]]:
    from aiosmtpd.controller import Controller

    folder = tmp_path_factory.mktemp("a11y")
    handler = CollectMail()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    env = smtp_environment(controller, "Rally <rally@rally.example.org>")
    try:
        with running_app(f"sqlite:///{folder / 'rally.db'}", folder, env) as server:
            engine = server.engine()
            make_letter_campaign(
                engine,
                slug="river",
                title="Save the river",
                template=TEMPLATE,
                target={"region_code": "US-NY", "name": "Lena Park", "email": "lena@ny.example.gov"},
            )
            make_campaign(engine, slug="confirm-river", title="Clean the river banks", require_confirmation=True)
            for region in ("US-NY", "US-NY", "US-CA", "US-TX"):
                who = signer(region_code=region)
                run_write(engine, lambda s, who=who: sign(session=s, campaign_slug="river", signer=who))
            make_user(engine, email=STAFF, roles=["admin", "organizer", "coordinator"])
            engine.dispose()
            yield server, handler
    finally:
        controller.stop()


@pytest.fixture
def phone(browser, request, tmp_path: Path):
    with browser_page(browser, request, tmp_path, viewport=PHONE) as page:
        yield page


def _fill_sign_form(page, name: str, email: str, zip_code: str) -> None:
    page.get_by_role("textbox", name="Your name").fill(name)
    page.get_by_role("textbox", name="Email", exact=True).fill(email)
    page.get_by_role("textbox", name="ZIP code (optional)").fill(zip_code)


def _mail_body(envelope) -> str:
    return BytesParser(policy=policy.default).parsebytes(envelope.content).get_content()


def test_every_public_page_has_no_serious_or_critical_axe_violation(site, phone, tmp_path):
    server, handler = site
    page, base = phone, server.url
    found: dict[str, list[str]] = {}

    def check(name: str) -> None:
        page.screenshot(path=str(tmp_path / f"axe-{name}.png"), full_page=True)
        found[name] = violations(page)

    page.goto(base)
    page.get_by_role("heading", name="Campaigns").wait_for()
    check("campaign list")

    page.goto(f"{base}/?campaign=river")
    page.get_by_role("textbox", name="Your name").wait_for()
    check("a campaign")

    page.get_by_role("button", name="Sign the campaign").click()  # nothing typed: every field says what to fix
    page.get_by_text("Please fix the highlighted fields").wait_for()
    check("sign form with errors")

    _fill_sign_form(page, "Wangari Maathai", "wangari@example.org", "10001")
    page.get_by_role("button", name="Sign the campaign").click()
    page.get_by_text("Thank you, Wangari Maathai").wait_for()
    page.get_by_role("textbox", name="Your letter").wait_for()
    check("thank-you and letter")
    receipt = page.locator("code", has_text="/my-data?receipt=").inner_text().strip()

    page.goto(receipt)
    page.get_by_text("One signature, opened with its receipt").wait_for()
    check("my data (opened)")

    page.goto(f"{base}/my-data")
    page.get_by_role("textbox", name="Your email").wait_for()
    check("my data (ask for a link)")

    page.goto(f"{base}/dashboard?campaign=river")
    page.locator("path[aria-roledescription='geoshape']").first.wait_for()
    check("dashboard")

    page.goto(f"{base}/embed?campaign=river&embed=true")
    page.get_by_role("link", name="Sign the campaign").wait_for()
    check("embed")

    page.goto(f"{base}/?campaign=confirm-river")
    _fill_sign_form(page, "Ken Saro-Wiwa", "ken@example.org", "10001")
    page.get_by_role("button", name="Sign the campaign").click()
    page.get_by_text("One last step: check your inbox").wait_for()
    check("thank-you, confirmation pending")
    mail = next(e for e in wait_for_mail(handler, 1) if e.rcpt_tos == ["ken@example.org"])
    page.goto(re.search(r"http://\S+/confirm\?token=[\w-]+", _mail_body(mail)).group(0))
    page.get_by_text("Your email is confirmed").wait_for()
    check("confirm")

    page.goto(f"{base}/confirm?token=not-a-real-token")
    page.get_by_role("heading").first.wait_for()
    check("confirm (a link that does not work)")

    assert {name: v for name, v in found.items() if v} == {}


@pytest.mark.parametrize(
    ("path", "ready"),
    [
        ("/auth/login", "Log in"),
        ("/overview", "Overview"),
        ("/editor", "Campaign editor"),
        ("/export", "Export signers"),
        ("/paper", "Paper signatures"),
        ("/review", "Review signatures"),
    ],
    ids=["log-in", "overview", "editor", "export", "paper", "review"],
)
def test_the_main_staff_pages_have_no_serious_or_critical_axe_violation(site, phone, tmp_path, path, ready):
    server, _ = site
    page = phone
    if path != "/auth/login":
        log_in(page, server.url, STAFF, PASSWORD)
    page.goto(f"{server.url}{path}")
    page.get_by_role("heading", name=ready).first.wait_for()
    page.screenshot(path=str(tmp_path / f"axe-{path.strip('/').replace('/', '-')}.png"), full_page=True)
    assert violations(page) == []
