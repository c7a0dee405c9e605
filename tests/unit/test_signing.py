"""Signing through the service layer, on a real SQLite file and on PostgreSQL."""

from __future__ import annotations

import unicodedata

import pytest
from sqlalchemy import func, select

from campaigns.catalog.listing import consent_hash, get_consent_text, get_public_campaign
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import CampaignClosed, CampaignNotFound, InvalidInput
from campaigns.core.models import Campaign, ConsentWording, Signature
from campaigns.regions.schemes import get_scheme
from campaigns.signatures import signing
from campaigns.signatures.count_writes import rebuild_counts
from campaigns.signatures.counts import count_total, rank_regions
from campaigns.signatures.signing import SignerInput, sign
from tests.support.factories import future, make_campaign, past, signer


def do_sign(engine, slug, s: SignerInput):
    return run_write(engine, lambda session: sign(session=session, campaign_slug=slug, signer=s))


def signatures(engine, campaign_id=None) -> list[Signature]:
    with read_session(engine) as session:
        stmt = select(Signature)
        if campaign_id is not None:
            stmt = stmt.where(Signature.campaign_id == campaign_id)
        return list(session.execute(stmt).scalars())


def total(engine, campaign_id) -> int:
    with read_session(engine) as session:
        return count_total(session=session, campaign_id=campaign_id)


def test_signing_stores_one_signature_and_counts_it(engine):
    campaign = make_campaign(engine)
    result = do_sign(engine, campaign.slug, signer(full_name="Grace Hopper", email="grace@example.org"))
    assert result.created and result.total == 1 and result.region_name == "California"
    [row] = signatures(engine)
    assert (row.full_name, row.email, row.email_canonical, row.region_code) == (
        "Grace Hopper",
        "grace@example.org",
        "grace@example.org",
        "US-CA",
    )
    assert row.created_at.tzinfo is not None
    assert total(engine, campaign.id) == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Sam@Example.org", "sam@example.ORG"),
        ("john.doe@gmail.com", "JohnDoe+petitions@gmail.com"),
        ("j.o.h.n.doe@googlemail.com", "johndoe@gmail.com"),
        (unicodedata.normalize("NFC", "josé@example.org"), unicodedata.normalize("NFD", "josé@example.org")),
    ],
    ids=["case", "gmail-dots-and-tag", "googlemail", "nfc-vs-nfd"],
)
def test_second_signature_with_same_mailbox_is_not_counted(engine, first, second):
    campaign = make_campaign(engine)
    one = do_sign(engine, campaign.slug, signer(email=first))
    two = do_sign(engine, campaign.slug, signer(email=second, full_name="Someone Else", region_code="US-NY"))
    assert one.created and not two.created
    assert one.total == two.total == 1
    [row] = signatures(engine)
    assert row.full_name != "Someone Else" and row.region_code == "US-CA"  # first signature kept untouched


def test_duplicate_answer_does_not_reveal_the_earlier_signature(engine):
    campaign = make_campaign(engine)
    do_sign(engine, campaign.slug, signer(email="x@example.org", full_name="First Person"))
    again = do_sign(engine, campaign.slug, signer(email="X@example.org", full_name="Second Person"))
    # The answer echoes what this person typed, never what was stored before.
    assert again.full_name == "Second Person"


def test_a_repeat_sign_on_gets_no_handle_on_the_earlier_signature(engine):
    """Privacy: a visitor who has not proved they own the mailbox can never reach the stored signature."""
    campaign = make_campaign(engine)
    first = do_sign(
        engine,
        campaign.slug,
        signer(email="x@example.org", full_name="First Person", postal_code="94110", comment="My private reason"),
    )
    again = do_sign(
        engine, campaign.slug, signer(email="X@example.org", full_name="Second Person", region_code="US-NY")
    )
    assert first.created and first.signature_id is not None
    assert not again.created
    assert again.signature_id is None  # nothing for a letter step, a receipt or a page to act on
    assert (again.full_name, again.region_code, again.region_name) == ("Second Person", "US-NY", "New York")


def test_plus_tags_are_distinct_mailboxes_outside_gmail(engine):
    campaign = make_campaign(engine)
    do_sign(engine, campaign.slug, signer(email="sam+a@fastmail.com"))
    do_sign(engine, campaign.slug, signer(email="sam+b@fastmail.com"))
    assert total(engine, campaign.id) == 2


def test_same_person_can_sign_different_campaigns(engine):
    a, b = make_campaign(engine), make_campaign(engine)
    do_sign(engine, a.slug, signer(email="same@example.org"))
    do_sign(engine, b.slug, signer(email="same@example.org"))
    assert total(engine, a.id) == total(engine, b.id) == 1


