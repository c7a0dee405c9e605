"""Outcomes under AppTest: the public page's banner, threshold and responses, the wall and its credit box, the home
page's victories, and the editor's Outcome tab and threshold."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from campaigns.catalog.lifecycle import update_campaign
from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.core.models import (
    AuditEntry,
    Campaign,
    CampaignUpdate,
    Signature,
    SignerUpdate,
    TargetResponse,
    utcnow,
)
from campaigns.outcomes import responses, results
from campaigns.signatures import moderation, wall
from campaigns.signatures.signing import sign
from campaigns.ui.widgets import plain
from tests.app import test_app_staff
from tests.app.test_app_pages import by_label, fill_form, markdown_text
from tests.support.factories import make_campaign, signer

staff_app = test_app_staff.staff_app  # the logged-in AppTest fixture
pytestmark = pytest.mark.apptest
EDITOR = "import campaigns.ui.organize as page\npage.render_editor()\n"
START = utcnow() - timedelta(days=1)


def everything(at) -> str:
    return "\n".join(
        [markdown_text(at), *(i.value for i in at.info), *(t.value for t in at.text), *(e.value for e in at.error)]
    )


def seed_comments(engine, slug, n, **overrides) -> list[int]:
    ids = [
        run_write(
            engine,
            lambda s, i=i: sign(
                session=s,
                campaign_slug=slug,
                signer=signer(comment=f"Reason {i}", email=f"{slug}-{i}@example.org", **overrides),
                now=START + timedelta(seconds=i),
            ),
        ).signature_id
        for i in range(n)
    ]
    with read_session(engine) as session:
        cid = session.get(Signature, ids[0]).campaign_id
    run_write(engine, lambda s: moderation.approve_comments(session=s, campaign_id=cid, actor=CLI, signature_ids=ids))
    return ids


def test_a_won_campaign_shows_its_banner_response_and_is_listed_as_a_victory(app, engine):
    campaign = make_campaign(engine, slug="libraries", title="Fund the libraries")
    run_write(
        engine,
        lambda s: responses.record_response(
            session=s,
            campaign_id=campaign.id,
            response=responses.ResponseInput(
                text="We **agree**: <b>open</b> on Sundays.",
                responded_on=utcnow().date(),
                attachment_url="https://city.example/answer.pdf",
            ),
            actor=CLI,
        ),
    )
    run_write(
        engine,
        lambda s: results.set_outcome(
            session=s, campaign_id=campaign.id, outcome="won", note="Council voted *7–2*.", actor=CLI
        ),
    )
    at = app(campaign="libraries")
    assert not at.exception, at.exception
    [banner] = [s.value for s in at.success if "Victory" in s.value]
    assert plain("Council voted *7–2*.") in banner  # the note is text: escaped, never markup
    assert "The target's response" in markdown_text(at)
    assert any(plain("We **agree**: <b>open</b> on Sundays.") == m.value for m in at.markdown)
    [button] = [b for b in at.get("link_button") if b.proto.label == "Read the full response"]
    assert button.proto.url == "https://city.example/answer.pdf"
    assert f"The document is on {plain('city.example')}." in markdown_text(at)
    home = app()
    assert not home.exception
    assert "Victories" in markdown_text(home)
    headings = [h.value for h in home.subheader]
    assert headings.index("Victories") < headings.index("All campaigns")  # the list after them is not victories
    links = {link.proto.label: link.proto.query_string for link in home.get("page_link")}
    assert links["How it was won"] == "campaign=libraries"


def test_a_lost_campaign_says_so_plainly_and_is_no_victory(app, engine):
    campaign = make_campaign(engine, slug="river")
    run_write(engine, lambda s: results.set_outcome(session=s, campaign_id=campaign.id, outcome="lost", actor=CLI))
    at = app(campaign="river")
    assert not at.exception
    assert any("did not get what it asked for" in i.value for i in at.info)
    assert not [s for s in at.success if "Victory" in s.value]
    home = app()
    assert "Victories" not in markdown_text(home)
    assert "All campaigns" not in [h.value for h in home.subheader]  # no victories: the title heads the list


def test_the_threshold_shows_progress_until_a_response_replaces_it(app, engine):
    campaign = make_campaign(engine, slug="answer")
    run_write(
        engine,
        lambda s: update_campaign(
            session=s, campaign_id=campaign.id, changes=CampaignUpdate(response_threshold=10_000), actor=CLI
        ),
    )
    seed_comments(engine, "answer", 2)
    at = app(campaign="answer")
    assert not at.exception
    texts = [p.proto.text for p in at.get("progress")]
    assert plain("The target is expected to answer at 10,000 signatures: 2 so far.") in texts
    run_write(
        engine,
        lambda s: responses.record_response(
            session=s,
            campaign_id=campaign.id,
            response=responses.ResponseInput(text="We are looking into it.", responded_on=utcnow().date()),
            actor=CLI,
        ),
    )
    from campaigns.ui import reads

    reads.forget_public_reads()
    at = app(campaign="answer")
    assert not [p for p in at.get("progress") if "expected to answer" in p.proto.text]
    assert "We are looking into it" in markdown_text(at)


def test_the_wall_shows_names_only_with_consent_and_pages_older_comments(app, engine):
    make_campaign(engine, slug="wall")
    ids = seed_comments(engine, "wall", 12, full_name="Grace Hopper", region_code="US-NY")
    run_write(
        engine,
        lambda s: sign(
            session=s,
            campaign_slug="wall",
            signer=signer(comment="Named **reason**", full_name="Ada Lovelace", comment_credit=True),
            now=START + timedelta(minutes=5),
        ),
    )
    with read_session(engine) as session:
        named = session.execute(select(Signature.id).where(Signature.comment == "Named **reason**")).scalar_one()
    run_write(engine, lambda s: moderation.approve_comment(session=s, signature_id=named, actor=CLI))
    run_write(engine, lambda s: wall.feature_comment(session=s, signature_id=ids[0], actor=CLI))
    at = app(campaign="wall")
    assert not at.exception, at.exception
    shown = [t.value for t in at.text]
    assert shown[:3] == ["Reason 0", "Named **reason**", "Reason 11"]  # featured first, then newest first
    captions = [c.value for c in at.caption]
    assert any(c.startswith(":material/star: Featured · ") and "Grace" not in c for c in captions)
    assert any(c.startswith("Ada · California · ") for c in captions)
    assert not any("Grace" in c or "New York" in c for c in captions)  # they did not agree
    assert len(shown) == 1 + wall.PER_PAGE
    at = by_label(at.button, "Older comments").click().run()
    assert [t.value for t in at.text] == ["Reason 2", "Reason 1"]
    assert not [b for b in at.button if b.label == "Older comments"]
    at = by_label(at.button, "Newer comments").click().run()
    assert [t.value for t in at.text][:2] == ["Reason 0", "Named **reason**"]


def test_the_credit_box_is_off_by_default_and_stored_when_ticked(app, engine):
    make_campaign(engine, slug="credit")
    at = app(campaign="credit")
    box = by_label(at.checkbox, "Show my first name and region with my comment")
    assert box.value is False
    by_label(at.text_area, "Why are you signing?").set_value("Because it matters.")
    box.check()
    at = fill_form(at, email="credit@example.org")
    assert not at.exception and "Thank you" in at.success[0].value
    with read_session(engine) as session:
        stored = session.execute(select(Signature.comment_credit).where(Signature.email == "credit@example.org"))
        assert stored.scalar_one() is True


def _editor(slug: str) -> AppTest:
    at = AppTest.from_string(EDITOR, default_timeout=30)
    at.query_params["edit"] = slug
    return at.run()


def test_an_organizer_records_a_response_and_an_outcome_in_the_outcome_tab(staff_app, engine):
    as_person, _ = staff_app
    as_person(("organizer",))
    campaign = make_campaign(engine, slug="tab")
    at = _editor("tab")
    assert not at.exception, at.exception
    at.text_area(key="tab-response-new-text").set_value("We will fund it.")
    at.text_input(key="tab-response-new-url").set_value("javascript:alert(1)")
    at = by_label(at.button, "Record the response").click().run()
    assert any("Link to the document: Link to the document with an address" in e.value for e in at.error)
    at.text_input(key="tab-response-new-url").set_value("https://city.example/a.pdf")
    at = by_label(at.button, "Record the response").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    with read_session(engine) as session:
        [saved] = session.execute(select(TargetResponse)).scalars().all()
    assert (saved.text, saved.attachment_url) == ("We will fund it.", "https://city.example/a.pdf")
    at = _editor("tab")
    assert plain("We will fund it.") in markdown_text(at)
    assert any("has responded" in m.value for m in at.markdown)  # what signers would be told
    at.radio(key="tab-outcome-choice").set_value("partly_won")
    at.text_area(key="tab-outcome-note").set_value("Open on Sundays, not yet on Saturdays.")
    at = by_label(at.button, "Save the outcome").click().run()
    assert not at.exception and not at.error
    with read_session(engine) as session:
        stored = session.get(Campaign, campaign.id)
        assert (stored.outcome, stored.outcome_note) == ("partly_won", "Open on Sundays, not yet on Saturdays.")
        actions = session.execute(select(AuditEntry.action, AuditEntry.actor).order_by(AuditEntry.id)).all()
    assert ("campaign.outcome", "staff@example.org") in actions
    assert ("response.record", "staff@example.org") in actions
    at = _editor("tab")
    at.checkbox(key=f"tab-response-{saved.id}-sure").check()
    at = by_label(at.run().button, "Delete").click().run()
    assert not at.exception
    with read_session(engine) as session:
        assert session.execute(select(TargetResponse)).scalars().all() == []


def test_tell_signers_drafts_the_update_and_the_updates_tab_opens_on_it(staff_app, engine):
    as_person, _ = staff_app
    as_person(("organizer",))
    campaign = make_campaign(engine, slug="tell")
    run_write(
        engine,
        lambda s: results.set_outcome(session=s, campaign_id=campaign.id, outcome="won", note="Funded.", actor=CLI),
    )
    at = _editor("tell")
    assert not at.exception, at.exception
    at = by_label(at.button, "Draft this update to signers").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    with read_session(engine) as session:
        [drafted] = session.execute(select(SignerUpdate)).scalars().all()
        expected = results.outcome_update(session=session, campaign_id=campaign.id)
    assert (drafted.kind, drafted.status, drafted.subject, drafted.body) == ("outcome", "draft", *expected)
    assert by_label(at.text_input, "Update subject").value == expected[0]  # the Updates tab opens on it
    assert "Drafted" in " ".join(t.value for t in at.toast)


def test_the_threshold_is_set_in_details(staff_app, engine):
    as_person, _ = staff_app
    as_person(("organizer",))
    campaign = make_campaign(engine, slug="thr", goal=500)
    at = _editor("thr")
    at.checkbox(key="thr-has-threshold").check()
    at = at.run()
    assert at.number_input(key="thr-threshold").value == 500  # the goal, to start from
    at.number_input(key="thr-threshold").set_value(10_000)
    at = at.button(key="thr-save").click().run()
    assert not at.exception and not at.error
    with read_session(engine) as session:
        assert session.get(Campaign, campaign.id).response_threshold == 10_000
        [detail] = session.execute(select(AuditEntry.detail).where(AuditEntry.action == "campaign.update")).scalars()
    assert json.loads(detail)["values"]["response_threshold"] == {"from": None, "to": 10_000}


def test_approved_comments_are_featured_and_unfeatured_from_the_queue(staff_app, engine):
    as_person, _ = staff_app
    as_person(("organizer",))
    make_campaign(engine, slug="queue")
    ids = seed_comments(engine, "queue", 4)
    at = AppTest.from_string("import campaigns.ui.moderation as page\npage.render()\n", default_timeout=30)
    at.query_params["campaign"] = "queue"
    at = at.run()
    at.segmented_control(key="moderation-status").set_value("approved")
    at = at.run()
    table = at.dataframe[0]
    at.session_state[table.key] = {"selection": {"rows": [0, 1, 2, 3], "columns": [], "cells": []}}
    at = at.run()
    at = by_label(at.button, "Feature selected (4)").click().run()
    assert any(f"already features {wall.FEATURED_MAX}" in e.value for e in at.error), [e.value for e in at.error]
    with read_session(engine) as session:
        assert wall.count_featured(session=session, campaign_id=session.get(Signature, ids[0]).campaign_id) == 0
    table = at.dataframe[0]
    at.session_state[table.key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at = at.run()
    at = by_label(at.button, "Feature selected (1)").click().run()
    assert any("featured at the top" in s.value for s in at.success)
    assert list(at.dataframe[0].value["featured"]) == ["★ featured", "", "", ""]
