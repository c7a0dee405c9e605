"""Email confirmation (double opt-in) on SQLite and PostgreSQL, with mail through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy import select, update

from campaigns.core.db import read_session, run_write
from campaigns.core.models import OutboxMessage, Signature, utcnow
from campaigns.core.settings import override_settings
from campaigns.people import supporter_data, supporter_erasure
from campaigns.signatures import confirmation
from campaigns.signatures.counts import count_by_hour, count_by_region, count_total
from campaigns.signatures.signing import sign
from tests.support.factories import make_campaign, signer
from tests.support.mail import Mailbox, smtp_settings

PUBLIC = "https://rally.example.org"
CONFIRM_LINK = re.compile(re.escape(PUBLIC) + r"/confirm\?token=([A-Za-z0-9_-]+)")


@pytest.fixture
def mailbox(engine, smtp_server):
    controller, handler = smtp_server
    with override_settings(**smtp_settings(controller, "Rally <rally@rally.example.org>"), public_url=PUBLIC):
        yield Mailbox(engine, handler)


def body(envelope) -> str:
    return BytesParser(policy=policy.default).parsebytes(envelope.content).get_content()


def subject(envelope) -> str:
    return str(BytesParser(policy=policy.default).parsebytes(envelope.content)["Subject"])


def token_in(envelope) -> str:
    match = CONFIRM_LINK.search(body(envelope))
    assert match, body(envelope)
    return match.group(1)


def do_sign(engine, slug, **overrides):
    return run_write(engine, lambda s: sign(session=s, campaign_slug=slug, signer=signer(**overrides)))


def confirm(engine, token, now=None):
    return run_write(engine, lambda s: confirmation.confirm(session=s, token=token, now=now))


def total(engine, campaign_id) -> int:
    with read_session(engine) as session:
        return count_total(session=session, campaign_id=campaign_id)


def stored(engine, email) -> Signature:
    with read_session(engine) as session:
        return session.execute(select(Signature).where(Signature.email_canonical == email)).scalar_one()


def test_a_pending_signature_counts_only_once_its_link_is_used(engine, mailbox):
    campaign = make_campaign(engine, require_confirmation=True)
    result = do_sign(engine, campaign.slug, email="rosa@example.org", full_name="Rosa Parks", region_code="US-AL")
    assert result.created and result.confirm_by_email and result.receipt_token
    assert total(engine, campaign.id) == 0 and stored(engine, "rosa@example.org").status == "pending"
    [envelope] = mailbox
    assert envelope.rcpt_tos == ["rosa@example.org"] and subject(envelope).startswith("Please confirm")
    token = token_in(envelope)
    assert token not in stored(engine, "rosa@example.org").confirm_hash  # only its hash is kept
    done = confirm(engine, token)
    assert (done.signature_id, done.counts, done.full_name) == (result.signature_id, True, "Rosa Parks")
    assert total(engine, campaign.id) == 1
    with read_session(engine) as session:  # every aggregate moved with it, in the same transaction
        assert count_by_region(session=session, campaign_id=campaign.id) == {"US-AL": 1}
        assert int(count_by_hour(session=session, campaign_id=campaign.id)["count"].sum()) == 1
    row = stored(engine, "rosa@example.org")
    assert row.status == "counted" and row.confirmed_at is not None


def test_a_link_works_once_and_says_so_the_second_time(engine, mailbox):
    campaign = make_campaign(engine, require_confirmation=True)
    do_sign(engine, campaign.slug, email="a@example.org")
    token = token_in(mailbox[0])
    confirm(engine, token)
    with pytest.raises(confirmation.AlreadyConfirmed, match="confirmed already"):
        confirm(engine, token)
    assert total(engine, campaign.id) == 1


def test_two_tabs_confirming_at_once_count_one_signature(engine, mailbox):
    campaign = make_campaign(engine, require_confirmation=True)
    do_sign(engine, campaign.slug, email="a@example.org")
    token = token_in(mailbox[0])
    barrier = threading.Barrier(6)

    def tab(_):
        barrier.wait()
        try:
            return confirm(engine, token).counts
        except confirmation.ConfirmRefused:
            return None

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(tab, range(6)))
    assert results.count(True) == 1 and results.count(None) == 5
    assert total(engine, campaign.id) == 1


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda t: t[:-4], "isn't valid"),
        (lambda t: t + "x", "isn't valid"),
        (lambda t: "", "isn't valid"),
        (lambda t: "\x00" + t, "isn't valid"),
    ],
    ids=["cut-short", "extended", "empty", "nul"],
)
def test_a_tampered_link_is_refused_and_changes_nothing(engine, mailbox, tamper, message):
    campaign = make_campaign(engine, require_confirmation=True)
    do_sign(engine, campaign.slug, email="a@example.org")
    token = token_in(mailbox[0])
    with pytest.raises(confirmation.ConfirmRefused, match=message):
        confirm(engine, tamper(token))
    assert total(engine, campaign.id) == 0 and stored(engine, "a@example.org").status == "pending"


def test_an_expired_link_is_refused_with_the_way_to_get_a_new_one(engine, mailbox):
    campaign = make_campaign(engine, require_confirmation=True)
    with override_settings(confirm_link_days=2):
        do_sign(engine, campaign.slug, email="a@example.org")
        token = token_in(mailbox[0])
        with pytest.raises(confirmation.ConfirmRefused, match=r"expired: links work for 2 days\. Sign again"):
            confirm(engine, token, now=utcnow() + timedelta(days=2, minutes=1))
    assert total(engine, campaign.id) == 0


def test_a_withdrawn_or_erased_signature_cannot_be_confirmed(engine, mailbox):
    campaign = make_campaign(engine, require_confirmation=True)
    do_sign(engine, campaign.slug, email="w@example.org")
    do_sign(engine, campaign.slug, email="e@example.org")
    withdrawn, erased = token_in(mailbox[0]), token_in(mailbox[1])
    sid = stored(engine, "w@example.org").id
    run_write(
        engine,
        lambda s: supporter_data.withdraw_signature(session=s, email_canonical="w@example.org", signature_id=sid),
    )
    run_write(engine, lambda s: supporter_erasure.erase_my_data(session=s, email_canonical="e@example.org"))
    with pytest.raises(confirmation.ConfirmRefused, match="withdrew"):
        confirm(engine, withdrawn)
    with pytest.raises(confirmation.ConfirmRefused, match="erased"):
        confirm(engine, erased)
    assert total(engine, campaign.id) == 0


def test_signing_again_while_pending_resends_the_link_rate_limited(engine, mailbox):
    campaign = make_campaign(engine, require_confirmation=True)
    first = do_sign(engine, campaign.slug, email="a@example.org", full_name="Ann Lee")
    again = do_sign(engine, campaign.slug, email="A@example.org", full_name="Somebody Else")
    assert not again.created and again.confirm_by_email and again.receipt_token is None
    assert (again.full_name, again.signature_id) == ("Somebody Else", None)  # the screen: only what was typed
    assert len(mailbox) == 1  # within RESEND_MINUTES: the link they have still works
    later = utcnow() + timedelta(minutes=confirmation.RESEND_MINUTES + 1)
    run_write(
        engine,
        lambda s: sign(session=s, campaign_slug=campaign.slug, signer=signer(email="a@example.org"), now=later),
    )
    assert len(mailbox) == 2
    old, new = token_in(mailbox[0]), token_in(mailbox[1])
    assert mailbox[1].rcpt_tos == ["a@example.org"] and "Ann Lee" in body(mailbox[1])  # to the owner, as stored
    with pytest.raises(confirmation.ConfirmRefused, match="newer one"):
        confirm(engine, old)
    assert confirm(engine, new).signature_id == first.signature_id


def test_signing_again_after_confirming_tells_the_owner_by_email_once_a_day(engine, mailbox):
    campaign = make_campaign(engine, require_confirmation=True, title="Save the river")
    do_sign(engine, campaign.slug, email="a@example.org", full_name="Ann Lee")
    confirm(engine, token_in(mailbox[0]))
    for _ in range(3):
        again = do_sign(engine, campaign.slug, email="a@example.org", full_name="Mallory")
        assert not again.created and again.signature_id is None
    assert len(mailbox) == 2
    assert subject(mailbox[1]) == "You have already signed: Save the river" and "Ann Lee" in body(mailbox[1])
    assert "Mallory" not in body(mailbox[1])
    assert total(engine, campaign.id) == 1


def test_the_reminder_goes_once_with_a_fresh_link_and_the_old_one_stops(engine, mailbox):
    campaign = make_campaign(engine, require_confirmation=True)
    do_sign(engine, campaign.slug, email="a@example.org")
    first = token_in(mailbox[0])
    with override_settings(confirm_reminder_hours=24):
        assert confirmation.send_reminders(engine=engine, now=utcnow() + timedelta(hours=23)) == 0
        assert confirmation.send_reminders(engine=engine, now=utcnow() + timedelta(hours=25)) == 1
        assert confirmation.send_reminders(engine=engine, now=utcnow() + timedelta(hours=30)) == 0  # one reminder only
    assert len(mailbox) == 2 and subject(mailbox[1]).startswith("Reminder: please confirm")
    with pytest.raises(confirmation.ConfirmRefused):
        confirm(engine, first)
    assert confirm(engine, token_in(mailbox[1])).counts


def test_unconfirmed_signatures_are_deleted_after_their_link_expired_with_their_mail(engine, mailbox):
    campaign = make_campaign(engine, require_confirmation=True)
    do_sign(engine, campaign.slug, email="late@example.org")
    do_sign(engine, campaign.slug, email="kept@example.org")
    confirm(engine, token_in(mailbox[1]))
    days = 7 + confirmation.PENDING_GRACE_DAYS
    assert confirmation.delete_expired(engine=engine, now=utcnow() + timedelta(days=days - 1)) == 0
    assert confirmation.delete_expired(engine=engine, now=utcnow() + timedelta(days=days, minutes=1)) == 1
    with read_session(engine) as session:
        emails = session.execute(select(Signature.email_canonical)).scalars().all()
        messages = session.execute(select(OutboxMessage.to_address)).scalars().all()
    assert emails == ["kept@example.org"] and messages == ["kept@example.org"]
    assert total(engine, campaign.id) == 1


def test_a_flagged_signature_that_confirms_stays_held_for_review(engine, mailbox):
    campaign = make_campaign(engine, require_confirmation=True)
    with override_settings(sign_limit_per_minute=1):
        for n in range(2):
            run_write(
                engine,
                lambda s, n=n: sign(
                    session=s,
                    campaign_slug=campaign.slug,
                    signer=signer(email=f"f{n}@example.org"),
                    client_address="198.51.100.7",
                ),
            )
    assert stored(engine, "f1@example.org").status == "flagged"
    tokens = [token_in(e) for e in mailbox]
    assert len(tokens) == 2  # the flagged signer gets the same email as anyone (never told)
    assert confirm(engine, tokens[1]).counts is False
    assert stored(engine, "f1@example.org").status == "flagged" and total(engine, campaign.id) == 0


def test_a_campaign_without_confirmation_counts_at_once_and_sends_nothing(engine, mailbox):
    campaign = make_campaign(engine)
    result = do_sign(engine, campaign.slug, email="a@example.org")
    assert not result.confirm_by_email and total(engine, campaign.id) == 1 and mailbox == []


def test_confirmation_is_on_by_default_only_with_a_real_mail_server(engine, smtp_server):
    from campaigns.catalog.listing import default_require_confirmation

    controller, _ = smtp_server
    assert default_require_confirmation() is False  # the development outbox does not turn it on
    with override_settings(**smtp_settings(controller, "r@example.org")):
        assert default_require_confirmation() is True


def test_a_confirmed_signature_stays_confirmed_when_withdrawn_and_signed_again_it_starts_over(engine, mailbox):
    campaign = make_campaign(engine, require_confirmation=True)
    do_sign(engine, campaign.slug, email="a@example.org")
    confirm(engine, token_in(mailbox[0]))
    sid = stored(engine, "a@example.org").id
    run_write(
        engine,
        lambda s: supporter_data.withdraw_signature(session=s, email_canonical="a@example.org", signature_id=sid),
    )
    again = do_sign(engine, campaign.slug, email="a@example.org")
    assert again.created and again.signature_id == sid  # the withdrawn row becomes this new signature
    row = stored(engine, "a@example.org")
    assert row.status == "pending" and row.confirmed_at is None and total(engine, campaign.id) == 0
    assert confirm(engine, token_in(mailbox[1])).counts and total(engine, campaign.id) == 1
    run_write(engine, lambda s: s.execute(update(Signature).values(confirm_expires_at=utcnow())))
