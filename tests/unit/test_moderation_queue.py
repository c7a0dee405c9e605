"""The moderation queue at scale: filters, pages and bulk decisions, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from campaigns.core.audit import Actor
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import InvalidInput, NotFound, RallyError
from campaigns.core.models import AuditEntry, Signature, utcnow
from campaigns.signatures import moderation
from campaigns.signatures.counts import count_total
from campaigns.signatures.moderation import (
    CommentFilter,
    approve_comments,
    count_comments_by_region,
    count_comments_for_review,
    hide_comments,
    list_comment_page,
    list_public_comments,
)
from campaigns.signatures.signing import sign
from tests.support.factories import make_campaign, signer

MOD = Actor(user_id=None, email="mona@example.org", roles=frozenset({"organizer"}))
START = utcnow() - timedelta(days=2)
TEXTS = [  # (comment, region), signed a minute apart in this order
    ("My library taught me to read", "US-CA"),
    ("ÉCOLE and library, together", "US-NY"),
    ("100% behind this", "US-CA"),
    ("1000 reasons", "US-TX"),
    ("snake_case is fine", "US-NY"),
    ("snakeXcase is not", "US-NY"),
    ("Back\\slash", "US-CA"),
    ("Libraries matter", "US-TX"),
]


def seed(engine, campaign, texts=TEXTS, *, offset=0):
    for i, (comment, region) in enumerate(texts):
        run_write(
            engine,
            lambda s, c=comment, r=region, n=i: sign(
                session=s,
                campaign_slug=campaign.slug,
                signer=signer(comment=c, region_code=r, email=f"{campaign.slug}-{offset + n}@example.org"),
                now=START + timedelta(minutes=offset + n),
            ),
        )


def ids_of(engine, campaign) -> dict[str, int]:
    with read_session(engine) as session:
        rows = session.execute(select(Signature.comment, Signature.id).where(Signature.campaign_id == campaign.id))
        return {comment: sid for comment, sid in rows}


def page(engine, campaign, *, page_no=1, per_page=50, **filters):
    with read_session(engine) as session:
        return list_comment_page(
            session=session, comment_filter=CommentFilter(campaign.id, **filters), page=page_no, per_page=per_page
        )


def count(engine, campaign, **filters) -> int:
    with read_session(engine) as session:
        return count_comments_for_review(session=session, comment_filter=CommentFilter(campaign.id, **filters))


def texts(engine, campaign, **filters) -> list[str]:
    return [c.comment for c in page(engine, campaign, **filters).comments]


def statuses(engine, campaign) -> dict[str, str | None]:
    with read_session(engine) as session:
        rows = session.execute(
            select(Signature.comment, Signature.comment_status).where(Signature.campaign_id == campaign.id)
        )
        return dict(rows.all())


def audit_rows(engine) -> list[tuple[str, int | None, dict]]:
    with read_session(engine) as session:
        entries = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
        return [(e.action, e.campaign_id, json.loads(e.detail)) for e in entries if e.action.startswith("comment.")]


def decide(engine, action, campaign, **how):
    return run_write(engine, lambda s: action(session=s, campaign_id=campaign.id, actor=MOD, **how))


@pytest.fixture
def campaign(engine):
    made = make_campaign(engine)
    seed(engine, made)
    return made


def test_words_match_anywhere_in_any_letter_case_and_every_word_must_match(engine, campaign):
    assert texts(engine, campaign, words="LIBR") == [
        "My library taught me to read",
        "ÉCOLE and library, together",
        "Libraries matter",
    ]
    assert texts(engine, campaign, words="école") == ["ÉCOLE and library, together"]  # beyond ASCII, on SQLite too
    assert texts(engine, campaign, words="library  TOGETHER") == ["ÉCOLE and library, together"]
    assert texts(engine, campaign, words="library nothing") == []


def test_like_wildcards_in_the_words_are_literal(engine, campaign):
    assert texts(engine, campaign, words="100%") == ["100% behind this"]  # not "1000 reasons"
    assert texts(engine, campaign, words="e_c") == ["snake_case is fine"]  # not "snakeXcase"
    assert texts(engine, campaign, words="k\\s") == ["Back\\slash"]
    assert texts(engine, campaign, words="%") == ["100% behind this"]


def test_region_and_status_filters(engine, campaign):
    assert texts(engine, campaign, region_code="US-TX") == ["1000 reasons", "Libraries matter"]
    assert texts(engine, campaign, region_code="US-TX", words="libr") == ["Libraries matter"]
    assert count(engine, campaign, region_code="US-NY") == 3
    assert count(engine, campaign, status="approved") == 0
    with read_session(engine) as session:
        assert count_comments_by_region(session=session, campaign_id=campaign.id, status="pending") == [
            ("US-CA", "California", 3),
            ("US-NY", "New York", 3),
            ("US-TX", "Texas", 2),
        ]
        kept = count_comments_by_region(session=session, campaign_id=campaign.id, status="hidden", keep="US-TX")
        assert kept == [("US-TX", "Texas", 0)]  # the region chosen stays on the list, with none
    for wrong in ({"status": "spam"}, {"words": " ".join(f"w{i}" for i in range(11))}, {"words": "x" * 101}):
        with pytest.raises(InvalidInput):
            count(engine, campaign, **wrong)


def test_pages_are_stable_complete_and_counted(engine, campaign):
    first, second, third = (page(engine, campaign, page_no=n, per_page=3) for n in (1, 2, 3))
    assert (first.total, first.pages, first.first, second.first, third.first) == (8, 3, 1, 4, 7)
    seen = [c.comment for p in (first, second, third) for c in p.comments]
    assert seen == [t for t, _ in TEXTS]  # oldest first, each once
    past_the_end = page(engine, campaign, page_no=99, per_page=3)
    assert past_the_end.page == 3 and past_the_end.comments == third.comments
    empty = page(engine, campaign, words="nothing like it")
    assert (empty.total, empty.pages, empty.first, empty.comments) == (0, 1, 0, [])
    with pytest.raises(InvalidInput):
        page(engine, campaign, per_page=0)


def test_approving_the_chosen_moves_exactly_them_and_is_audited_once(engine, campaign):
    ids = ids_of(engine, campaign)
    chosen = [ids["1000 reasons"], ids["Libraries matter"], ids["100% behind this"]]
    outcome = decide(engine, approve_comments, campaign, signature_ids=chosen + chosen[:1])  # a repeat is one
    assert (outcome.status, outcome.chosen, outcome.changed) == ("approved", 3, 3)
    now = statuses(engine, campaign)
    assert {t for t, s in now.items() if s == "approved"} == {"1000 reasons", "Libraries matter", "100% behind this"}
    assert sum(s == "pending" for s in now.values()) == 5
    assert count(engine, campaign) == 5 and count(engine, campaign, status="approved") == 3
    [(action, campaign_id, detail)] = audit_rows(engine)
    assert (action, campaign_id) == ("comment.approve", campaign.id)
    assert detail == {"changed": 3, "signature_ids": sorted(chosen)}
    again = decide(engine, approve_comments, campaign, signature_ids=chosen)  # a double click
    assert (again.chosen, again.changed) == (3, 0) and len(audit_rows(engine)) == 1
    hidden = decide(
        engine, hide_comments, campaign, signature_ids=[ids["1000 reasons"], ids["My library taught me to read"]]
    )
    assert hidden.changed == 2
    assert statuses(engine, campaign)["1000 reasons"] == statuses(engine, campaign)["My library taught me to read"]
    assert statuses(engine, campaign)["1000 reasons"] == "hidden"
    assert [a for a, _, _ in audit_rows(engine)] == ["comment.approve", "comment.hide"]


def test_another_campaigns_ids_or_signatures_without_a_comment_are_refused_and_nothing_changes(engine, campaign):
    other = make_campaign(engine)
    seed(engine, other, [("Theirs", "US-CA")], offset=100)
    run_write(engine, lambda s: sign(session=s, campaign_slug=campaign.slug, signer=signer(email="quiet@example.org")))
    ids, theirs = ids_of(engine, campaign), ids_of(engine, other)
    before = statuses(engine, campaign), statuses(engine, other)
    for foreign in ([ids["1000 reasons"], theirs["Theirs"]], [ids["1000 reasons"], ids[None]], [999_999]):
        for action in (approve_comments, hide_comments):
            with pytest.raises(NotFound) as refused:
                decide(engine, action, campaign, signature_ids=foreign)
            assert "not this campaign's" in refused.value.user_message
    assert (statuses(engine, campaign), statuses(engine, other)) == before and audit_rows(engine) == []
    with pytest.raises(InvalidInput):
        decide(engine, approve_comments, campaign, signature_ids=[])
    with pytest.raises(InvalidInput):  # neither the chosen nor a filter
        decide(engine, approve_comments, campaign)


def test_approving_everything_matching_needs_the_count_confirmed(engine, campaign):
    other = make_campaign(engine)
    seed(engine, other, [("Library elsewhere", "US-CA")], offset=100)
    libraries = CommentFilter(campaign.id, words="libr")
    with pytest.raises(RallyError) as stale:
        decide(engine, approve_comments, campaign, matching=libraries, expected=2)
    assert "3 comments match now, not 2" in stale.value.user_message
    assert count(engine, campaign, status="approved") == 0 and audit_rows(engine) == []  # the UPDATE was undone
    outcome = decide(engine, approve_comments, campaign, matching=libraries, expected=3)
    assert (outcome.chosen, outcome.changed) == (3, 3)
    assert texts(engine, campaign, status="approved") == [
        "My library taught me to read",
        "ÉCOLE and library, together",
        "Libraries matter",
    ]
    assert statuses(engine, other) == {"Library elsewhere": "pending"}
    [(action, campaign_id, detail)] = audit_rows(engine)
    assert (action, campaign_id, detail["matched"], detail["changed"]) == ("comment.approve", campaign.id, 3, 3)
    assert detail["filter"] == {"status": "pending", "words": "libr", "region_code": None}
    rest = decide(engine, hide_comments, campaign, matching=CommentFilter(campaign.id), expected=5)
    assert rest.changed == 5 and count(engine, campaign) == 0 and count(engine, campaign, status="hidden") == 5
    with pytest.raises(InvalidInput):  # a filter of another campaign
        decide(engine, hide_comments, campaign, matching=CommentFilter(other.id), expected=1)
    with pytest.raises(InvalidInput):  # no count confirmed
        decide(engine, hide_comments, campaign, matching=CommentFilter(campaign.id, status="approved"))
    same = decide(engine, approve_comments, campaign, matching=CommentFilter(campaign.id, "approved"), expected=3)
    assert (same.chosen, same.changed) == (3, 0) and len(audit_rows(engine)) == 2


def test_the_public_sees_what_was_approved_in_bulk_and_counts_never_move(engine, campaign):
    with read_session(engine) as session:
        total = count_total(session=session, campaign_id=campaign.id)
    decide(engine, approve_comments, campaign, matching=CommentFilter(campaign.id, region_code="US-TX"), expected=2)
    with read_session(engine) as session:
        shown = list_public_comments(session=session, campaign_id=campaign.id)
        assert count_total(session=session, campaign_id=campaign.id) == total == len(TEXTS)
    assert [(c.comment, c.region_name) for c in shown] == [("Libraries matter", "Texas"), ("1000 reasons", "Texas")]
    ids = ids_of(engine, campaign)
    decide(engine, hide_comments, campaign, signature_ids=[ids["Libraries matter"]])
    with read_session(engine) as session:
        assert [c.comment for c in list_public_comments(session=session, campaign_id=campaign.id)] == ["1000 reasons"]


def test_the_queue_reads_its_index_and_leaves_room_for_in_page_updates(engine, campaign):
    """The query plan of a page uses the queue's index; on PostgreSQL the table keeps room in its pages, and
    approving touches no index, so bulk decisions are HOT updates (see migration 0006)."""
    with read_session(engine) as session:
        where = "campaign_id = :c AND comment_status = 'pending' AND comment IS NOT NULL"
        query = f"SELECT id FROM signature WHERE {where} ORDER BY created_at, id LIMIT 50"
        if engine.dialect.name == "sqlite":  # the service's own statement, as it runs
            statement = moderation.page_statement(
                moderation.filter_conditions(session, CommentFilter(campaign.id)), offset=0, limit=50
            )
            compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
            plan = " ".join(str(r[-1]) for r in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
            # SQLite has no statistics here: it takes the queue's index or (campaign_id, created_at), both a search
            # in the page's order (no sort, no scan of other campaigns); PostgreSQL's choice is checked below
            assert moderation.QUEUE_INDEX in plan or "ix_signature_campaign_created" in plan, plan
            assert "SCAN" not in plan and "TEMP B-TREE" not in plan, plan
            assert moderation.list_comment_page(session=session, comment_filter=CommentFilter(campaign.id)).total
            return
        session.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table: make the planner show its choice
        plan = " ".join(r[0] for r in session.execute(text(f"EXPLAIN {query}"), {"c": campaign.id}))
        assert moderation.QUEUE_INDEX in plan
        options = session.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'signature'")).scalar_one()
        assert "fillfactor=90" in options

    def approve_and_read_hot_updates(session):
        approve_comments(
            session=session, campaign_id=campaign.id, actor=MOD, matching=CommentFilter(campaign.id), expected=8
        )
        stats = "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'signature'"
        return tuple(session.execute(text(stats)).one())  # this transaction's own figures

    assert run_write(engine, approve_and_read_hot_updates) == (8, 8)  # every row rewritten in its page
