"""The editor's next steps and confirmed status changes, and the overview's cards, under AppTest.

Identity is resolved for real (a signed cookie, a session row in the database); only the browser's way of
sending the cookie is replaced, since AppTest has no browser (as in test_app_staff.py).
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from campaigns.catalog import checklist
from campaigns.catalog.listing import get_campaign_by_slug
from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.letters.targets import add_target
from campaigns.people import logins, staff
from campaigns.ui import access, navigation
from tests.support.apptest import point_app_at
from tests.support.factories import make_campaign

pytestmark = pytest.mark.apptest
PASSWORD = "correct horse battery staple"


@pytest.fixture
def organizer(engine, default_settings, monkeypatch):
    """Pages run as a logged-in organizer; returns a function opening a page (module, function) at a query."""
    point_app_at(engine, default_settings)
    email = "olga@example.org"
    run_write(
        engine,
        lambda s: staff.create_user(session=s, email=email, password=PASSWORD, roles=["organizer"], actor=CLI),
    )
    cookie = logins.log_in(engine=engine, email=email, password=PASSWORD, client_address="test")
    monkeypatch.setattr(access, "session_cookie", lambda: cookie)

    def open_page(function: str = "render_editor", **query: str) -> AppTest:
        at = AppTest.from_string(f"import campaigns.ui.organize as page\npage.{function}()\n", default_timeout=30)
        for key, value in query.items():
            at.query_params[key] = value
        return at.run()

    return open_page


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [s.value for s in at.success])


def status_of(engine, slug: str) -> str:
    with read_session(engine) as session:
        campaign = get_campaign_by_slug(session=session, slug=slug)
    assert campaign is not None
    return campaign.status


def test_creating_a_draft_shows_the_next_steps(organizer, engine):
    at = organizer()
    by_label = {w.label: w for w in [*at.text_input, *at.text_area]}
    by_label["Title"].set_value("Safe crossings for every school").run()
    at.text_area[0].set_value("Every child deserves a safe walk to school.")
    at = button(at, "Create draft").click().run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "#### Next steps" in shown and "1 of 5 done" in shown
    assert "Your draft is saved" in shown and "(#next-steps)" in shown  # the page is scrolled down there
    for step in ("Details", "Targets", "Letter", "Preview", "Publish"):
        assert f"**{step}**" in shown
    assert shown.count("Not yet") == 4 and shown.count("Done") == 1
    assert "Your draft is saved" not in texts(at.run())  # said once


def test_the_checklist_follows_what_is_stored(organizer, engine):
    draft = make_campaign(engine, slug="quiet-streets", status="draft")
    run_write(engine, lambda s: add_target(session=s, campaign_id=draft.id, region_code=None, name="Mayor", actor=CLI))
    at = organizer(edit="quiet-streets")
    assert not at.exception and "2 of 5 done" in texts(at)
    at = button(at, "The preview looks right").click().run()
    assert not at.exception and "3 of 5 done" in texts(at)
    with read_session(engine) as session:
        steps = {s.key: s.done for s in checklist.read_checklist(session=session, campaign_id=draft.id).steps}
    assert steps == {"details": True, "targets": True, "letter": False, "preview": True, "publish": False}


def test_a_published_campaign_shows_no_checklist(organizer, engine):
    make_campaign(engine, slug="open-now")
    at = organizer(edit="open-now")
    assert not at.exception and "Next steps" not in texts(at)
    assert not [b for b in at.button if b.label == "The preview looks right"]


def test_publish_asks_first_and_says_what_will_happen(organizer, engine):
    make_campaign(engine, slug="quiet-streets", status="draft", title="Quiet streets")
    at = button(organizer(edit="quiet-streets"), "Publish…").click().run()
    assert not at.exception and status_of(engine, "quiet-streets") == "draft"  # nothing happened yet
    shown = texts(at)
    assert "Publish “Quiet streets”?" in shown and "starts accepting signatures" in shown
    assert any(c.value.endswith("?campaign=quiet-streets") for c in at.code)  # where it will be public
    at = button(at, "Cancel").click().run()
    assert status_of(engine, "quiet-streets") == "draft" and button(at, "Publish…")
    at = button(button(at, "Publish…").click().run(), "Yes, publish").click().run()
    assert not at.exception and status_of(engine, "quiet-streets") == "published"
    assert "This campaign is **published**." in texts(at) and button(at, "Close early…")
    assert [t.value for t in at.toast] == ["Published: it is public at its share link and accepts signatures."]


def test_close_early_asks_first_and_says_signatures_stop(organizer, engine):
    make_campaign(engine, slug="open-now")
    at = button(organizer(edit="open-now"), "Close early…").click().run()
    assert status_of(engine, "open-now") == "published"
    assert "stops accepting signatures now" in texts(at) and "shows the result" in texts(at)
    at = button(at, "Yes, close early").click().run()
    assert not at.exception and status_of(engine, "open-now") == "closed"


def test_archive_asks_first(organizer, engine):
    make_campaign(engine, slug="old-one", status="closed")
    at = button(organizer(edit="old-one"), "Archive…").click().run()
    assert status_of(engine, "old-one") == "closed" and "leaves every public list" in texts(at)
    at = button(at, "Yes, archive").click().run()
    assert not at.exception and status_of(engine, "old-one") == "archived"


def test_a_confirmation_that_no_longer_applies_is_dropped(organizer, engine):
    """Asked to publish in one tab, published in another: the stale question is not asked again."""
    make_campaign(engine, slug="quiet-streets", status="draft")
    at = button(organizer(edit="quiet-streets"), "Publish…").click().run()
    from campaigns.catalog.lifecycle import publish_campaign

    with read_session(engine) as session:
        cid = get_campaign_by_slug(session=session, slug="quiet-streets").id
    run_write(engine, lambda s: publish_campaign(session=s, campaign_id=cid))
    at = at.run()
    assert not at.exception and not [b for b in at.button if b.label.startswith("Yes, ")]
    assert button(at, "Close early…")


def test_the_overview_is_one_card_per_campaign(organizer, engine):
    make_campaign(engine, slug="quiet-streets", title="Quiet streets", goal=12_000)
    make_campaign(engine, slug="draft-one", title="A *draft*", status="draft")
    at = organizer("render_overview")
    assert not at.exception and not at.dataframe
    shown = texts(at)
    assert "**Quiet streets** :green-badge[published]" in shown
    assert r"**A \*draft\*** :gray-badge[draft]" in shown  # campaign text is data, never markdown
    links = [(link.proto.label, link.proto.page, link.proto.query_string) for link in at.get("page_link")]
    assert ("Open in the editor", "editor", "edit=quiet-streets") in links  # real links, opened in this tab
    assert ("Live dashboard", "dashboard", "campaign=quiet-streets") in links
    assert ("Live dashboard", "dashboard", "campaign=draft-one") not in links  # a draft has no dashboard yet
    assert ("Open in the editor", "editor", "edit=draft-one") in links
    goals = [m.value for m in at.metric if m.label == "Goal"]
    assert sorted(goals) == ["100", "12000"]  # formatted in the reader's locale by the browser


def test_anonymous_visitors_reach_staff_urls_to_be_told_to_log_in():
    """Every staff page is registered for everyone, hidden when it is not theirs: no "page not found"."""
    at = AppTest.from_string(
        "from campaigns.core.audit import Actor\n"
        "from campaigns.ui import navigation\n"
        "import streamlit as st\n"
        "for actor in (None, Actor(1, 'c@example.org', frozenset({'coordinator'}))):\n"
        "    pages = [p for ps in navigation.build(actor).values() for p in ps]\n"
        "    st.text(' '.join(sorted(f'/{p.url_path}' for p in pages if p.visibility == 'hidden')))\n"
    ).run()
    assert not at.exception, at.exception
    anonymous, coordinator = (set(t.value.split()) for t in at.text)
    assert navigation.staff_paths() <= anonymous
    assert {"/editor", "/people", "/regions"} <= coordinator and not {"/overview", "/export"} & coordinator


def test_a_staff_page_opened_after_the_log_in_ended_offers_the_log_in(engine, default_settings, monkeypatch):
    point_app_at(engine, default_settings)
    monkeypatch.setattr(access, "session_cookie", lambda: None)
    at = AppTest.from_string("import campaigns.ui.organize as page\npage.render_editor()\n", default_timeout=30).run()
    assert not at.exception and not at.title
    assert any("Log in to open it" in e.value for e in at.error)
    (link,) = at.get("link_button")
    assert link.proto.label == "Log in" and link.proto.url.startswith("/auth/login")
