"""Campaign lifecycle: slugs, edits, status changes and their audit entries, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from campaigns.catalog.lifecycle import (
    InvalidTransition,
    archive_campaign,
    close_campaign,
    list_campaigns_for_staff,
    publish_campaign,
    reopen_campaign,
    suggest_slug,
    update_campaign,
)
from campaigns.catalog.listing import (
    SLUG_RE,
    consent_hash,
    create_campaign,
    get_campaign_page,
    get_consent_text,
    get_public_campaign,
    goal_share,
    is_public,
    list_public_campaigns,
    public_campaigns,
)
from campaigns.core.audit import CLI, Actor
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import CampaignNotFound, InvalidInput
from campaigns.core.models import AuditEntry, Campaign, CampaignCreate, CampaignUpdate, ConsentWording, Signature, User
from campaigns.signatures.signing import sign
from tests.support.factories import future, make_campaign, past, signer


@pytest.fixture
def organizer(engine) -> Actor:
    def work(session):
        user = User(email="olga@example.org", display_name="Olga", password_hash="x")
        session.add(user)
        session.flush()
        return Actor(user_id=user.id, email=user.email, roles=frozenset({"organizer"}))

    return run_write(engine, work)


def do_sign(engine, slug, **overrides):
    return run_write(engine, lambda s: sign(session=s, campaign_slug=slug, signer=signer(**overrides)))


def load(engine, campaign_id) -> Campaign:
    with read_session(engine) as session:
        return session.get(Campaign, campaign_id)


def audit_entries(engine, campaign_id=None) -> list[AuditEntry]:
    with read_session(engine) as session:
        stmt = select(AuditEntry).order_by(AuditEntry.id)
        if campaign_id is not None:
            stmt = stmt.where(AuditEntry.campaign_id == campaign_id)
        return list(session.execute(stmt).scalars())


def new_campaign(engine, actor, slug="fund-libraries", **overrides):
    values = {
        "slug": slug,
        "title": "Fund the libraries",
        "purpose": "Keep branches open on weekends.",
        "goal": 100,
        "region_scheme": "us-states",
    }
    values.update(overrides)
    return run_write(
        engine, lambda s: create_campaign(session=s, campaign_create=CampaignCreate(**values), actor=actor)
    )


def transition(engine, func, campaign_id, actor, now=None):
    return run_write(engine, lambda s: func(session=s, campaign_id=campaign_id, actor=actor, now=now))


def update(engine, campaign_id, actor, now=None, **changes):
    return run_write(
        engine,
        lambda s: update_campaign(
            session=s, campaign_id=campaign_id, changes=CampaignUpdate(**changes), actor=actor, now=now
        ),
    )


# --- slug suggestions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Fund the Libraries!", "fund-the-libraries"),
        ("  Écoles   ouvertes : l'été  ", "ecoles-ouvertes-l-ete"),
        ("Straße für Fußgänger", "strasse-fur-fussganger"),
        ("Save -- the --- whales", "save-the-whales"),
        ("2025: 100% renewable", "2025-100-renewable"),
        ("Ça ira, ça ira", "ca-ira-ca-ira"),
        ("Москва", "campaign"),
        ("!!!", "campaign"),
        ("", "campaign"),
    ],
)
def test_suggested_slug_is_lower_case_ascii_words(engine, title, expected):
    with read_session(engine) as session:
        slug = suggest_slug(session=session, title=title)
    assert slug == expected and SLUG_RE.match(slug)


def test_suggested_slug_is_cut_at_a_word_boundary(engine):
    title = "Protect the river meadows from the new motorway extension before the spring floods arrive"
    with read_session(engine) as session:
        slug = suggest_slug(session=session, title=title)
        single = suggest_slug(session=session, title="x" * 100)
    assert slug == "protect-the-river-meadows-from-the-new-motorway-extension"
    assert len(slug) <= 60 and title.lower().replace(" ", "-").startswith(slug + "-")
    assert single == "x" * 60


def test_suggested_slug_avoids_slugs_in_use(engine):
    make_campaign(engine, slug="fund-the-libraries", status="draft")
    make_campaign(engine, slug="fund-the-libraries-2")
    make_campaign(engine, slug="fund-the-libraries-4", status="closed")
    with read_session(engine) as session:
        assert suggest_slug(session=session, title="Fund the libraries") == "fund-the-libraries-3"
        assert suggest_slug(session=session, title="Fund the") == "fund-the"


def test_suggested_slug_with_suffix_stays_within_sixty_characters(engine):
    title = "Protect the river meadows from the new motorway extension ab cd"
    with read_session(engine) as session:
        first = suggest_slug(session=session, title=title)
    assert first == "protect-the-river-meadows-from-the-new-motorway-extension-ab" and len(first) == 60
    make_campaign(engine, slug=first)
    with read_session(engine) as session:
        second = suggest_slug(session=session, title=title)
    assert second == "protect-the-river-meadows-from-the-new-motorway-extension-2"
    assert len(second) <= 60 and SLUG_RE.match(second)
    make_campaign(engine, slug="x" * 60)
    with read_session(engine) as session:
        assert suggest_slug(session=session, title="x" * 70) == "x" * 58 + "-2"


# --- create ------------------------------------------------------------------------------------


def test_create_with_actor_records_creator_and_audits(engine, organizer):
    campaign = new_campaign(engine, organizer)
    assert load(engine, campaign.id).created_by == organizer.user_id
    [entry] = audit_entries(engine, campaign.id)
    assert (entry.action, entry.actor, entry.user_id) == ("campaign.create", "olga@example.org", organizer.user_id)
    assert json.loads(entry.detail) == {"slug": "fund-libraries"}


def test_create_without_actor_still_works_and_is_logged_as_cli(engine):
    campaign = make_campaign(engine, status="draft")
    assert load(engine, campaign.id).created_by is None
    [entry] = audit_entries(engine, campaign.id)
    assert (entry.action, entry.actor, entry.user_id) == ("campaign.create", "cli", None)


# --- updates -----------------------------------------------------------------------------------


def test_update_changes_fields_and_audits_names_not_long_texts(engine, organizer):
    campaign = new_campaign(engine, organizer)
    new_deadline = future(days=10)
    updated = update(
        engine,
        campaign.id,
        organizer,
        title="  Fund every library ",
        body="A long secret-ish body text",
        goal=500,
        deadline=new_deadline,
        slug="fund-every-library",
    )
    stored = load(engine, campaign.id)
    assert (stored.title, stored.body, stored.goal, stored.deadline, stored.slug) == (
        "Fund every library",
        "A long secret-ish body text",
        500,
        new_deadline,
        "fund-every-library",
    )
    assert updated.updated_at >= stored.created_at
    entry = audit_entries(engine, campaign.id)[-1]
    assert (entry.action, entry.actor) == ("campaign.update", "olga@example.org")
    detail = json.loads(entry.detail)
    assert sorted(detail["fields"]) == ["body", "deadline", "goal", "slug", "title"]
    assert detail["values"]["goal"] == {"from": 100, "to": 500}
    assert detail["values"]["slug"] == {"from": "fund-libraries", "to": "fund-every-library"}
    assert "secret-ish" not in entry.detail


def test_update_with_nothing_changed_writes_nothing(engine, organizer):
    campaign = new_campaign(engine, organizer)
    update(engine, campaign.id, organizer, title="Fund the libraries ", goal=100)
    assert [e.action for e in audit_entries(engine, campaign.id)] == ["campaign.create"]


def test_update_can_remove_the_deadline(engine, organizer):
    campaign = new_campaign(engine, organizer, deadline=future())
    update(engine, campaign.id, organizer, deadline=None)
    assert load(engine, campaign.id).deadline is None


def test_slug_is_frozen_once_published_even_after_closing(engine, organizer):
    campaign = make_campaign(engine, slug="frozen-link", status="closed")
    with pytest.raises(InvalidInput) as info:
        update(engine, campaign.id, organizer, slug="new-link")
    assert info.value.errors["slug"].startswith("A published campaign's link never changes")
    with pytest.raises(InvalidInput) as info:
        update(engine, campaign.id, organizer, slug="Not A Slug")
    assert info.value.errors["slug"].startswith("A published campaign's link never changes")
    assert load(engine, campaign.id).slug == "frozen-link"


def test_slug_of_a_draft_can_change_but_not_to_one_in_use(engine, organizer):
    make_campaign(engine, slug="taken")
    draft = make_campaign(engine, slug="draft-link", status="draft")
    with pytest.raises(InvalidInput) as info:
        update(engine, draft.id, organizer, slug="taken")
    assert "already used" in info.value.errors["slug"]
    with pytest.raises(InvalidInput) as info:
        update(engine, draft.id, organizer, slug="Not A Slug")
    assert "lower-case" in info.value.errors["slug"]
    update(engine, draft.id, organizer, slug="better-link")
    assert load(engine, draft.id).slug == "better-link"


def test_region_scheme_is_frozen_once_anyone_signed(engine, organizer):
    campaign = make_campaign(engine)
    update(engine, campaign.id, organizer, region_scheme="world-countries")  # nobody signed yet
    update(engine, campaign.id, organizer, region_scheme="us-states")
    do_sign(engine, campaign.slug)
    with pytest.raises(InvalidInput) as info:
        update(engine, campaign.id, organizer, region_scheme="world-countries")
    assert "people have signed" in info.value.errors["region_scheme"]
    assert load(engine, campaign.id).region_scheme == "us-states"


@pytest.mark.parametrize(
    ("changes", "field", "phrase"),
    [
        ({"goal": 0}, "goal", "at least one"),
        ({"goal": -5}, "goal", "at least one"),
        ({"deadline": past()}, "deadline", "future"),
        ({"title": "   "}, "title", "write a title"),
        ({"region_scheme": "no-such-scheme"}, "region_scheme", "no-such-scheme"),
        ({"consent_text": " "}, "consent_text", "consent wording"),
        ({"title": "\u3164\u2800"}, "title", "write a title"),
        ({"title": "Fund\x00 it"}, "title", "NUL"),
        ({"purpose": "Keep \ud800 open"}, "purpose", "broken character"),
        ({"body": "## Why\n\x00"}, "body", "NUL"),
        ({"body": "Libraries \udcc3 matter"}, "body", "broken character"),
        ({"consent_text": "Yes\x00"}, "consent_text", "NUL"),
        ({"consent_text": "\u115f\u1160"}, "consent_text", "consent wording"),
    ],
)
def test_update_is_validated_like_create(engine, organizer, changes, field, phrase):
    campaign = make_campaign(engine)
    with pytest.raises(InvalidInput) as info:
        update(engine, campaign.id, organizer, **changes)
    assert phrase in info.value.errors[field]
    assert [e.action for e in audit_entries(engine, campaign.id)] == ["campaign.create", "campaign.publish"]


EXTERNAL_IMAGES = [
    ("![x](http://other.host/pixel.png)", "http://other.host/pixel.png"),
    ('Read this ![tracking pixel](https://t.example/p.gif?u=1 "hi") now', "https://t.example/p.gif?u=1"),
    ("![x](<//cdn.example/a b.png>)", "//cdn.example/a b.png"),
    ("![x](/\\evil.example/p.png)", "/\\evil.example/p.png"),
    ("![x](&#104;ttps://evil.example/p.png)", "https://evil.example/p.png"),
    ("![logo][l]\n\n[l]: https://logos.example/l.svg", "https://logos.example/l.svg"),
    ("![Logo]\n\n[logo]:\n   <http://a.example/l.png>", "http://a.example/l.png"),
]


@pytest.mark.parametrize(("text", "url"), EXTERNAL_IMAGES, ids=range(len(EXTERNAL_IMAGES)))
@pytest.mark.parametrize("field", ["body", "consent_text"])
def test_images_from_other_sites_are_refused_in_the_text_and_consent_naming_the_image(
    engine, organizer, field, text, url
):
    with pytest.raises(InvalidInput) as on_create:
        run_write(
            engine,
            lambda s: create_campaign(
                session=s,
                campaign_create=CampaignCreate(
                    slug="pixel", title="T", purpose="P", goal=10, region_scheme="us-states", **{field: text}
                ),
                actor=organizer,
            ),
        )
    campaign = make_campaign(engine)
    with pytest.raises(InvalidInput) as on_update:
        update(engine, campaign.id, organizer, **{field: text})
    for refused in (on_create.value, on_update.value):
        assert list(refused.errors) == [field]
        assert f"“{url}”" in refused.errors[field] and "another site" in refused.errors[field]
    assert load(engine, campaign.id).body == "## Why\nLibraries are where communities meet."


@pytest.mark.parametrize(
    "text",
    [
        "![map](/app/static/map.png) and [a link](https://news.example/story)",
        "![dot](data:image/png;base64,iVBORw0KGgo=)",
        "<img src='http://other.host/p.png'>",  # raw HTML is shown as text, never run
        "[![badge](/app/static/b.svg)](https://ci.example)",
    ],
)
def test_images_on_this_site_and_links_elsewhere_are_kept(engine, organizer, text):
    campaign = make_campaign(engine)
    update(engine, campaign.id, organizer, body=text)
    assert load(engine, campaign.id).body == text


def test_every_bad_field_is_reported_at_once(engine, organizer):
    campaign = make_campaign(engine)
    with pytest.raises(InvalidInput) as info:
        update(engine, campaign.id, organizer, goal=0, deadline=past(), slug="other")
    assert set(info.value.errors) == {"goal", "deadline", "slug"}


def test_unchanged_deadline_that_has_passed_does_not_block_other_edits(engine, organizer):
    campaign = make_campaign(engine, deadline=future(days=2))
    update(engine, campaign.id, organizer, title="Still fund the libraries", now=future(days=5))
    assert load(engine, campaign.id).title == "Still fund the libraries"


def test_new_consent_wording_keeps_earlier_signers_wording(engine, organizer):
    campaign = make_campaign(engine)
    do_sign(engine, campaign.slug, email="early@example.org", contact_consent=True)
    with read_session(engine) as session:
        old_text = get_consent_text(session=session, campaign=load(engine, campaign.id))
    update(engine, campaign.id, organizer, consent_text="  You may email me about this campaign only.  ")
    do_sign(engine, campaign.slug, email="late@example.org", contact_consent=True)
    with read_session(engine) as session:
        rows = {s.email: s for s in session.execute(select(Signature)).scalars()}
        stored = session.get(Campaign, campaign.id)
        assert get_consent_text(session=session, campaign=stored) == "You may email me about this campaign only."
        early, late = rows["early@example.org"], rows["late@example.org"]
        assert early.consent_hash == consent_hash(old_text) != late.consent_hash
        assert session.get(ConsentWording, early.consent_hash).text == old_text
        assert session.get(ConsentWording, late.consent_hash).text == "You may email me about this campaign only."
    detail = json.loads(audit_entries(engine, campaign.id)[-1].detail)
    assert detail == {"fields": ["consent_text"], "values": {}}


def test_update_of_unknown_campaign_is_not_found(engine, organizer):
    with pytest.raises(CampaignNotFound):
        update(engine, 9999, organizer, title="x")


# --- status transitions ------------------------------------------------------------------------

VALID = [
    ("draft", publish_campaign, "published", "campaign.publish"),
    ("draft", archive_campaign, "archived", "campaign.archive"),
    ("published", close_campaign, "closed", "campaign.close"),
    ("closed", reopen_campaign, "published", "campaign.reopen"),
    ("closed", archive_campaign, "archived", "campaign.archive"),
]


@pytest.mark.parametrize(("start", "func", "end", "action"), VALID, ids=[f"{v[0]}-{v[3]}" for v in VALID])
def test_valid_transition_changes_status_and_is_audited(engine, organizer, start, func, end, action):
    campaign = make_campaign(engine, status=start)
    result = transition(engine, func, campaign.id, organizer)
    assert result.status == end == load(engine, campaign.id).status
    entry = audit_entries(engine, campaign.id)[-1]
    assert (entry.action, entry.actor, entry.user_id) == (action, "olga@example.org", organizer.user_id)
    assert json.loads(entry.detail) == {"previous": start}


INVALID = [
    ("draft", close_campaign, "draft", "publish it or archive it"),
    ("draft", reopen_campaign, "draft", "publish it or archive it"),
    ("published", publish_campaign, "already published", "you can close it"),
    ("published", reopen_campaign, "already published", "you can close it"),
    ("published", archive_campaign, "published", "Close it first"),
    ("closed", publish_campaign, "closed", "reopen it or archive it"),
    ("closed", close_campaign, "already closed", "reopen it or archive it"),
    ("archived", publish_campaign, "archived", "stays as it is"),
    ("archived", close_campaign, "archived", "stays as it is"),
    ("archived", reopen_campaign, "archived", "stays as it is"),
    ("archived", archive_campaign, "already archived", "stays as it is"),
]


@pytest.mark.parametrize(
    ("start", "func", "status_phrase", "possible"), INVALID, ids=[f"{v[0]}-{v[1].__name__}" for v in INVALID]
)
def test_invalid_transition_says_current_status_and_what_is_possible(
    engine, organizer, start, func, status_phrase, possible
):
    if start == "archived":
        campaign = make_campaign(engine, status="draft")
        transition(engine, archive_campaign, campaign.id, organizer)
    else:
        campaign = make_campaign(engine, status=start)
    before = len(audit_entries(engine, campaign.id))
    with pytest.raises(InvalidTransition) as info:
        transition(engine, func, campaign.id, organizer)
    assert status_phrase in info.value.user_message and possible in info.value.user_message
    assert load(engine, campaign.id).status == start
    assert len(audit_entries(engine, campaign.id)) == before


def test_publish_is_refused_after_the_deadline(engine, organizer):
    campaign = make_campaign(engine, status="draft", deadline=future(days=2))
    with pytest.raises(InvalidTransition) as info:
        transition(engine, publish_campaign, campaign.id, organizer, now=future(days=3))
    assert "Move the deadline first" in info.value.user_message and info.value.field == "deadline"
    assert load(engine, campaign.id).status == "draft"


def test_reopen_after_the_deadline_asks_to_move_it_first(engine, organizer):
    campaign = make_campaign(engine, status="closed", deadline=future(days=2))
    later = future(days=3)
    with pytest.raises(InvalidTransition) as info:
        transition(engine, reopen_campaign, campaign.id, organizer, now=later)
    assert "Move the deadline first" in info.value.user_message
    update(engine, campaign.id, organizer, deadline=future(days=10), now=later)
    transition(engine, reopen_campaign, campaign.id, organizer, now=later)
    assert load(engine, campaign.id).status == "published"
    do_sign(engine, campaign.slug)  # accepts signatures again


def test_timestamps_follow_the_lifecycle(engine, organizer):
    campaign = make_campaign(engine, status="draft")
    published = transition(engine, publish_campaign, campaign.id, organizer)
    first_published_at = published.published_at
    closed = transition(engine, close_campaign, campaign.id, organizer)
    assert closed.closed_at is not None
    reopened = transition(engine, reopen_campaign, campaign.id, organizer)
    assert reopened.published_at == first_published_at and reopened.closed_at is None


def test_transition_defaults_to_the_command_line_actor(engine):
    campaign = make_campaign(engine, status="draft")
    run_write(engine, lambda s: publish_campaign(session=s, campaign_id=campaign.id))
    assert audit_entries(engine, campaign.id)[-1].actor == CLI.email


def test_transition_of_unknown_campaign_is_not_found(engine, organizer):
    with pytest.raises(CampaignNotFound):
        transition(engine, publish_campaign, 9999, organizer)


# --- visibility --------------------------------------------------------------------------------


def test_archived_campaign_is_invisible_publicly_but_listed_for_staff(engine, organizer):
    shown = make_campaign(engine, slug="shown")
    archived = make_campaign(engine, slug="gone", status="closed")
    draft = make_campaign(engine, slug="draft-one", status="draft")
    do_sign(engine, "shown")
    transition(engine, archive_campaign, archived.id, organizer)
    with read_session(engine) as session:
        assert [c.slug for c in list_public_campaigns(session=session)] == ["shown"]
        for slug in ("gone", "draft-one"):
            with pytest.raises(CampaignNotFound):
                get_public_campaign(session=session, slug=slug)
            with pytest.raises(CampaignNotFound):
                get_campaign_page(session=session, slug=slug)
        assert get_public_campaign(session=session, slug="shown").id == shown.id
        staff = list_campaigns_for_staff(session=session)
    assert [c.slug for c in staff] == ["draft-one", "gone", "shown"]  # newest first
    assert {c.id: c.status for c in staff} == {draft.id: "draft", archived.id: "archived", shown.id: "published"}


def test_the_public_rule_reads_the_same_in_python_and_in_sql(engine, organizer):
    """``is_public`` and ``public_campaigns()`` are one rule: signing, the catalog and the dashboard use both."""
    ids = {status: make_campaign(engine, slug=f"is-{status}", status=status).id for status in ("draft", "published")}
    ids["closed"] = make_campaign(engine, slug="is-closed", status="closed").id
    ids["archived"] = make_campaign(engine, slug="is-archived", status="closed").id
    transition(engine, archive_campaign, ids["archived"], organizer)
    with read_session(engine) as session:
        in_sql = set(session.execute(select(Campaign.id).where(public_campaigns())).scalars())
        in_python = {c.id for c in session.execute(select(Campaign)).scalars() if is_public(c)}
    assert in_sql == in_python == {ids["published"], ids["closed"]}


def test_goal_share_is_capped_for_progress_bars_but_not_for_the_percentage_reached():
    assert goal_share(3, 12) == 0.25
    assert goal_share(150, 100) == 1.0
    assert goal_share(150, 100, capped=False) == 1.5
    assert goal_share(5, 0) == goal_share(5, 0, capped=False) == 0.0
