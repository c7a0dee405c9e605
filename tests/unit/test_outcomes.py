"""Target responses, outcomes, victories and the response threshold, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from campaigns.catalog.lifecycle import archive_campaign, update_campaign
from campaigns.core.audit import Actor
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import CampaignNotFound, InvalidInput, NotFound
from campaigns.core.models import AuditEntry, Campaign, CampaignUpdate, utcnow
from campaigns.letters import targets
from campaigns.outcomes import responses, results
from campaigns.outcomes.responses import ResponseInput
from tests.support.factories import make_campaign, sign_from

MONA = Actor(user_id=None, email="mona@example.org", roles=frozenset({"organizer"}))
TODAY = utcnow().date()


def record(engine, campaign_id, **given):
    values = {"text": "We will keep the libraries open.", "responded_on": TODAY} | given
    return run_write(
        engine,
        lambda s: responses.record_response(
            session=s, campaign_id=campaign_id, response=ResponseInput(**values), actor=MONA
        ),
    )


def outcome(engine, campaign_id, value, note=""):
    return run_write(
        engine,
        lambda s: results.set_outcome(session=s, campaign_id=campaign_id, outcome=value, note=note, actor=MONA),
    )


def read(engine, slug, staff=False):
    with read_session(engine) as session:
        return results.read_outcome(session=session, slug=slug, staff=staff)


def audit_actions(engine):
    with read_session(engine) as session:
        rows = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
        return [(e.action, json.loads(e.detail)) for e in rows if e.action.startswith(("response.", "campaign.outc"))]


def test_a_recorded_response_shows_on_the_public_page_newest_first_and_is_audited(engine):
    campaign = make_campaign(engine, slug="libraries")
    mayor = run_write(
        engine,
        lambda s: targets.add_target(
            session=s, campaign_id=campaign.id, region_code=None, name="Jane Doe", title="Mayor", actor=MONA
        ),
    )
    record(engine, campaign.id, text="First answer.", responded_on=TODAY - timedelta(days=3))
    record(
        engine,
        campaign.id,
        text="  Second\nanswer.  ",
        attachment_url="https://city.example/letter.pdf",
        target_id=mayor.id,
    )
    shown = read(engine, "libraries")
    assert [(r.text, r.target, r.attachment_url) for r in shown.responses] == [
        ("Second\nanswer.", "Mayor Jane Doe", "https://city.example/letter.pdf"),
        ("First answer.", "", None),
    ]
    assert [a for a, _ in audit_actions(engine)] == ["response.record", "response.record"]


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"text": "   "}, "text"),
        ({"text": "x" * (responses.TEXT_MAX + 1)}, "text"),
        ({"text": "bad \u202e text"}, "text"),
        ({"responded_on": TODAY + timedelta(days=2)}, "responded_on"),
        ({"attachment_url": "javascript:alert(1)"}, "attachment_url"),
        ({"attachment_url": "JavaScript:alert(1)//https://x"}, "attachment_url"),
        ({"attachment_url": "data:text/html,<b>hi</b>"}, "attachment_url"),
        ({"attachment_url": "file:///etc/passwd"}, "attachment_url"),
        ({"attachment_url": "//evil.example/x"}, "attachment_url"),
        ({"attachment_url": "https://"}, "attachment_url"),
        ({"attachment_url": "https://ok.example/a b"}, "attachment_url"),
        ({"attachment_url": "https://ok.example/" + "a" * responses.URL_MAX}, "attachment_url"),
        ({"target_id": 999_999}, "target_id"),
    ],
)
def test_bad_responses_are_refused_at_their_field_and_store_nothing(engine, given, field):
    campaign = make_campaign(engine)
    with pytest.raises(InvalidInput) as caught:
        record(engine, campaign.id, **given)
    assert field in caught.value.errors
    assert read(engine, campaign.slug).responses == ()


def test_another_campaigns_target_is_refused(engine):
    mine, other = make_campaign(engine), make_campaign(engine)
    theirs = run_write(
        engine,
        lambda s: targets.add_target(session=s, campaign_id=other.id, region_code=None, name="Other", actor=MONA),
    )
    with pytest.raises(InvalidInput) as caught:
        record(engine, mine.id, target_id=theirs.id)
    assert "not this campaign's" in caught.value.errors["target_id"]


def test_a_response_is_edited_checked_again_and_deleted(engine):
    campaign = make_campaign(engine)
    row = record(engine, campaign.id)
    edited = ResponseInput(text="Corrected.", responded_on=TODAY - timedelta(days=1), attachment_url="http://a.example")
    run_write(engine, lambda s: responses.edit_response(session=s, response_id=row.id, response=edited, actor=MONA))
    [shown] = read(engine, campaign.slug).responses
    assert (shown.text, shown.responded_on, shown.attachment_url) == (
        "Corrected.",
        edited.responded_on,
        edited.attachment_url,
    )
    with pytest.raises(InvalidInput):
        bad = ResponseInput(text="Corrected.", responded_on=TODAY, attachment_url="javascript:void(0)")
        run_write(engine, lambda s: responses.edit_response(session=s, response_id=row.id, response=bad, actor=MONA))
    run_write(engine, lambda s: responses.delete_response(session=s, response_id=row.id, actor=MONA))
    assert read(engine, campaign.slug).responses == ()
    with pytest.raises(NotFound):
        run_write(engine, lambda s: responses.delete_response(session=s, response_id=row.id, actor=MONA))
    actions = audit_actions(engine)
    assert [a for a, _ in actions] == ["response.record", "response.edit", "response.delete"]
    assert actions[1][1]["fields"] == ["text", "responded_on", "attachment_url"]


def test_the_outcome_is_set_audited_and_ongoing_clears_it(engine):
    campaign = make_campaign(engine)
    assert read(engine, campaign.slug).outcome == "ongoing"
    saved = outcome(engine, campaign.id, "won", "The council voted 7 to 2.")
    assert (saved.outcome, saved.outcome_note) == ("won", "The council voted 7 to 2.") and saved.outcome_at
    first_at = saved.outcome_at
    again = outcome(engine, campaign.id, "won", "The council voted 7 to 2 on Monday.")
    assert again.outcome_at == first_at  # the same outcome keeps its date
    shown = read(engine, campaign.slug)
    assert shown.is_victory and shown.note == "The council voted 7 to 2 on Monday."
    cleared = outcome(engine, campaign.id, "ongoing")
    assert (cleared.outcome, cleared.outcome_at, cleared.outcome_note) == (None, None, None)
    assert [d["outcome"] for a, d in audit_actions(engine)] == ["won", "won", "ongoing"]


@pytest.mark.parametrize("value", ["victory", "", "WON", "partly won"])
def test_an_unknown_outcome_is_refused(engine, value):
    campaign = make_campaign(engine)
    with pytest.raises(InvalidInput) as caught:
        outcome(engine, campaign.id, value)
    assert caught.value.errors == {"outcome": "Choose won, partly won, lost or ongoing."}


def test_a_bad_note_or_campaign_is_refused(engine):
    campaign = make_campaign(engine)
    with pytest.raises(InvalidInput) as caught:
        outcome(engine, campaign.id, "lost", "x" * (results.NOTE_MAX + 1))
    assert "note" in caught.value.errors
    with pytest.raises(CampaignNotFound):
        outcome(engine, 999_999, "won")


def test_victories_list_public_won_and_partly_won_campaigns_newest_first(engine):
    first = make_campaign(engine, slug="first", title="First win")
    partly = make_campaign(engine, slug="partly", title="Half a win")
    lost = make_campaign(engine, slug="lost")
    draft = make_campaign(engine, slug="draft", status="draft")
    archived = make_campaign(engine, slug="archived", status="closed")
    sign_from(engine, "first")
    now = utcnow()
    run_write(
        engine, lambda s: results.set_outcome(session=s, campaign_id=first.id, outcome="won", actor=MONA, now=now)
    )
    run_write(
        engine,
        lambda s: results.set_outcome(
            session=s, campaign_id=partly.id, outcome="partly_won", actor=MONA, now=now + timedelta(minutes=1)
        ),
    )
    for c in (lost, draft, archived):
        outcome(engine, c.id, "lost" if c is lost else "won")
    run_write(engine, lambda s: archive_campaign(session=s, campaign_id=archived.id))
    with read_session(engine) as session:
        wins = results.victories(session=session)
        assert [(v.slug, v.outcome, v.total) for v in wins] == [("partly", "partly_won", 0), ("first", "won", 1)]
        assert [v.slug for v in results.victories(session=session, limit=1)] == ["partly"]


def test_drafts_outcomes_are_not_public_but_the_preview_reads_them(engine):
    make_campaign(engine, slug="secret", status="draft")
    with pytest.raises(CampaignNotFound):
        read(engine, "secret")
    assert read(engine, "secret", staff=True).outcome == "ongoing"


def test_the_response_threshold_follows_the_field_rules_and_shows_progress(engine):
    campaign = make_campaign(engine, slug="answer", goal=100)

    def change(**values):
        return run_write(
            engine,
            lambda s: update_campaign(session=s, campaign_id=campaign.id, changes=CampaignUpdate(**values), actor=MONA),
        )

    for bad in (0, -5, 100_000_001):
        with pytest.raises(InvalidInput) as caught:
            change(response_threshold=bad)
        assert "response_threshold" in caught.value.errors
    assert change(response_threshold=3).response_threshold == 3
    sign_from(engine, "answer")
    shown = read(engine, "answer")
    assert (shown.response_threshold, shown.total, shown.threshold_reached) == (3, 1, False)
    assert (
        results.threshold_text(10_000, 6_210) == "The target is expected to answer at 10,000 signatures: 6,210 so far."
    )
    assert "the answer is due" in results.threshold_text(3, 3)
    assert change(response_threshold=None).response_threshold is None  # removed, as a deadline
    with read_session(engine) as session:
        entries = session.execute(select(AuditEntry.detail).where(AuditEntry.action == "campaign.update")).scalars()
        logged = [json.loads(d)["values"]["response_threshold"] for d in entries]
    assert logged == [{"from": None, "to": 3}, {"from": 3, "to": None}]


def test_the_updates_to_signers_escape_text_and_link_the_document(engine):
    campaign = make_campaign(engine, title="Fund the libraries")
    row = record(engine, campaign.id, text="We **agree** <b>now</b>.", attachment_url="https://city.example/a_(1).pdf")
    with read_session(engine) as session:
        subject, body = responses.response_update(session=session, response_id=row.id)
    assert subject == "Fund the libraries: the target has responded"
    assert r"> We \*\*agree\*\* \<b\>now\</b\>\." in body
    assert "[Read the full response](<https://city.example/a_(1).pdf>)" in body
    outcome(engine, campaign.id, "won", "Open on *Sundays*.")
    with read_session(engine) as session:
        subject, body = results.outcome_update(session=session, campaign_id=campaign.id)
        assert session.get(Campaign, campaign.id).outcome == "won"
    assert subject == "We won: Fund the libraries"
    assert r"Open on \*Sundays\*\." in body


def test_a_response_date_of_today_anywhere_is_accepted(engine):
    campaign = make_campaign(engine)
    tomorrow_somewhere = (utcnow() + timedelta(hours=14)).date()
    assert record(engine, campaign.id, responded_on=tomorrow_somewhere).responded_on == tomorrow_somewhere
    assert isinstance(TODAY, date)
