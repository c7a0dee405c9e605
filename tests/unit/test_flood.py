"""Flood control: rate limits per client address, blocklists and allowlists, trending alerts (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select

from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import InvalidInput
from campaigns.core.models import Signature, utcnow
from campaigns.core.settings import override_settings
from campaigns.signatures import flood, rules
from campaigns.signatures.counts import count_total
from tests.support.factories import make_campaign, sign_from, status_counts


def total(engine, campaign_id) -> int:
    with read_session(engine) as session:
        return count_total(session=session, campaign_id=campaign_id)


def add_rule(engine, kind, action, pattern):
    return run_write(engine, lambda s: rules.add_rule(session=s, kind=kind, action=action, pattern=pattern, actor=CLI))


def test_fifty_sign_ons_from_one_address_in_a_minute_are_flagged_beyond_the_limit(engine):
    campaign = make_campaign(engine)
    answers = [sign_from(engine, campaign.slug, address="203.0.113.9") for _ in range(50)]
    assert all(a.created for a in answers)  # every signer sees the normal thank-you
    assert status_counts(engine, campaign.id) == {"counted": 5, "flagged": 45}
    assert total(engine, campaign.id) == 5
    with read_session(engine) as session:
        reasons = set(session.execute(select(Signature.flag_reason).where(Signature.status == "flagged")).scalars())
    assert reasons == {"rate:minute", "rate:hour"}  # 6th to 20th: the minute's limit; from the 21st, the hour's


def test_the_hourly_limit_holds_when_each_minute_stays_under_its_limit(engine):
    campaign = make_campaign(engine)
    start = utcnow() - timedelta(minutes=50)
    for n in range(24):  # two a minute for 12 minutes, under 5 a minute
        sign_from(engine, campaign.slug, address="203.0.113.9", now=start + timedelta(seconds=30 * n))
    assert status_counts(engine, campaign.id) == {"counted": 20, "flagged": 4}


def test_other_addresses_and_other_campaigns_are_not_affected(engine):
    one, two = make_campaign(engine), make_campaign(engine)
    for _ in range(7):
        sign_from(engine, one.slug, address="203.0.113.9")
    sign_from(engine, one.slug, address="203.0.113.10")
    sign_from(engine, two.slug, address="203.0.113.9")
    assert status_counts(engine, one.id) == {"counted": 6, "flagged": 2}
    assert status_counts(engine, two.id) == {"counted": 1}


def test_the_limit_holds_under_concurrent_sign_ons_from_one_address(engine):
    campaign = make_campaign(engine)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: sign_from(engine, campaign.slug, address="2001:db8::1"), range(40)))
    assert status_counts(engine, campaign.id) == {"counted": 5, "flagged": 35}


def test_unknown_and_loopback_addresses_have_no_per_address_limit(engine):
    campaign = make_campaign(engine)
    for address in [None, "unknown", "127.0.0.1", "::1"] * 3:
        sign_from(engine, campaign.slug, address=address)
    assert status_counts(engine, campaign.id) == {"counted": 12}


def test_limits_of_zero_turn_them_off_and_the_campaign_burst_holds_the_rest(engine):
    campaign = make_campaign(engine)
    with override_settings(sign_limit_per_minute=0, sign_limit_per_hour=0, sign_burst_per_minute=10):
        for n in range(14):
            sign_from(engine, campaign.slug, address=f"198.51.100.{n}")
    assert status_counts(engine, campaign.id) == {"counted": 10, "flagged": 4}


def test_an_allowlisted_shared_address_is_not_limited(engine):
    campaign = make_campaign(engine)
    add_rule(engine, "address", "allow", "192.0.2.0/28")
    for _ in range(12):
        sign_from(engine, campaign.slug, address="192.0.2.5")
    sign_from(engine, campaign.slug, address="192.0.2.200")  # outside the range: limited as usual
    assert status_counts(engine, campaign.id) == {"counted": 13}


@pytest.mark.parametrize(
    ("kind", "pattern", "email", "address", "flagged"),
    [
        ("email", "*@mailinator.com", "bot1@MAILINATOR.com", None, True),
        ("email", "*@mailinator.com", "person@example.org", None, False),
        ("email", "*@*.spam.example", "x@a.b.spam.example", None, True),
        ("email", "bot?*@example.org", "bot42@example.org", None, True),
        ("email", "bot?*@example.org", "bo@example.org", None, False),
        ("address", "203.0.113.0/24", "p@example.org", "203.0.113.77", True),
        ("address", "2001:db8:1::/48", "p@example.org", "2001:db8:1::9", True),
        ("address", "2001:db8:1::/48", "p@example.org", "203.0.113.77", False),
    ],
)
def test_blocklists_flag_matching_sign_ons(engine, kind, pattern, email, address, flagged):
    campaign = make_campaign(engine)
    add_rule(engine, kind, "block", pattern)
    sign_from(engine, campaign.slug, email=email, address=address)
    assert status_counts(engine, campaign.id) == ({"flagged": 1} if flagged else {"counted": 1})


@pytest.mark.parametrize(
    ("kind", "action", "pattern", "message"),
    [
        ("email", "block", "", "empty"),
        ("email", "block", "   ", "empty"),
        ("email", "block", "x" * 300, "at most 200"),
        ("email", "block", "*a*b*c*d*e*f*g*h*i*@x.org", "at most 8 wildcards"),
        ("email", "block", "*", "must name a domain"),
        ("email", "block", "*@*", "must name a domain"),
        ("email", "block", "(a+)+@x.org", "Use letters"),
        ("email", "allow", "*@example.org", "only block"),
        ("address", "block", "0.0.0.0/0", "too wide"),
        ("address", "block", "10.0.0.0/7", "too wide"),
        ("address", "allow", "::/8", "too wide"),
        ("address", "block", "not-an-address", "not an address"),
        ("domain", "block", "x", "Choose"),
    ],
)
def test_bad_patterns_are_refused_with_a_clear_message(engine, kind, action, pattern, message):
    with pytest.raises(InvalidInput, match=message):
        add_rule(engine, kind, action, pattern)
    with read_session(engine) as session:
        assert rules.list_rules(session=session) == []


def test_a_pathological_pattern_matches_in_bounded_time():
    pattern = "*a" * 4 + "*@x.org"
    address = "a" * 300 + "@y.org"
    steps = 0
    started = time.process_time()
    for _ in range(20):
        steps += rules.glob_match(pattern, address)
    assert steps == 0 and time.process_time() - started < 5  # generous: the walk is at most 300 x 12 steps


def test_glob_matching_is_exact_about_wildcards():
    match = rules.glob_match
    assert match("*@example.org", "a@example.org") and not match("*@example.org", "a@example.org.evil")
    assert match("a?c@x.org", "abc@x.org") and not match("a?c@x.org", "ac@x.org")
    assert match("*", "") and match("a*", "a") and not match("a*b", "ab-c")
    assert match("a*@x.org", "a*b@x.org")  # a "*" in the address is just a character


def test_the_same_rule_twice_is_stored_once_and_removing_it_applies_at_once(engine):
    campaign = make_campaign(engine)
    first = add_rule(engine, "email", "block", "*@Spam.Example")
    assert add_rule(engine, "email", "block", "*@spam.example") is None
    sign_from(engine, campaign.slug, email="a@spam.example")
    run_write(engine, lambda s: rules.remove_rule(session=s, rule_id=first, actor=CLI))
    sign_from(engine, campaign.slug, email="b@spam.example")
    assert status_counts(engine, campaign.id) == {"flagged": 1, "counted": 1}


def test_an_address_signing_far_above_the_rate_is_trending(engine):
    campaign = make_campaign(engine)
    with override_settings(sign_limit_per_minute=0, sign_limit_per_hour=0):
        for n in range(30):
            sign_from(engine, campaign.slug, address="203.0.113.9", email=f"x{n}@burner.example")
        for n in range(20):
            sign_from(engine, campaign.slug, address=f"198.51.100.{n}", email=f"p{n}@site{n}.example")
    with read_session(engine) as session:
        trends = flood.find_trends(session=session, campaign_id=campaign.id, now=utcnow())
    found = {(t.kind, t.value): t.count for t in trends}
    assert found == {("client_address", "203.0.113.9"): 30, ("email_domain", "burner.example"): 30}


def test_free_mail_providers_and_an_ordinary_spread_are_not_trending(engine):
    campaign = make_campaign(engine)
    for n in range(40):
        sign_from(engine, campaign.slug, address=f"198.51.100.{n}", email=f"p{n}@gmail.com")
    with read_session(engine) as session:
        assert flood.find_trends(session=session, campaign_id=campaign.id, now=utcnow()) == []


def test_the_client_address_and_email_domain_are_erased_with_the_person_and_at_retention(engine):
    from campaigns.people import supporter_erasure

    campaign = make_campaign(engine)
    sign_from(engine, campaign.slug, address="203.0.113.9", email="ada@lovelace.example")
    with read_session(engine) as session:
        row = session.execute(select(Signature.client_address, Signature.email_domain)).one()
    assert tuple(row) == ("203.0.113.9", "lovelace.example")
    run_write(engine, lambda s: supporter_erasure.erase_my_data(session=s, email_canonical="ada@lovelace.example"))
    with read_session(engine) as session:
        erased = session.execute(
            select(Signature.client_address, Signature.email_domain, Signature.receipt_hash, Signature.confirm_hash)
        ).one()
    assert tuple(erased) == (None, None, None, None)  # retention erases through the same anonymize_signatures
