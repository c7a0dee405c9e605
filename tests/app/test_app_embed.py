"""The embeddable widget and the public page's live count, with AppTest against a real database."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from campaigns.core.db import run_write
from campaigns.signatures.signing import sign
from campaigns.ui import reads, widgets
from tests.support.apptest import point_app_at, run_with_query
from tests.support.factories import make_campaign, signer

pytestmark = pytest.mark.apptest
PUBLIC_URL = "https://rally.example.org"


def _embed_script() -> None:
    from campaigns.ui import embed

    embed.render()


@pytest.fixture
def widget(engine, default_settings):
    """The embed page alone (as /embed serves it), pointed at the test database."""
    point_app_at(engine, default_settings, public_url=PUBLIC_URL)

    def open_widget(**query: str) -> AppTest:
        return run_with_query(AppTest.from_function(_embed_script, default_timeout=30), **query)

    return open_widget


def texts(at: AppTest) -> str:
    return "\n".join(el.value for el in [*at.markdown, *at.subheader, *at.caption, *at.warning, *at.info])


def test_widget_shows_title_live_count_progress_and_a_sign_link_to_the_campaign_page(widget, engine):
    make_campaign(engine, slug="rivers", goal=40, title="Clean *rivers*")
    for _ in range(3):
        run_write(engine, lambda s: sign(session=s, campaign_slug="rivers", signer=signer()))
    at = widget(campaign="rivers", embed="true")
    assert not at.exception
    assert at.subheader[0].value == widgets.plain("Clean *rivers*")  # organizer text arrives escaped
    (bar,) = at.get("progress")
    assert (bar.proto.value, bar.proto.text) == (7, "**3** of 40 signatures")
    (link,) = at.get("link_button")
    assert link.proto.label == "Sign the campaign"
    assert link.proto.url == f"{PUBLIC_URL}/?campaign=rivers&utm_source=embed&utm_medium=widget"
    assert not at.button and not at.text_input  # no form and nothing that submits from inside someone else's page
    assert "Live · updated" in at.caption[0].value


def test_widget_count_follows_new_signatures_through_the_shared_cache(widget, engine):
    make_campaign(engine, slug="rivers", goal=40)
    at = widget(campaign="rivers")
    assert at.get("progress")[0].proto.text == "**0** of 40 signatures"
    run_write(engine, lambda s: sign(session=s, campaign_slug="rivers", signer=signer()))
    reads.forget_public_reads()  # what the cache's few seconds of life do on their own
    at.run()
    assert at.get("progress")[0].proto.text == "**1** of 40 signatures"


def test_closed_campaign_widget_shows_the_final_count_and_no_sign_link(widget, engine):
    make_campaign(engine, slug="done", status="closed", goal=10)
    at = widget(campaign="done")
    assert not at.exception
    assert "**Closed.** Final count: 0 signatures." in texts(at)
    assert not at.get("link_button")


@pytest.mark.parametrize("slug", ["secret-draft", "no-such-thing"])
def test_widget_says_plainly_when_there_is_no_published_campaign(widget, engine, slug):
    make_campaign(engine, slug="secret-draft", status="draft", title="Unannounced plan")
    at = widget(campaign=slug)
    assert not at.exception and not at.error
    (warning,) = at.warning
    assert "There is no published campaign at" in warning.value and "drafts appear here once" in warning.value
    assert "Unannounced plan" not in texts(at) and not at.get("progress") and not at.get("link_button")


@pytest.mark.parametrize("slug", ["rivers\x00", "\x00x"])
def test_widget_for_a_link_name_that_cannot_be_one_says_so_without_an_error(widget, engine, slug, caplog):
    make_campaign(engine, slug="rivers")
    at = widget(campaign=slug)
    assert not at.exception and not at.error
    (warning,) = at.warning
    assert warning.value.startswith("There is no published campaign at that address.")
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_widget_without_a_campaign_explains_the_address(widget):
    at = widget()
    assert not at.exception
    assert "/embed?campaign=" in at.info[0].value


def _menu_script() -> None:
    import streamlit as st

    from campaigns.core.audit import Actor
    from campaigns.ui import navigation

    for actor in (None, Actor(1, "a@example.org", frozenset({"admin", "organizer", "coordinator"}))):
        pages = [page for section in navigation.build(actor).values() for page in section]
        st.text(" ".join(f"{p.url_path}:{p.visibility}" for p in pages if p.url_path == "embed"))


def test_embed_page_is_reachable_by_everyone_and_listed_in_no_menu():
    at = AppTest.from_function(_menu_script).run()
    assert not at.exception
    assert [t.value for t in at.text] == ["embed:hidden", "embed:hidden"]  # an unknown path would open the default


# --- the public campaign page: its count refreshes itself, the form stays outside -----------------


def test_public_page_count_says_when_it_was_updated_and_follows_new_signatures(app, engine):
    make_campaign(engine, slug="libraries", goal=10)
    at = app(campaign="libraries")
    assert not at.exception
    assert at.get("progress")[0].proto.text == "**0** of 10 signatures"
    assert "Updated at" in at.caption[0].value and "See signatures by region" in at.caption[0].value
    for _ in range(5):
        run_write(engine, lambda s: sign(session=s, campaign_slug="libraries", signer=signer()))
    reads.forget_public_reads()
    at.run()
    assert at.get("progress")[0].proto.text == "**5** of 10 signatures"
    assert "Halfway to the goal" in at.success[0].value
    assert [b.label for b in at.button if b.label == "Sign the campaign"]  # the form is still there, outside


def test_signer_sees_their_own_signature_counted_even_before_the_cache_refreshes(app, engine):
    from tests.app.test_app_pages import fill_form

    make_campaign(engine, slug="libraries", goal=10)
    at = app(campaign="libraries")  # the cached page says 0 for the next few seconds
    at = fill_form(at)
    assert not at.exception and "Thank you, Rosa Parks" in at.success[0].value
    assert at.get("progress")[0].proto.text == "**1** of 10 signatures"