BAD_INPUTS = [
    ({"full_name": ""}, "full_name", "enter your name"),
    ({"full_name": "   \t "}, "full_name", "enter your name"),
    ({"full_name": "\u200b\u200d\ufeff"}, "full_name", "enter your name"),
    ({"full_name": "x" * 201}, "full_name", "at most 200"),
    ({"full_name": "Bob\x07by"}, "full_name", "control characters"),
    ({"full_name": "Nul\x00Byte"}, "full_name", "NUL"),
    ({"full_name": "evil\u202egnp.exe"}, "full_name", "text-direction"),
    # a lone surrogate (half of a UTF-16 pair) cannot be encoded at all: refused at its field, never a crash
    ({"full_name": "\ud800"}, "full_name", "broken character"),
    ({"full_name": "Ada \udcff Lovelace"}, "full_name", "broken character"),
    ({"comment": "why \ud83d"}, "comment", "broken character"),
    ({"comment": "\udfff"}, "comment", "broken character"),
    ({"email": "ada\ud800@example.org"}, "email", "email address"),
    # names with nothing visible: Braille blank, Hangul fillers, tag characters, separators, marks alone
    ({"full_name": "\u2800\u2800"}, "full_name", "enter your name"),
    ({"full_name": "\u3164"}, "full_name", "enter your name"),
    ({"full_name": "\u115f\u1160"}, "full_name", "enter your name"),
    ({"full_name": "\uffa0\uffa0"}, "full_name", "enter your name"),
    ({"full_name": "\U000e0041\U000e0064\U000e0061\U000e007f"}, "full_name", "enter your name"),
    ({"full_name": "\u180e\ufeff\u2060"}, "full_name", "enter your name"),
    ({"full_name": "\ufe0f\ufe0e\U000e0100"}, "full_name", "enter your name"),
    ({"full_name": "\u0301\u0308\u034f"}, "full_name", "enter your name"),
    ({"full_name": "\u3000\u2800 \u3164"}, "full_name", "enter your name"),
    ({"email": ""}, "email", "enter your email"),
    ({"email": "not-an-email"}, "email", "isn't valid"),
    ({"email": "a@b"}, "email", "isn't valid"),
    ({"email": "two@@example.org"}, "email", "isn't valid"),
    ({"email": "x" * 250 + "@example.org"}, "email", "email address"),
    ({"region_code": "US-XX"}, "region", "US-XX"),
    ({"region_code": None}, "region", "pick your state"),
    ({"comment": "y" * 1001}, "comment", "at most 1,000 characters (it has 1,001)"),
    ({"comment": "hi\u202e"}, "comment", "text-direction"),
    ({"postal_code": "00000", "region_code": None}, "postal_code", "00000"),
    ({"postal_code": "10001", "region_code": "US-CA"}, "postal_code", "New York"),
]


@pytest.mark.parametrize(
    ("overrides", "field", "phrase"), BAD_INPUTS, ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD_INPUTS)]
)
def test_bad_input_gets_field_message_and_stores_nothing(engine, overrides, field, phrase):
    campaign = make_campaign(engine)
    with pytest.raises(InvalidInput) as info:
        do_sign(engine, campaign.slug, signer(**overrides))
    assert field in info.value.errors
    assert phrase.lower() in info.value.errors[field].lower()
    assert signatures(engine) == [] and total(engine, campaign.id) == 0


def test_every_bad_field_is_reported_at_once(engine):
    campaign = make_campaign(engine)
    with pytest.raises(InvalidInput) as info:
        do_sign(engine, campaign.slug, SignerInput(full_name=" ", email="nope", region_code="ZZ"))
    assert set(info.value.errors) == {"full_name", "email", "region"}


NAMES = ["Zoë Ångström", "山田 太郎", "Ngozi 🌍✊🏾", "مريم", "Ольга", "मीरा", "زهرا\u200cی", "👩\u200d🔬", "❤\ufe0f"]


@pytest.mark.parametrize("name", NAMES)
def test_names_in_any_script_are_stored_nfc_and_shown_as_typed(engine, name):
    campaign = make_campaign(engine)
    typed = unicodedata.normalize("NFD", name)
    result = do_sign(engine, campaign.slug, signer(full_name=typed))
    [row] = signatures(engine)
    assert row.full_name == unicodedata.normalize("NFC", name) == result.full_name


def test_zip_code_fills_in_the_state(engine):
    campaign = make_campaign(engine)
    result = do_sign(engine, campaign.slug, signer(region_code=None, postal_code="10001"))
    assert result.region_code == "US-NY"
    [row] = signatures(engine)
    assert (row.region_code, row.postal_code) == ("US-NY", "10001")


def test_a_scheme_the_form_resolved_is_used_only_if_it_is_the_campaigns(engine, monkeypatch):
    campaign = make_campaign(engine)  # on us-states
    resolved = []
    monkeypatch.setattr(
        signing, "resolve_scheme", lambda session, scheme_id: resolved.append(scheme_id) or get_scheme(scheme_id)
    )

    def sign_with(scheme_id, s):
        scheme = get_scheme(scheme_id)
        return run_write(engine, lambda db: sign(session=db, campaign_slug=campaign.slug, signer=s, scheme=scheme))

    assert sign_with("us-states", signer(email="a@example.org")).region_name == "California"
    assert resolved == []  # the form's scheme: not resolved a second time
    # a stale page's scheme: the region is still checked against the campaign's own scheme
    assert sign_with("world-countries", signer(email="b@example.org")).region_name == "California"
    with pytest.raises(InvalidInput):
        sign_with("world-countries", signer(email="c@example.org", region_code="FR"))
    assert resolved == ["us-states", "us-states"] and total(engine, campaign.id) == 2


