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
from playwright.sync_api import expect

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
    receipt = page.get_by_role("textbox", name="Your receipt link").input_value()

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


# Where each kind of control shows keyboard focus (Rally's ring, widgets.apply_style): a text field's frame,
# the checkbox's label, or the control itself.
_FOCUS = """() => {
    const el = document.activeElement;
    const field = el.closest('[data-testid="stTextInputRootElement"], [data-testid="stTextAreaRootElement"]');
    const picker = el.tagName === 'INPUT' && el.closest('[data-testid="stSelectbox"]');
    const shown = field || (picker ? el.parentElement : null)
        || (el.type === 'checkbox' ? el.closest('label') : el);
    const style = getComputedStyle(shown);
    const name = el.getAttribute('aria-label') || (el.labels && el.labels[0] ? el.labels[0].innerText : '')
        || el.innerText || '';
    return {name: name.trim().split('\\n')[0], tag: el.tagName, type: el.type || '',
            outline: style.outlineStyle, width: parseFloat(style.outlineWidth), color: style.outlineColor};
}"""


def _focused(page) -> dict:
    page.wait_for_timeout(100)  # let the focus styles apply
    return page.evaluate(_FOCUS)


def _tab_to(page, name: str, limit: int = 25) -> dict:
    """Press Tab until the control named ``name`` has focus; each stop on the way must show its focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focus = _focused(page)
        if focus["tag"] not in ("BODY", "MAIN"):
            assert focus["outline"] != "none" and focus["width"] >= 2, repr(focus)  # a focus ring anyone can see
            assert focus["color"] == "rgb(29, 78, 216)", focus
        if focus["name"].startswith(name):
            return focus
    raise AssertionError(f"Tab never reached {name!r}")


def test_a_supporter_signs_with_the_keyboard_alone_and_hears_the_result(site, phone, tmp_path):
    server, _ = site
    page = phone
    page.goto(f"{server.url}/?campaign=river")
    page.get_by_role("textbox", name="Your name").wait_for()

    _tab_to(page, "Sign the campaign")  # with nothing typed: Enter submits, and the errors are announced
    page.keyboard.press("Enter")
    alerts = page.get_by_role("alert")
    expect(alerts.filter(has_text="Please enter your name.")).to_have_count(1)
    expect(alerts.filter(has_text="Please fix the highlighted fields")).to_have_count(1)

    page.goto(f"{server.url}/?campaign=river")
    page.get_by_role("textbox", name="Your name").wait_for()
    _tab_to(page, "Your name")
    page.keyboard.type("Wangari Keyboard")
    _tab_to(page, "Email")
    page.keyboard.type("keyboard@example.org")
    _tab_to(page, "State")
    page.keyboard.type("New York")
    page.keyboard.press("Enter")  # the first match is picked
    expect(page.get_by_role("combobox", name="State")).to_have_value("New York")
    _tab_to(page, "ZIP code (optional)")
    _tab_to(page, "Why are you signing? (optional)")
    page.keyboard.type("Typed without a mouse.")
    consent = _tab_to(page, "Yes, the organizers")
    assert consent["type"] == "checkbox"
    page.keyboard.press("Space")
    expect(page.get_by_role("checkbox", name="Yes, the organizers")).to_be_checked()
    page.screenshot(path=str(tmp_path / "keyboard-focus-on-consent.png"))
    _tab_to(page, "Sign the campaign")
    page.screenshot(path=str(tmp_path / "keyboard-focus-on-button.png"))
    page.keyboard.press("Enter")

    thanks = page.get_by_role("status").filter(has_text="Thank you, Wangari Keyboard")  # a polite live region
    expect(thanks).to_have_count(1)
    expect(page.get_by_text("Your signature counts for New York.")).to_be_visible()
    page.screenshot(path=str(tmp_path / "keyboard-thank-you.png"))


def test_text_pasted_over_a_limit_stays_and_is_refused_with_its_length(site, phone, tmp_path):
    server, _ = site
    page = phone
    page.goto(f"{server.url}/?campaign=river")
    name, comment = "N" * 201, "c" * 1001
    name_box = page.get_by_role("textbox", name="Your name")
    name_box.click()
    page.keyboard.insert_text(name)  # what a paste does: the whole text at once
    comment_box = page.get_by_role("textbox", name="Why are you signing? (optional)")
    comment_box.click()
    page.keyboard.insert_text(comment)
    expect(name_box).to_have_value(name)  # nothing silently dropped (Streamlit's max_chars drops the whole paste)
    expect(comment_box).to_have_value(comment)
    page.get_by_role("textbox", name="Email", exact=True).fill("limits@example.org")
    page.get_by_role("textbox", name="ZIP code (optional)").fill("10001")
    page.get_by_role("button", name="Sign the campaign").click()
    alerts = page.get_by_role("alert")
    expect(alerts.filter(has_text="Please shorten your name to at most 200 characters (it has 201).")).to_have_count(1)
    expect(
        alerts.filter(has_text="Please shorten your comment to at most 1,000 characters (it has 1,001).")
    ).to_have_count(1)
    expect(name_box).to_have_value(name)  # still there, to be shortened
    expect(comment_box).to_have_value(comment)
    page.screenshot(path=str(tmp_path / "over-the-limit.png"))
    name_box.fill("Wangari Maathai")
    comment_box.fill(comment[:1000])
    page.get_by_role("button", name="Sign the campaign").click()
    page.get_by_text("Thank you, Wangari Maathai").wait_for()
