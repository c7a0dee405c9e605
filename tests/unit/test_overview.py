"""The organizers' overview and milestones: numbers equal brute-force counts, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from campaigns.catalog.lifecycle import archive_campaign
from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.core.models import Signature, utcnow
from campaigns.dashboard.live import read_dashboard
from campaigns.dashboard.overview import MILESTONES, milestone_reached, read_overview
from campaigns.signatures.counts import hour_of
from campaigns.signatures.moderation import approve_comment
from campaigns.signatures.signing import sign
from tests.support.factories import future, make_campaign, signer


def do_sign(engine, slug, now=None, **overrides):
    return run_write(engine, lambda s: sign(session=s, campaign_slug=slug, signer=signer(**overrides), now=now))


def overview(engine, now=None):
    with read_session(engine) as session:
        return {row.slug: row for row in read_overview(session=session, now=now)}


@pytest.mark.parametrize(
    ("total", "goal", "expected"),
    [
        (0, 100, None),
        (24, 100, None),
        (25, 100, 25),
        (49, 100, 25),
        (50, 100, 50),
        (74, 100, 50),
        (75, 100, 75),
        (99, 100, 75),
        (100, 100, 100),
        (150, 100, 100),
        (3, 12, 25),  # exactly a quarter, no rounding trouble
        (2, 12, None),
        (1, 0, None),
    ],
)
def test_milestone_reached(total, goal, expected):
    assert milestone_reached(total, goal) == expected
    assert MILESTONES == (25, 50, 75, 100)


def test_overview_numbers_equal_brute_force_counts(engine):
    now = hour_of(utcnow()) - timedelta(minutes=30)  # half past an hour
    since = hour_of(now) - timedelta(hours=23)  # the last 24 hours: this hour and the 23 whole hours before it
    busy = make_campaign(engine, slug="busy", goal=8)
    quiet = make_campaign(engine, slug="quiet", goal=4)
    draft = make_campaign(engine, slug="draft-one", status="draft")
    gone = make_campaign(engine, slug="gone", status="closed")
    run_write(engine, lambda s: archive_campaign(session=s, campaign_id=gone.id))
    # busy: 2 a few days ago, 1 just outside the window, 3 inside it (one at its very first instant)
    for when in (now - timedelta(days=3), now - timedelta(days=2), since - timedelta(seconds=1)):
        do_sign(engine, "busy", now=when, comment="old reason")
    for when in (since, now - timedelta(hours=2), now - timedelta(minutes=1)):
        do_sign(engine, "busy", now=when)
    do_sign(engine, "busy", now=now - timedelta(minutes=1), email="twice@example.org", comment="why")
    do_sign(engine, "busy", now=now - timedelta(minutes=1), email="Twice@example.org")  # not counted again
    do_sign(engine, "quiet", now=now - timedelta(days=5), email="q@example.org", comment="quiet reason")
    with read_session(engine) as session:
        approved = session.execute(select(Signature.id).where(Signature.email == "q@example.org")).scalar_one()
    run_write(engine, lambda s: approve_comment(session=s, signature_id=approved, actor=CLI))

    rows = overview(engine, now=now)
    assert set(rows) == {"busy", "quiet", "draft-one"}  # archived left out, drafts in

    with read_session(engine) as session:
        for slug, campaign in (("busy", busy), ("quiet", quiet), ("draft-one", draft)):
            base = select(func.count()).select_from(Signature).where(Signature.campaign_id == campaign.id)
            total = session.execute(base).scalar_one()
            recent = session.execute(base.where(Signature.created_at >= since)).scalar_one()
            pending = session.execute(base.where(Signature.comment_status == "pending")).scalar_one()
            row = rows[slug]
            assert (row.total, row.last_24h, row.pending_comments) == (total, recent, pending), slug
            assert row.goal == campaign.goal and row.title == campaign.title
            assert row.progress == min(1.0, total / campaign.goal)
            assert row.milestone == milestone_reached(total, campaign.goal)
            dashboard = read_dashboard(session=session, slug=slug, staff=True, now=now)
            assert row.last_24h == dashboard.last_24h, slug  # the overview and the dashboard agree

    assert (rows["busy"].total, rows["busy"].last_24h, rows["busy"].pending_comments) == (7, 4, 4)
    assert (rows["busy"].milestone, rows["busy"].progress) == (75, 7 / 8)
    assert (rows["quiet"].total, rows["quiet"].last_24h, rows["quiet"].pending_comments) == (1, 0, 0)
    assert rows["quiet"].milestone == 25
    assert (rows["draft-one"].total, rows["draft-one"].milestone, rows["draft-one"].status) == (0, None, "draft")


def test_signatures_after_now_are_not_in_the_window(engine):
    now = utcnow() - timedelta(days=1)
    make_campaign(engine, slug="c")
    do_sign(engine, "c", now=now - timedelta(hours=1))
    do_sign(engine, "c")  # a day after the "now" asked about
    assert overview(engine, now=now)["c"].last_24h == 1


def test_effective_status_shows_closed_past_the_deadline(engine):
    make_campaign(engine, slug="open", deadline=future(days=2))
    make_campaign(engine, slug="closed-one", status="closed")
    assert overview(engine)["open"].status == "published"
    later = overview(engine, now=future(days=3))
    assert later["open"].status == "closed" and later["closed-one"].status == "closed"
    assert later["open"].deadline is not None


def test_progress_is_capped_but_milestone_shows_beyond_goal(engine):
    make_campaign(engine, slug="small", goal=2)
    for _ in range(3):
        do_sign(engine, "small")
    row = overview(engine)["small"]
    assert (row.total, row.progress, row.milestone) == (3, 1.0, 100)


def test_overview_order_is_newest_first_and_empty_is_fine(engine):
    assert overview(engine) == {}
    make_campaign(engine, slug="older")
    make_campaign(engine, slug="newer", status="draft")
    with read_session(engine) as session:
        assert [r.slug for r in read_overview(session=session)] == ["newer", "older"]


def test_overview_uses_a_fixed_number_of_queries(engine):
    def count_queries(n_campaigns):
        for _ in range(n_campaigns):
            c = make_campaign(engine)
            do_sign(engine, c.slug, comment="hi")
        statements = []

        def before(conn, cursor, statement, *args):
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", before)
        try:
            with read_session(engine) as session:
                rows = read_overview(session=session)
        finally:
            event.remove(engine, "before_cursor_execute", before)
        return len(rows), len(statements)

    few = count_queries(2)
    many = count_queries(8)
    assert (few[0], many[0]) == (2, 10)
    assert few[1] == many[1] <= 4
