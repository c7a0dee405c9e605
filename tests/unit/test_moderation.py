"""Comment moderation: review, approve, hide, and what the public sees, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from campaigns.core.audit import Actor
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import NotFound, RallyError
from campaigns.core.models import AuditEntry, Campaign, CustomRegion, CustomRegionScheme, Signature, utcnow
from campaigns.signatures.counts import count_total, rank_regions
from campaigns.signatures.moderation import (
    CommentForReview,
    PublicComment,
    approve_comment,
    hide_comment,
    list_comments_for_review,
    list_public_comments,
)
from campaigns.signatures.signing import sign
from tests.support.factories import make_campaign, signer

MOD = Actor(user_id=None, email="mona@example.org", roles=frozenset({"organizer"}))


def do_sign(engine, slug, now=None, **overrides):
    return run_write(engine, lambda s: sign(session=s, campaign_slug=slug, signer=signer(**overrides), now=now))


def signature_id(engine, email) -> int:
    with read_session(engine) as session:
        return session.execute(select(Signature.id).where(Signature.email == email)).scalar_one()


def approve(engine, sid, actor=MOD):
    return run_write(engine, lambda s: approve_comment(session=s, signature_id=sid, actor=actor))


def hide(engine, sid, actor=MOD):
    return run_write(engine, lambda s: hide_comment(session=s, signature_id=sid, actor=actor))


def review(engine, campaign_id, status="pending", limit=100) -> list[CommentForReview]:
    with read_session(engine) as session:
        return list_comments_for_review(session=session, campaign_id=campaign_id, status=status, limit=limit)


def public(engine, campaign_id, limit=20) -> list[PublicComment]:
    with read_session(engine) as session:
        return list_public_comments(session=session, campaign_id=campaign_id, limit=limit)


def status_of(engine, sid) -> str | None:
    with read_session(engine) as session:
        return session.get(Signature, sid).comment_status


def audit_actions(engine) -> list[tuple[str, str, dict]]:
    with read_session(engine) as session:
        rows = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
        return [(e.action, e.actor, json.loads(e.detail)) for e in rows if e.action.startswith("comment.")]


@pytest.fixture
def campaign(engine):
    return make_campaign(engine)


def test_review_lists_pending_comments_oldest_first_with_first_name_only(engine, campaign):
    start = utcnow() - timedelta(hours=3)
    do_sign(engine, campaign.slug, now=start + timedelta(hours=2), full_name="Zed Later", comment="second")
    do_sign(
        engine,
        campaign.slug,
        now=start,
        full_name="  Grace Brewster Hopper ",
        email="grace@example.org",
        region_code="US-NY",
        comment="first",
    )
    do_sign(engine, campaign.slug, full_name="No Comment")
    items = review(engine, campaign.id)
    assert [c.comment for c in items] == ["first", "second"]
    first = items[0]
    assert (first.first_name, first.region_code, first.region_name, first.status) == (
        "Grace",
        "US-NY",
        "New York",
        "pending",
    )
    assert first.signature_id == signature_id(engine, "grace@example.org")
    assert first.created_at == start
    assert "email" not in {f.name for f in dataclasses.fields(CommentForReview)}
    assert not any("grace@example.org" in str(v) or "Hopper" in str(v) for v in dataclasses.astuple(first))
    assert len(review(engine, campaign.id, limit=1)) == 1


def test_moderation_state_machine(engine, campaign):
    do_sign(engine, campaign.slug, email="a@example.org", comment="Libraries matter")
    sid = signature_id(engine, "a@example.org")
    assert approve(engine, sid).status == "approved" == status_of(engine, sid)
    assert hide(engine, sid).status == "hidden" == status_of(engine, sid)
    assert approve(engine, sid).status == "approved"
    do_sign(engine, campaign.slug, email="b@example.org", comment="Hide me straight away")
    other = signature_id(engine, "b@example.org")
    assert hide(engine, other).status == "hidden"  # pending -> hidden
    assert [c.signature_id for c in review(engine, campaign.id, "hidden")] == [other]
    assert [c.signature_id for c in review(engine, campaign.id, "approved")] == [sid]
    assert review(engine, campaign.id, "pending") == []
    actions = audit_actions(engine)
    assert [(a, actor, d["previous"]) for a, actor, d in actions] == [
        ("comment.approve", "mona@example.org", "pending"),
        ("comment.hide", "mona@example.org", "approved"),
        ("comment.approve", "mona@example.org", "hidden"),
        ("comment.hide", "mona@example.org", "pending"),
    ]
    assert all(d["signature_id"] in (sid, other) for _, _, d in actions)


def test_repeating_the_same_decision_changes_nothing(engine, campaign):
    do_sign(engine, campaign.slug, email="a@example.org", comment="Twice")
    sid = signature_id(engine, "a@example.org")
    approve(engine, sid)
    assert approve(engine, sid).status == "approved"
    assert len(audit_actions(engine)) == 1


def test_signature_without_comment_cannot_be_moderated(engine, campaign):
    do_sign(engine, campaign.slug, email="quiet@example.org")
    sid = signature_id(engine, "quiet@example.org")
    for action in (approve, hide):
        with pytest.raises(RallyError) as info:
            action(engine, sid)
        assert "no comment" in info.value.user_message
    assert status_of(engine, sid) is None and audit_actions(engine) == []


def test_unknown_signature_is_not_found(engine, campaign):
    with pytest.raises(NotFound):
        approve(engine, 999_999)


def test_public_comments_show_only_approved_text_region_and_day(engine, campaign):
    base = utcnow() - timedelta(days=2)
    for i, (email, name, region) in enumerate(
        [("old@example.org", "Olive Old", "US-TX"), ("new@example.org", "Nina New", "US-CA")]
    ):
        do_sign(
            engine,
            campaign.slug,
            now=base + timedelta(days=i),
            email=email,
            full_name=name,
            region_code=region,
            comment=f"Because {i}",
        )
    do_sign(engine, campaign.slug, email="pending@example.org", comment="not yet")
    do_sign(engine, campaign.slug, email="hidden@example.org", comment="rude")
    for email in ("old@example.org", "new@example.org", "hidden@example.org"):
        approve(engine, signature_id(engine, email))
    hide(engine, signature_id(engine, "hidden@example.org"))
    shown = public(engine, campaign.id)
    assert shown == [
        PublicComment(comment="Because 1", region_name="California", created_on=(base + timedelta(days=1)).date()),
        PublicComment(comment="Because 0", region_name="Texas", created_on=base.date()),
    ]
    assert {f.name for f in dataclasses.fields(PublicComment)} == {"comment", "region_name", "created_on"}
    for item in shown:
        values = " ".join(str(v) for v in dataclasses.astuple(item))
        for secret in ("Olive", "Nina", "@example.org", "old@", "new@"):
            assert secret not in values
    assert len(public(engine, campaign.id, limit=1)) == 1


def test_comment_text_stays_literal(engine, campaign):
    do_sign(engine, campaign.slug, email="t@example.org", comment="{{ 7*7 }} <b>bold</b> =SUM(A1)")
    approve(engine, signature_id(engine, "t@example.org"))
    [item] = public(engine, campaign.id)
    assert item.comment == "{{ 7*7 }} <b>bold</b> =SUM(A1)"
    [reviewed] = review(engine, campaign.id, "approved")
    assert reviewed.comment == "{{ 7*7 }} <b>bold</b> =SUM(A1)"


def test_moderation_never_changes_counts(engine, campaign):
    for i in range(3):
        do_sign(engine, campaign.slug, email=f"c{i}@example.org", comment=f"c{i}")
    do_sign(engine, campaign.slug, email="none@example.org")

    def counts():
        with read_session(engine) as session:
            frame = rank_regions(session=session, campaign_id=campaign.id, scheme_id="us-states")
            return count_total(session=session, campaign_id=campaign.id), frame.to_dict("records")

    before = counts()
    approve(engine, signature_id(engine, "c0@example.org"))
    hide(engine, signature_id(engine, "c1@example.org"))
    approve(engine, signature_id(engine, "c2@example.org"))
    hide(engine, signature_id(engine, "c2@example.org"))
    assert counts() == before and before[0] == 4


def test_comments_are_per_campaign(engine, campaign):
    other = make_campaign(engine)
    do_sign(engine, campaign.slug, email="here@example.org", comment="here")
    do_sign(engine, other.slug, email="there@example.org", comment="there")
    approve(engine, signature_id(engine, "there@example.org"))
    assert [c.comment for c in review(engine, campaign.id)] == ["here"]
    assert public(engine, campaign.id) == []
    assert [c.comment for c in public(engine, other.id)] == ["there"]


def test_region_names_come_from_an_uploaded_scheme_too(engine):
    # Custom schemes live in the database; signing them needs the session-aware scheme look-up, so the
    # signature is written directly here.
    campaign = make_campaign(engine)

    def work(session):
        session.add(CustomRegionScheme(id="custom-wards", name="Wards"))
        session.flush()
        session.add(CustomRegion(scheme_id="custom-wards", code="W1", name="Riverside Ward"))
        session.flush()
        session.execute(
            Signature.__table__.update()
            .where(Signature.__table__.c.campaign_id == campaign.id)
            .values(region_code="W1")
        )
        stored = session.get(Campaign, campaign.id)
        stored.region_scheme = "custom-wards"
        session.add(stored)

    do_sign(engine, campaign.slug, email="w@example.org", comment="ward comment")
    run_write(engine, work)
    approve(engine, signature_id(engine, "w@example.org"))
    [item] = public(engine, campaign.id)
    assert item.region_name == "Riverside Ward"