def test_comment_is_stored_literally_and_pending_moderation(engine):
    campaign = make_campaign(engine)
    do_sign(engine, campaign.slug, signer(comment="  {{ 7*7 }} <script>alert(1)</script>\r\nsecond line "))
    [row] = signatures(engine)
    assert row.comment == "{{ 7*7 }} <script>alert(1)</script>\nsecond line"
    assert row.comment_status == "pending"


def test_contact_consent_records_exact_wording_and_time(engine):
    campaign = make_campaign(engine)
    do_sign(engine, campaign.slug, signer(email="yes@example.org", contact_consent=True))
    do_sign(engine, campaign.slug, signer(email="no@example.org", contact_consent=False))
    rows = {r.email: r for r in signatures(engine)}
    assert rows["no@example.org"].consent_hash is None and rows["no@example.org"].consent_at is None
    yes = rows["yes@example.org"]
    assert yes.contact_consent and yes.consent_at is not None
    with read_session(engine) as session:
        wording = session.get(ConsentWording, yes.consent_hash)
        stored = session.get(Campaign, campaign.id)
        assert wording is not None and consent_hash(wording.text) == yes.consent_hash
        assert get_consent_text(session=session, campaign=stored) == wording.text


def test_share_link_source_is_stored_cleaned(engine):
    campaign = make_campaign(engine)
    do_sign(
        engine,
        campaign.slug,
        signer(
            utm_source="newsletter",
            utm_medium="email\x00\u202e",
            utm_campaign="x" * 500,
            referrer="https://a.example/p",
        ),
    )
    [row] = signatures(engine)
    assert (row.utm_source, row.utm_medium, len(row.utm_campaign), row.referrer) == (
        "newsletter",
        "email",
        200,
        "https://a.example/p",
    )


def test_draft_and_unknown_campaigns_are_not_found(engine):
    draft = make_campaign(engine, status="draft")
    for slug in (draft.slug, "no-such-campaign", ""):
        with pytest.raises(CampaignNotFound):
            do_sign(engine, slug, signer())
    with read_session(engine) as session, pytest.raises(CampaignNotFound):
        get_public_campaign(session=session, slug=draft.slug)
    assert signatures(engine) == []


IMPOSSIBLE_SLUGS = ["a\x00b", "\x00", "libraries\x00", "ab\ud800", "Libraries", "li braries", "libraries\n", "x" * 81]


@pytest.mark.parametrize("slug", IMPOSSIBLE_SLUGS, ids=range(len(IMPOSSIBLE_SLUGS)))
def test_text_that_cannot_be_a_slug_is_not_found_without_asking_the_database(engine, slug):
    """PostgreSQL refuses to compare text holding a NUL byte; such a link must still just be "not found"."""
    make_campaign(engine, slug="libraries")
    with pytest.raises(CampaignNotFound) as signing:
        do_sign(engine, slug, signer())
    with read_session(engine) as session, pytest.raises(CampaignNotFound) as reading:
        get_public_campaign(session=session, slug=slug)
    for refused in (signing.value, reading.value):
        assert refused.user_message == (
            "We couldn't find a campaign at that address. Check the link, or browse all campaigns."
        )
    assert signatures(engine) == []


def test_closed_campaign_refuses_signatures(engine):
    campaign = make_campaign(engine, status="closed")
    with pytest.raises(CampaignClosed) as info:
        do_sign(engine, campaign.slug, signer())
    assert "closed" in info.value.user_message
    assert signatures(engine) == []


def test_campaign_stops_accepting_at_its_deadline(engine):
    campaign = make_campaign(engine, deadline=future(days=2))
    do_sign(engine, campaign.slug, signer())
    later = future(days=3)
    with pytest.raises(CampaignClosed):
        run_write(engine, lambda s: sign(session=s, campaign_slug=campaign.slug, signer=signer(), now=later))
    assert total(engine, campaign.id) == 1


def test_region_counts_match_signatures_and_rebuild(engine, default_settings):
    campaign = make_campaign(engine)
    for region, n in (("US-CA", 3), ("US-TX", 2), ("US-WY", 1)):
        for _ in range(n):
            do_sign(engine, campaign.slug, signer(region_code=region))
    with read_session(engine) as session:
        frame = rank_regions(session=session, campaign_id=campaign.id, scheme_id="us-states")
    assert list(frame.itertuples(index=False, name=None)) == [
        ("US-CA", "California", 3),
        ("US-TX", "Texas", 2),
        ("US-WY", "Wyoming", 1),
    ]
    assert run_write(engine, lambda s: rebuild_counts(session=s, campaign_id=campaign.id)) == 6
    assert total(engine, campaign.id) == 6
    with read_session(engine) as session:
        assert session.execute(select(func.count()).select_from(Signature)).scalar_one() == 6


def test_deadline_in_the_past_is_refused_on_create(engine):
    with pytest.raises(InvalidInput) as info:
        make_campaign(engine, deadline=past())
    assert "deadline" in info.value.errors
