"""A new campaign's checklist: each step's state read from what is stored, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from campaigns.catalog import checklist
from campaigns.catalog.lifecycle import publish_campaign, set_letter, update_campaign
from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import CampaignNotFound
from campaigns.core.models import AuditEntry, CampaignUpdate, utcnow
from campaigns.letters.targets import add_target
from tests.support.factories import make_campaign


def states(engine, campaign_id) -> dict[str, bool]:
    with read_session(engine) as session:
        found = checklist.read_checklist(session=session, campaign_id=campaign_id)
    return {step.key: step.done for step in found.steps}


def details(engine, campaign_id) -> dict[str, str]:
    with read_session(engine) as session:
        return {s.key: s.detail for s in checklist.read_checklist(session=session, campaign_id=campaign_id).steps}


def test_a_new_draft_has_only_its_details_done(engine):
    draft = make_campaign(engine, status="draft")
    assert states(engine, draft.id) == {
        "details": True,
        "targets": False,
        "letter": False,
        "preview": False,
        "publish": False,
    }
    with read_session(engine) as session:
        found = checklist.read_checklist(session=session, campaign_id=draft.id)
    assert found.done == 1 and not found.complete
    assert [s.key for s in found.steps if s.optional] == ["targets", "letter"]  # a petition needs no letter


def test_each_step_is_done_once_it_is_stored(engine):
    draft = make_campaign(engine, status="draft")
    run_write(
        engine,
        lambda s: add_target(session=s, campaign_id=draft.id, region_code=None, name="Mayor Lee", actor=CLI),
    )
    assert states(engine, draft.id)["targets"] and details(engine, draft.id)["targets"] == "1 target to write to."
    run_write(
        engine,
        lambda s: set_letter(
            session=s, campaign_id=draft.id, subject="Open the libraries", template="Dear {{ target.name }},", actor=CLI
        ),
    )
    assert states(engine, draft.id)["letter"]
    run_write(engine, lambda s: checklist.mark_previewed(session=s, campaign_id=draft.id, actor=CLI))
    assert states(engine, draft.id)["preview"]
    with read_session(engine) as session:
        assert checklist.read_checklist(session=session, campaign_id=draft.id).complete is False  # not published
    run_write(engine, lambda s: publish_campaign(session=s, campaign_id=draft.id, actor=CLI))
    assert all(states(engine, draft.id).values())
    with read_session(engine) as session:
        assert checklist.read_checklist(session=session, campaign_id=draft.id).complete


def test_an_edit_after_the_preview_asks_for_another_look(engine):
    draft = make_campaign(engine, status="draft")
    earlier = utcnow() - timedelta(minutes=5)
    run_write(engine, lambda s: checklist.mark_previewed(session=s, campaign_id=draft.id, actor=CLI, now=earlier))
    assert not states(engine, draft.id)["preview"]  # the draft was created after that
    run_write(engine, lambda s: checklist.mark_previewed(session=s, campaign_id=draft.id, actor=CLI))
    assert states(engine, draft.id)["preview"]
    run_write(
        engine,
        lambda s: update_campaign(
            session=s,
            campaign_id=draft.id,
            changes=CampaignUpdate(purpose="Keep every branch open on Sundays too."),
            actor=CLI,
            now=utcnow() + timedelta(seconds=1),
        ),
    )
    assert not states(engine, draft.id)["preview"]
    assert "Changed since you last checked it" in details(engine, draft.id)["preview"]


def test_marking_the_preview_is_in_the_audit_log(engine):
    draft = make_campaign(engine, status="draft")
    run_write(engine, lambda s: checklist.mark_previewed(session=s, campaign_id=draft.id, actor=CLI))
    with read_session(engine) as session:
        actions = session.execute(select(AuditEntry.action).where(AuditEntry.campaign_id == draft.id)).scalars().all()
    assert checklist.PREVIEWED in actions


def test_another_campaigns_steps_do_not_count(engine):
    draft = make_campaign(engine, status="draft")
    other = make_campaign(engine, status="draft")
    run_write(engine, lambda s: add_target(session=s, campaign_id=other.id, region_code=None, name="Ms Ng", actor=CLI))
    run_write(engine, lambda s: checklist.mark_previewed(session=s, campaign_id=other.id, actor=CLI))
    steps = ("details", "targets", "letter", "preview", "publish")
    assert states(engine, draft.id) == {k: k == "details" for k in steps}


def test_an_unknown_campaign_is_refused(engine):
    with read_session(engine) as session, pytest.raises(CampaignNotFound):
        checklist.read_checklist(session=session, campaign_id=987654)
    with pytest.raises(CampaignNotFound):
        run_write(engine, lambda s: checklist.mark_previewed(session=s, campaign_id=987654, actor=CLI))
