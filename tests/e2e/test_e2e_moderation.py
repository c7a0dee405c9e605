"""Real-browser moderation on a phone: filter the queue, tick several comments, approve them, see the count drop."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import select

from campaigns.core.db import read_session, run_write
from campaigns.core.models import Signature, utcnow
from campaigns.signatures.signing import sign
from tests.support.browser import E2E, browser_page, log_in
from tests.support.factories import PASSWORD, make_campaign, make_user, signer
from tests.support.servers import running_app

pytestmark = E2E
PHONE = {"width": 390, "height": 844}
ROW = 35  # the table's header and row height, in CSS pixels (Streamlit's default)


def _seed(engine) -> None:
    make_campaign(engine, slug="libraries")
    start = utcnow() - timedelta(hours=5)
    texts = [f"Library hours matter {i}" for i in range(6)] + [f"Something else {i}" for i in range(4)]
    for i, comment in enumerate(texts):
        run_write(
            engine,
            lambda s, i=i, c=comment: sign(
                session=s,
                campaign_slug="libraries",
                signer=signer(comment=c, email=f"s{i}@example.org", region_code="US-CA" if i % 2 else "US-NY"),
                now=start + timedelta(minutes=i),
            ),
        )


def _tick_rows(page, rows: list[int]) -> None:
    """Click the row boxes at the start of the rows (the table is drawn on a canvas: by position)."""
    table = page.get_by_test_id("stDataFrame")
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    for row in rows:
        page.mouse.click(box["x"] + 18, box["y"] + ROW * (row + 1) + ROW / 2)
        page.wait_for_timeout(300)


def test_an_organizer_filters_ticks_and_approves_comments_on_a_phone(browser, request, tmp_path: Path):
    with running_app(f"sqlite:///{tmp_path / 'rally.db'}", tmp_path) as server:
        engine = server.engine()
        _seed(engine)
        make_user(engine, email="mona@example.org", roles=["organizer"])
        with browser_page(browser, request, tmp_path, viewport=PHONE) as page:
            log_in(page, server.url, "mona@example.org", PASSWORD)
            page.goto(f"{server.url}/overview")
            link = page.get_by_role("link", name="Review 10 comments")
            assert link.get_attribute("target") != "_blank"  # this tab, not a new one per click
            link.click()
            page.get_by_role("heading", name="10 comments to review").wait_for()
            expect(page).to_have_url(f"{server.url}/moderation?campaign=libraries")  # shareable, reloadable
            assert len(page.context.pages) == 1
            page.get_by_role("textbox", name="Words in the comment").fill("LIBRARY hours")
            page.get_by_role("textbox", name="Words in the comment").press("Enter")
            page.get_by_role("heading", name="6 comments to review").wait_for()
            expect(page.get_by_role("button", name="Approve selected")).to_be_disabled()
            _tick_rows(page, [0, 1, 3])
            approve = page.get_by_role("button", name="Approve selected (3)")
            approve.wait_for()
            page.get_by_text("The 3 chosen comments in full").click()
            chosen = page.get_by_test_id("stExpanderDetails")
            for n in (0, 1, 3):
                expect(chosen.get_by_text(f"Library hours matter {n}", exact=True)).to_be_visible()
            expect(chosen.get_by_text("Library hours matter 2", exact=True)).to_have_count(0)
            page.screenshot(path=str(tmp_path / "chosen.png"), full_page=True)
            approve.click()
            page.get_by_test_id("stAlertContentSuccess").get_by_text("3 comments approved").wait_for()  # a toast too
            page.get_by_role("heading", name="3 comments to review").wait_for()
            expect(page.get_by_role("button", name="Approve selected", exact=True)).to_be_disabled()
            page.screenshot(path=str(tmp_path / "approved.png"), full_page=True)
            page.goto(f"{server.url}/?campaign=libraries")
            page.get_by_text("Library hours matter 3", exact=True).wait_for()  # the public page shows approvals
            expect(page.get_by_text("Library hours matter 2", exact=True)).to_have_count(0)
        with read_session(engine) as session:
            approved = session.execute(
                select(Signature.comment).where(Signature.comment_status == "approved").order_by(Signature.id)
            ).scalars()
            assert list(approved) == ["Library hours matter 0", "Library hours matter 1", "Library hours matter 3"]
        engine.dispose()
