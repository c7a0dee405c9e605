"""The comment queue under AppTest: an organizer filters, pages, chooses rows and approves or hides them in bulk."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from campaigns.core.db import read_session, run_write
from campaigns.core.models import Signature, utcnow
from campaigns.signatures.signing import sign
from tests.app import test_app_staff
from tests.support.factories import make_campaign, signer

staff_app = test_app_staff.staff_app  # the logged-in AppTest fixture

pytestmark = pytest.mark.apptest
PAGE = "import campaigns.ui.moderation as page\npage.render()\n"
START = utcnow() - timedelta(days=1)


def seed(engine, slug: str, n: int, *, region="US-CA", text="Comment", at=0) -> None:
    for i in range(n):
        run_write(
            engine,
            lambda s, i=i: sign(
                session=s,
                campaign_slug=slug,
                signer=signer(comment=f"{text} {at + i}", region_code=region, email=f"{slug}-{at + i}@example.org"),
                now=START + timedelta(seconds=at + i),
            ),
        )


def open_queue(slug: str) -> AppTest:
    at = AppTest.from_string(PAGE, default_timeout=30)
    at.query_params["campaign"] = slug
    return at.run()


def statuses(engine, slug_prefix: str) -> dict[str, str]:
    with read_session(engine) as session:
        rows = session.execute(
            select(Signature.comment, Signature.comment_status).where(Signature.email.startswith(slug_prefix))
        )
        return dict(rows.all())


def heading(at) -> str:
    return next(h.value for h in at.subheader)


def button(at, label: str):
    [found] = [b for b in at.button if b.label.startswith(label)]
    return found


def choose_rows(at, rows: list[int]) -> AppTest:
    """Tick rows of the table (AppTest has no browser: the selection state is set as a click would set it)."""
    table = at.dataframe[0]
    at.session_state[table.key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


@pytest.fixture
def queue(staff_app, engine):
    as_person, _ = staff_app
    as_person(("organizer",))
    make_campaign(engine, slug="other", title="Save the river")
    seed(engine, "other", 2, text="Elsewhere")
    make_campaign(engine, slug="libraries")
    seed(engine, "libraries", 52)
    seed(engine, "libraries", 3, region="US-NY", text="New York **bold** <b>tag</b>", at=100)
    return engine


def test_the_queue_counts_pages_and_shows_comments_as_text(queue):
    at = open_queue("libraries")
    assert not at.exception and at.query_params["campaign"] == "libraries"
    assert heading(at) == "55 comments to review"
    frame = at.dataframe[0].value
    assert len(frame) == 50 and list(frame["comment"][:2]) == ["Comment 0", "Comment 1"]
    assert any("Page 1 of 2 (1–50)" in m.value for m in at.markdown)
    at = button(at, "Next").click().run()
    frame = at.dataframe[0].value
    assert list(frame["comment"]) == ["Comment 50", "Comment 51"] + [
        f"New York **bold** <b>tag</b> {i}" for i in (100, 101, 102)
    ]
    assert any("Page 2 of 2 (51–55)" in m.value for m in at.markdown)
    assert not [m for m in at.markdown if "<b>" in m.value or "**bold**" in m.value]  # data, never markup
    at.selectbox[-1].set_value(25)  # a page shows 25: back to the first page
    at = at.run()
    assert len(at.dataframe[0].value) == 25 and any("Page 1 of 3" in m.value for m in at.markdown)


def test_filtering_by_words_and_region(queue):
    at = open_queue("libraries")
    region = next(s for s in at.selectbox if s.label == "Region")
    assert region.options == ["Any region", "California (52)", "New York (3)"]
    at = region.set_value("US-NY").run()
    assert heading(at) == "3 comments to review" and len(at.dataframe[0].value) == 3
    at = next(t for t in at.text_input if t.label == "Words in the comment").set_value("  BOLD ").run()
    assert heading(at) == "3 comments to review"
    at = next(t for t in at.text_input if t.label == "Words in the comment").set_value("comment 5").run()
    assert heading(at) == "0 comments to review" and any("Clear the filter" in i.value for i in at.info)


def test_choosing_rows_then_approving_them_moves_exactly_those(queue):
    at = open_queue("libraries")
    assert button(at, "Approve selected").disabled
    at = choose_rows(at, [0, 2, 3])
    assert any("The 3 chosen comments in full" in e.label for e in at.expander)
    at = button(at, "Approve selected (3)").click().run()
    assert not at.exception
    assert any("3 comments approved" in s.value for s in at.success)
    assert heading(at) == "52 comments to review"
    now = statuses(queue, "libraries")
    assert sorted(c for c, s in now.items() if s == "approved") == ["Comment 0", "Comment 2", "Comment 3"]
    assert statuses(queue, "other") == {"Elsewhere 0": "pending", "Elsewhere 1": "pending"}
    assert button(at, "Approve selected").disabled  # nothing stays chosen on the rows that moved up
    at = next(s for s in at.segmented_control if s.label == "Show").set_value("approved").run()
    assert heading(at) == "3 comments approved"
    at = choose_rows(at, [1])
    at = button(at, "Hide selected (1)").click().run()
    assert any("1 comment hidden" in s.value for s in at.success)
    assert statuses(queue, "libraries")["Comment 2"] == "hidden"


def test_everything_matching_once_the_count_is_confirmed(queue):
    at = open_queue("libraries")
    at = next(t for t in at.text_input if t.label == "Words in the comment").set_value("york").run()
    assert button(at, "Hide all 3").disabled
    at = next(c for c in at.checkbox if c.label.startswith("All 3 comments that match")).check().run()
    at = button(at, "Hide all 3").click().run()
    assert not at.exception and any("3 comments hidden" in s.value for s in at.success)
    assert heading(at) == "0 comments to review"
    hidden = {c for c, s in statuses(queue, "libraries").items() if s == "hidden"}
    assert hidden == {f"New York **bold** <b>tag</b> {i}" for i in (100, 101, 102)}


def test_a_stale_count_changes_nothing_and_says_how_many_match_now(queue):
    at = open_queue("libraries")
    at = next(c for c in at.checkbox if c.label.startswith("All 55 comments")).check().run()
    seed(queue, "libraries", 1, text="Late", at=500)  # someone signs meanwhile
    at = button(at, "Approve all 55").click().run()
    assert any("56 comments match now, not 55" in e.value for e in at.error)
    assert "approved" not in statuses(queue, "libraries").values()
    assert heading(at) == "56 comments to review"


def test_the_overview_links_each_campaign_to_its_queue_for_organizers_only(staff_app, engine):
    as_person, open_page = staff_app
    make_campaign(engine, slug="libraries")
    seed(engine, "libraries", 2)
    as_person(("organizer",))

    def links(at) -> list[tuple[str, str, str]]:
        return [(link.proto.label, link.proto.page, link.proto.query_string) for link in at.get("page_link")]

    assert ("Review 2 comments", "moderation", "campaign=libraries") in links(open_page("overview"))
    as_person(("coordinator",), email="coordinator@example.org")
    assert not [link for link in links(open_page("overview")) if link[1] == "moderation"]


def test_the_editors_comments_tab_counts_and_links_to_the_queue(staff_app, engine):
    as_person, _ = staff_app
    make_campaign(engine, slug="libraries")
    seed(engine, "libraries", 3)
    as_person(("organizer",))
    at = AppTest.from_string("import campaigns.ui.organize as page\npage.render_editor()\n", default_timeout=30)
    at.query_params["edit"] = "libraries"
    at = at.run()
    assert not at.exception
    assert any(
        "**3** comments to review" in m.value and "(/moderation?campaign=libraries)" in m.value for m in at.markdown
    )


def test_a_search_too_long_says_so_and_a_region_gone_from_the_list_falls_back_to_any(queue):
    at = open_queue("libraries")
    words = next(t for t in at.text_input if t.label == "Words in the comment")
    at = words.set_value(" ".join(f"w{i}" for i in range(11))).run()
    assert not at.exception and any("at most 10 words" in e.value for e in at.error)
    at = next(t for t in at.text_input if t.label == "Words in the comment").set_value("").run()
    at = next(s for s in at.selectbox if s.label == "Region").set_value("US-NY").run()
    at = choose_rows(at, [0, 1, 2])
    at = button(at, "Hide selected (3)").click().run()
    assert heading(at) == "0 comments to review"  # New York has none left to review
    at = next(s for s in at.selectbox if s.label == "Region").set_value("").run()
    assert heading(at) == "52 comments to review"
    at = next(s for s in at.segmented_control if s.label == "Show").set_value("hidden").run()
    region = next(s for s in at.selectbox if s.label == "Region")
    assert region.options == ["Any region", "New York (3)"] and heading(at) == "3 comments hidden"


def test_another_campaign_starts_with_its_whole_queue(queue):
    at = open_queue("libraries")
    at = next(s for s in at.selectbox if s.label == "Region").set_value("US-NY").run()
    at = next(t for t in at.text_input if t.label == "Words in the comment").set_value("york").run()
    assert heading(at) == "3 comments to review"
    at = next(s for s in at.selectbox if s.label == "Campaign").set_value("other").run()
    assert at.query_params["campaign"] == "other" and heading(at) == "2 comments to review"
    assert next(t for t in at.text_input if t.label == "Words in the comment").value == ""


def test_two_campaigns_of_one_title_can_each_be_picked(staff_app, engine):
    as_person, open_page = staff_app
    make_campaign(engine, slug="libraries-north", title="Fund the libraries")
    make_campaign(engine, slug="libraries-south", title="Fund the libraries")
    as_person(("organizer",))
    picker = open_page("moderation").selectbox[0]
    assert sorted(picker.options) == [
        "Fund the libraries (published, libraries-north)",
        "Fund the libraries (published, libraries-south)",
    ]
    picked = picker.select("libraries-south").run()
    assert not picked.exception and picked.selectbox[0].value == "libraries-south"
