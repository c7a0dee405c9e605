"""The campaign page's wall of comments: paging by keyset, the credit rule, featuring, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from campaigns.core.audit import Actor
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import InvalidInput, NotFound, RallyError
from campaigns.core.models import AuditEntry, Signature, utcnow
from campaigns.people import supporter_data
from campaigns.signatures import moderation, wall
from campaigns.signatures.signing import sign
from tests.support.factories import make_campaign, signer

MONA = Actor(user_id=None, email="mona@example.org", roles=frozenset({"organizer"}))
START = utcnow() - timedelta(days=1)


def seed(engine, slug, n, *, at=0, approve=True, **overrides) -> list[int]:
    ids = []
    for i in range(n):
        result = run_write(
            engine,
            lambda s, i=i: sign(
                session=s,
                campaign_slug=slug,
                signer=signer(comment=f"Reason {at + i}", email=f"{slug}-{at + i}@example.org", **overrides),
                now=START + timedelta(seconds=at + i),
            ),
        )
        ids.append(result.signature_id)
    if approve:
        campaign_id = campaign_of(engine, ids[0])
        run_write(
            engine,
            lambda s: moderation.approve_comments(session=s, campaign_id=campaign_id, actor=MONA, signature_ids=ids),
        )
    return ids


def campaign_of(engine, signature_id):
    with read_session(engine) as session:
        return session.get(Signature, signature_id).campaign_id


def page(engine, campaign_id, older_than=None, per_page=wall.PER_PAGE):
    with read_session(engine) as session:
        return wall.read_wall(session=session, campaign_id=campaign_id, older_than=older_than, per_page=per_page)


def feature(engine, signature_id):
    return run_write(engine, lambda s: wall.feature_comment(session=s, signature_id=signature_id, actor=MONA))


def unfeature(engine, signature_id):
    return run_write(engine, lambda s: wall.unfeature_comment(session=s, signature_id=signature_id, actor=MONA))


@pytest.fixture
def campaign(engine):
    return make_campaign(engine, slug="libraries")


def test_the_wall_pages_newest_first_without_gaps_or_repeats(engine, campaign):
    seed(engine, "libraries", 23)
    seed(engine, "libraries", 2, at=100, approve=False)  # pending: never on the wall
    seen, cursor, pages = [], None, 0
    while True:
        shown = page(engine, campaign.id, cursor)
        seen += [c.comment for c in shown.comments]
        pages += 1
        if shown.older is None:
            break
        cursor = shown.older
    assert pages == 3
    assert seen == [f"Reason {i}" for i in range(22, -1, -1)]


def test_comments_written_in_the_same_instant_page_by_id(engine, campaign):
    now = START
    for i in range(5):
        run_write(
            engine,
            lambda s, i=i: sign(
                session=s,
                campaign_slug="libraries",
                signer=signer(comment=f"Same {i}", email=f"same{i}@example.org"),
                now=now,
            ),
        )
    run_write(
        engine,
        lambda s: moderation.approve_comments(
            session=s,
            campaign_id=campaign.id,
            actor=MONA,
            matching=moderation.CommentFilter(campaign.id),
            expected=5,
        ),
    )
    first = page(engine, campaign.id, per_page=2)
    second = page(engine, campaign.id, first.older, per_page=2)
    third = page(engine, campaign.id, second.older, per_page=2)
    texts = [c.comment for p in (first, second, third) for c in p.comments]
    assert texts == [f"Same {i}" for i in range(4, -1, -1)] and third.older is None


def test_a_name_and_region_show_only_when_the_signer_agreed(engine, campaign):
    seed(engine, "libraries", 1, full_name="Ada Lovelace", region_code="US-CA", comment_credit=True)
    seed(engine, "libraries", 1, at=1, full_name="Grace Hopper", region_code="US-NY")
    shown = page(engine, campaign.id)
    named, anonymous = shown.comments[1], shown.comments[0]
    assert (named.first_name, named.region_name, named.credit) == ("Ada", "California", "Ada · California")
    assert (anonymous.first_name, anonymous.region_name, anonymous.credit) == (None, None, "")


def test_a_featured_comment_never_shows_a_name_the_signer_did_not_agree_to(engine, campaign):
    [sid] = seed(engine, "libraries", 1, full_name="Grace Hopper")
    feature(engine, sid)
    [featured] = page(engine, campaign.id).featured
    assert featured.featured and featured.credit == "" and featured.first_name is None


def test_credit_without_a_comment_is_not_stored(engine, campaign):
    result = run_write(
        engine,
        lambda s: sign(session=s, campaign_slug="libraries", signer=signer(comment="  ", comment_credit=True)),
    )
    with read_session(engine) as session:
        assert session.get(Signature, result.signature_id).comment_credit is False


def test_featured_comments_come_first_once_and_at_most_three(engine, campaign):
    ids = seed(engine, "libraries", 15)
    for sid in ids[:3]:
        feature(engine, sid)
    feature(engine, ids[0])  # again: nothing changes
    with pytest.raises(RallyError, match="already features 3"):
        feature(engine, ids[3])
    first = page(engine, campaign.id)
    assert [c.comment for c in first.featured] == ["Reason 2", "Reason 1", "Reason 0"]
    assert all(c.featured for c in first.featured)
    rest = [c.comment for c in first.comments] + [c.comment for c in page(engine, campaign.id, first.older).comments]
    assert len(first.comments) == wall.PER_PAGE and first.older is not None
    assert rest == [f"Reason {i}" for i in range(14, 2, -1)]  # the featured ones are on no other page
    assert page(engine, campaign.id, first.older).featured == []
    unfeature(engine, ids[1])
    feature(engine, ids[3])
    assert [c.comment for c in page(engine, campaign.id).featured] == ["Reason 3", "Reason 2", "Reason 0"]
    with read_session(engine) as session:
        actions = [
            (e.action, json.loads(e.detail)["signature_id"])
            for e in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
            if e.action in ("comment.feature", "comment.unfeature")
        ]
    assert actions == [("comment.feature", i) for i in ids[:3]] + [
        ("comment.unfeature", ids[1]),
        ("comment.feature", ids[3]),
    ]


def test_only_approved_comments_can_be_featured_and_a_hidden_one_leaves_the_wall(engine, campaign):
    [pending] = seed(engine, "libraries", 1, approve=False)
    with pytest.raises(RallyError, match="Only approved comments"):
        feature(engine, pending)
    [sid] = seed(engine, "libraries", 1, at=1)
    feature(engine, sid)
    run_write(engine, lambda s: moderation.hide_comment(session=s, signature_id=sid, actor=MONA))
    shown = page(engine, campaign.id)
    assert shown.featured == [] and shown.comments == []
    with read_session(engine) as session:
        assert wall.count_featured(session=session, campaign_id=campaign.id) == 0
    with pytest.raises(NotFound):
        feature(engine, 999_999)


def test_withdrawn_signatures_leave_the_wall(engine, campaign):
    [sid] = seed(engine, "libraries", 1, comment_credit=True)
    with read_session(engine) as session:
        email = session.get(Signature, sid).email_canonical
    run_write(engine, lambda s: supporter_data.withdraw_signature(session=s, email_canonical=email, signature_id=sid))
    assert page(engine, campaign.id).comments == []


def test_the_page_size_is_bounded_and_an_unknown_campaign_is_not_found(engine, campaign):
    with pytest.raises(InvalidInput):
        page(engine, campaign.id, per_page=0)
    with pytest.raises(NotFound):
        page(engine, 999_999)


@pytest.mark.postgres
def test_the_wall_reads_the_comment_index_on_postgres(engine, campaign):
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plan")
    seed(engine, "libraries", 3)
    with engine.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                text(
                    "EXPLAIN SELECT id FROM signature WHERE campaign_id = :c AND comment IS NOT NULL "
                    "AND comment_status = 'approved' AND status = 'counted' AND (created_at, id) < (now(), 0) "
                    "ORDER BY created_at DESC, id DESC LIMIT 11"
                ),
                {"c": campaign.id},
            )
        )
    assert "ix_signature_comment_queue" in plan
    cond = next(line for line in plan.splitlines() if "Index Cond" in line)
    assert "created_at" in cond and "id" in cond, plan  # the page's bound is in the index condition, not a filter
