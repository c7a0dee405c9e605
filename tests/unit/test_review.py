"""Bulk review: find signatures by address, domain, postal code and time; validate or invalidate them with an exact
recount, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy import func, select

from campaigns.core import outbox_worker
from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import InvalidInput
from campaigns.core.models import AuditEntry, OutboxMessage, utcnow
from campaigns.core.settings import override_settings
from campaigns.letters import outreach
from campaigns.signatures import confirmation, review
from tests.support.factories import make_campaign, make_letter_campaign, sign_from, status_counts
from tests.support.mail import Mailbox, smtp_settings
from tests.unit.test_supporters import assert_counts_match_signatures


def body(envelope) -> str:
    return BytesParser(policy=policy.default).parsebytes(envelope.content).get_content()


def find(engine, **kwargs):
    with read_session(engine) as session:
        return review.find(session=session, review=review.ReviewFilter(**kwargs))


def act(engine, action, **kwargs):
    return run_write(
        engine,
        lambda s: review.apply(session=s, review=review.ReviewFilter(**kwargs), action=action, actor=CLI),
    )


@pytest.fixture
def flood(engine):
    """A campaign with 30 sign-ons from one address (5 counted, 25 flagged) and 10 ordinary ones."""
    campaign = make_campaign(engine)
    for n in range(30):
        sign_from(engine, campaign.slug, address="203.0.113.9", email=f"bot{n}@burner.example", region_code="US-TX")
    for n in range(10):
        sign_from(engine, campaign.slug, address=f"198.51.100.{n}", email=f"p{n}@example.org", postal_code="94110")
    assert status_counts(engine, campaign.id) == {"counted": 15, "flagged": 25}
    return campaign


def test_a_flood_is_found_by_address_and_invalidated_with_an_exact_recount(engine, flood):
    page = find(engine, campaign_id=flood.id, statuses=("counted", "flagged"), client_address="203.0.113.9")
    assert page.total == 30 and page.by_status == {"counted": 5, "flagged": 25} and len(page.rows) == 30
    assert page.rows[0].created_at >= page.rows[-1].created_at  # newest first
    outcome = act(
        engine, "invalidate", campaign_id=flood.id, statuses=("counted", "flagged"), client_address="203.0.113.9"
    )
    assert (outcome.matched, outcome.invalidated, outcome.no_longer_counted) == (30, 30, 5)
    assert status_counts(engine, flood.id) == {"counted": 10, "invalidated": 30}
    assert assert_counts_match_signatures(engine, flood.id) == 10
    again = act(
        engine, "invalidate", campaign_id=flood.id, statuses=("counted", "flagged"), client_address="203.0.113.9"
    )
    assert again.matched == 0  # nothing left to change: a second press is harmless


def test_validating_flagged_signatures_counts_them_exactly(engine, flood):
    outcome = act(engine, "validate", campaign_id=flood.id, statuses=("flagged",))
    assert (outcome.matched, outcome.now_counted, outcome.now_pending) == (25, 25, 0)
    assert status_counts(engine, flood.id) == {"counted": 40}
    assert assert_counts_match_signatures(engine, flood.id) == 40


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"client_address": "203.0.113.0/24"}, 30),
        ({"client_address": "198.51.100.0/29"}, 8),
        ({"client_address": "2001:db8::/32"}, 0),
        ({"email_domain": "BURNER.example"}, 30),
        ({"email_domain": "@example.org"}, 10),
        ({"postal_code": "94110"}, 10),
    ],
)
def test_filters_by_range_domain_and_postal_code(engine, flood, filters, expected):
    assert find(engine, campaign_id=flood.id, statuses=("counted", "flagged"), **filters).total == expected


def test_the_time_window_limits_what_is_reached(engine):
    campaign = make_campaign(engine)
    with override_settings(sign_limit_per_minute=0, sign_limit_per_hour=0):
        for hours_ago in (5, 3, 1):
            sign_from(engine, campaign.slug, now=utcnow() - timedelta(hours=hours_ago))
    now = utcnow()
    window = {"since": now - timedelta(hours=4), "until": now - timedelta(hours=2)}
    assert find(engine, campaign_id=campaign.id, statuses=("counted",), **window).total == 1
    act(engine, "invalidate", campaign_id=campaign.id, statuses=("counted",), **window)
    assert assert_counts_match_signatures(engine, campaign.id) == 2


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"statuses": ()}, "statuses"),
        ({"statuses": ("withdrawn",)}, "statuses"),
        ({"client_address": "not an address"}, "client_address"),
        ({"since": utcnow(), "until": utcnow() - timedelta(hours=1)}, "until"),
    ],
)
def test_bad_filters_are_refused_and_change_nothing(engine, flood, filters, field):
    with pytest.raises(InvalidInput) as refused:
        act(engine, "invalidate", campaign_id=flood.id, **{"statuses": ("counted", "flagged"), **filters})
    assert field in refused.value.errors
    assert status_counts(engine, flood.id) == {"counted": 15, "flagged": 25}


def test_every_action_is_audited_with_its_filter_and_figures(engine, flood):
    act(engine, "invalidate", campaign_id=flood.id, statuses=("flagged",), email_domain="burner.example")
    with read_session(engine) as session:
        [entry] = session.execute(select(AuditEntry).where(AuditEntry.action == "review.invalidate")).scalars()
    assert entry.campaign_id == flood.id and '"email_domain": "burner.example"' in entry.detail
    assert '"matched": 25' in entry.detail and '"no_longer_counted": 0' in entry.detail


def test_two_reviewers_pressing_at_once_change_each_signature_once(engine, flood):
    barrier = threading.Barrier(2)

    def press(action):
        barrier.wait()
        return act(engine, action, campaign_id=flood.id, statuses=("counted", "flagged"), client_address="203.0.113.9")

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(press, ["invalidate", "invalidate"]))
    assert sorted(o.invalidated for o in outcomes) == [0, 30]
    assert assert_counts_match_signatures(engine, flood.id) == 10


def test_on_a_confirming_campaign_validated_signatures_count_once_confirmed(engine, smtp_server):
    controller, handler = smtp_server
    with override_settings(**smtp_settings(controller, "r@example.org"), sign_limit_per_minute=1):
        campaign = make_campaign(engine, require_confirmation=True)
        for n in range(3):
            sign_from(engine, campaign.slug, address="203.0.113.9", email=f"f{n}@example.org")
        mailbox = Mailbox(engine, handler)
        tokens = [re.search(r"confirm\?token=([\w-]+)", body(e)).group(1) for e in mailbox]
        run_write(engine, lambda s: confirmation.confirm(session=s, token=tokens[1]))
        outcome = act(engine, "validate", campaign_id=campaign.id, statuses=("flagged",))
    assert (outcome.now_counted, outcome.now_pending) == (1, 1)  # f1 confirmed: counts; f2 waits for its signer
    assert status_counts(engine, campaign.id) == {"pending": 2, "counted": 1}
    assert assert_counts_match_signatures(engine, campaign.id) == 1


def test_letters_of_a_flagged_signature_wait_and_go_out_once_validated_or_are_dropped(engine, smtp_server):
    controller, handler = smtp_server
    with override_settings(**smtp_settings(controller, "r@example.org"), sign_limit_per_minute=1):
        campaign = make_letter_campaign(
            engine,
            slug="write",
            title="Write in",
            target={"region_code": "US-CA", "name": "Gavin Ortiz", "email": "g@ca.gov"},
        )
        sigs = [sign_from(engine, campaign.slug, address="203.0.113.9", email=f"w{n}@example.org") for n in range(3)]

        def write(result):
            def work(s):
                [suggested] = outreach.suggest_letters(session=s, signature_id=result.signature_id)
                letter = outreach.save_letter(
                    session=s,
                    signature_id=result.signature_id,
                    target_id=suggested.target_id,
                    subject="Hi",
                    body="Please.",
                )
                return outreach.deliver_by_email(session=s, letter_id=letter.id)

            return run_write(engine, work)

        for result in sigs:
            assert write(result).status == "pending"
        mailbox = Mailbox(engine, handler)
        assert len(mailbox) == 1  # only the counted signer's letter left; two are held
        act(engine, "validate", campaign_id=campaign.id, statuses=("flagged",), email_domain="example.org", since=None)
        assert len(mailbox) == 3
    with read_session(engine) as session:
        assert (
            session.execute(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "held")
            ).scalar_one()
            == 0
        )
    assert outbox_worker.drain(engine=engine).sent == 0  # nothing sent twice
