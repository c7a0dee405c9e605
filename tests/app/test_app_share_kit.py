"""The editor's Status tab under AppTest: the share, dashboard and embed links, the QR code and the field kit's
downloads, for a published campaign and for a draft."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from campaigns.core.db import read_session, run_write
from campaigns.core.models import Campaign
from campaigns.people import logins
from campaigns.ui import access
from tests.support.apptest import point_app_at
from tests.support.factories import PASSWORD, make_campaign, make_user

pytestmark = pytest.mark.apptest
BASE = "https://rally.example.org"
QR_CAPTION = "Scanning it opens the share link, marked utm_source=qr in the export."


@pytest.fixture
def editor(engine, default_settings, monkeypatch):
    """Opens the editor on a campaign, as a logged-in organizer."""
    point_app_at(engine, default_settings, public_url=BASE)
    make_user(engine, email="organizer@example.org", roles=["organizer"])
    cookie = logins.log_in(engine=engine, email="organizer@example.org", password=PASSWORD, client_address="t")
    monkeypatch.setattr(access, "session_cookie", lambda: cookie)

    def open_editor(slug: str) -> AppTest:
        at = AppTest.from_string("import campaigns.ui.organize as page\npage.render_editor()\n", default_timeout=30)
        at.query_params["edit"] = slug
        at.run()
        assert not at.exception, at.exception
        return at

    return open_editor


def downloads(at: AppTest) -> list[str]:
    return [b.proto.label for b in at.get("download_button")]


def test_a_published_campaigns_status_tab_has_its_links_code_and_field_kit(editor, engine):
    make_campaign(engine, slug="kit-tab", status="published")
    at = editor("kit-tab")
    codes = [c.value for c in at.code]
    assert f"{BASE}/?campaign=kit-tab" in codes
    assert f"{BASE}/dashboard?campaign=kit-tab" in codes
    [snippet] = [c for c in codes if c.startswith("<iframe")]
    assert f'src="{BASE}/embed?campaign=kit-tab&embed=true"' in snippet and 'title="Sign our campaign"' in snippet
    assert [i.caption for image in at.get("image") for i in image.proto.imgs] == [QR_CAPTION]  # the QR code
    assert downloads(at) == [
        "QR code (PNG)",
        "QR code (SVG)",
        "Poster, A4 (PDF)",
        "Signature sheet, A4 (PDF)",
        "Blank sheet template (CSV)",
    ]
    captions = " ".join(c.value for c in at.caption)
    assert f"({BASE}/share/kit-tab/poster.pdf?paper=a4)" in captions
    assert f"({BASE}/share/kit-tab/sheet.pdf?paper=a4)" in captions
    assert not any("not public yet" in i.value for i in at.info)

    at.radio(key="kit-tab-kit-paper").set_value("letter").run()
    assert "Poster, US Letter (PDF)" in downloads(at) and "Signature sheet, US Letter (PDF)" in downloads(at)
    assert f"({BASE}/share/kit-tab/poster.pdf?paper=letter)" in " ".join(c.value for c in at.caption)


def test_a_drafts_kit_can_be_downloaded_but_its_public_links_are_not_offered(editor, engine):
    make_campaign(engine, slug="kit-draft-tab", status="draft")
    at = editor("kit-draft-tab")
    assert any("not public yet" in i.value for i in at.info)
    assert "Poster, A4 (PDF)" in downloads(at) and [
        i.caption for image in at.get("image") for i in image.proto.imgs
    ] == [QR_CAPTION]
    assert "/share/kit-draft-tab/" not in " ".join(c.value for c in at.caption)
    assert [b.label for b in at.button if b.label == "Publish…"] == ["Publish…"]  # the status buttons stay


def test_an_archived_campaigns_tab_says_its_links_no_longer_open(editor, engine):
    make_campaign(engine, slug="kit-archived-tab", status="closed")
    run_write(
        engine,
        lambda s: s.execute(update(Campaign).where(Campaign.slug == "kit-archived-tab").values(status="archived")),
    )
    at = editor("kit-archived-tab")
    infos = [i.value for i in at.info]
    assert any("archived: its links below no longer open" in i for i in infos)
    assert not any("not public yet" in i for i in infos)
    assert "/share/kit-archived-tab/" not in " ".join(c.value for c in at.caption)


def test_spike_mode_in_the_status_tab_turns_the_share_link_into_the_light_page(editor, engine):
    campaign = make_campaign(engine, slug="kit-spike", status="published")
    at = editor("kit-spike")
    [toggle] = [t for t in at.toggle if t.label.startswith("Spike mode")]
    assert toggle.value is False
    assert any("a TV or radio mention, a national day of action" in c.value for c in at.caption)
    assert f"{BASE}/?campaign=kit-spike" in [c.value for c in at.code]
    toggle.set_value(True).run()
    assert not at.exception, at.exception
    assert f"{BASE}/s/kit-spike" in [c.value for c in at.code]
    assert f"{BASE}/?campaign=kit-spike" not in [c.value for c in at.code]
    with read_session(engine) as session:
        assert session.get(Campaign, campaign.id).light_share_link is True  # type: ignore[union-attr]  # it exists
