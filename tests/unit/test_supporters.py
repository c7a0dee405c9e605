"""Supporters' control of their data: emailed one-time links (real SMTP server), withdraw, consent, download, erase.

Every test runs on a SQLite file and on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy import String, Text, func, select, update
from sqlmodel import SQLModel

from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import InvalidInput, NotFound
from campaigns.core.models import (
    AuditEntry,
    Campaign,
    HourlyCount,
    OutboxMessage,
    Outreach,
    RegionCount,
    Signature,
    SupporterToken,
    utcnow,
)
from campaigns.core.settings import override_settings
from campaigns.letters import outreach
from campaigns.people import supporter_data, supporter_erasure, supporter_links
from campaigns.people.supporter_links import LinkRefused, TooManyLinks
from campaigns.signatures import moderation
from campaigns.signatures.counts import count_by_hour, count_region_by_day, count_total, day_of, hour_of
from campaigns.signatures.signing import sign
from tests.support.factories import make_campaign, make_letter_campaign, signer
from tests.support.mail import Mailbox, smtp_settings

PUBLIC = "https://rally.example.org"
LINK = re.compile(re.escape(PUBLIC) + r"/my-data\?token=([A-Za-z0-9_-]+)")


@pytest.fixture
def mailbox(engine, smtp_server):
    """Mail goes through the outbox to a real SMTP server (aiosmtpd); yields what it received."""
    controller, handler = smtp_server
    with override_settings(**smtp_settings(controller, "Rally <data@rally.example.org>"), public_url=PUBLIC):
        yield Mailbox(engine, handler)


def token_in(envelope) -> str:
    message = BytesParser(policy=policy.default).parsebytes(envelope.content)
    match = LINK.search(message.get_content())
    assert match, message.get_content()
    return match.group(1)


def do(engine, work):
    return run_write(engine, work)


def sign_up(engine, slug, **overrides):
    return do(engine, lambda s: sign(session=s, campaign_slug=slug, signer=signer(**overrides)))


def claim(engine, token, now=None):
    return do(engine, lambda s: supporter_links.claim_link(session=s, token=token, now=now))


def assert_counts_match_signatures(engine, campaign_id):
    """The aggregate rows (per region, per hour) equal a brute-force count of counted signatures."""
    with read_session(engine) as session:
        rows = session.execute(
            select(Signature.region_code, Signature.created_at).where(
                Signature.campaign_id == campaign_id, Signature.status == "counted"
            )
        ).all()
        regions = {
            code: int(n)
            for code, n in session.execute(
                select(RegionCount.region_code, func.sum(RegionCount.count))
                .where(RegionCount.campaign_id == campaign_id)
                .group_by(RegionCount.region_code)
            )
            if n
        }
        hours = {
            row.hour: int(row.count) for row in count_by_hour(session=session, campaign_id=campaign_id).itertuples()
        }
        negative = (
            session.execute(
                select(func.count()).where(RegionCount.campaign_id == campaign_id, RegionCount.count < 0)
            ).scalar_one()
            + session.execute(
                select(func.count()).where(HourlyCount.campaign_id == campaign_id, HourlyCount.count < 0)
            ).scalar_one()
        )
        total = count_total(session=session, campaign_id=campaign_id)
        days = {
            (code, day.to_pydatetime()): n
            for code in {code for code, _ in rows} | set(regions)
            for day, n in count_region_by_day(session=session, campaign_id=campaign_id, region_code=code).itertuples(
                index=False
            )
        }
    assert days == dict(Counter((code, day_of(at)) for code, at in rows))
    assert regions == dict(Counter(code for code, _ in rows))
    assert {h.to_pydatetime(): n for h, n in hours.items()} == dict(Counter(hour_of(at) for _, at in rows))
    assert total == len(rows) and negative == 0
    return total


# --- the link ----------------------------------------------------------------------------------------


def test_a_link_arrives_by_email_and_works_once(engine, mailbox):
    make_campaign(engine, slug="libraries")
    sign_up(engine, "libraries", email="Ada.Lovelace@Example.org")
    supporter_links.send_link(engine=engine, email="ada.lovelace@example.org")
    [envelope] = mailbox
    assert envelope.rcpt_tos == ["ada.lovelace@example.org"]
    token = token_in(envelope)
    with read_session(engine) as session:
        [stored] = session.execute(select(SupporterToken)).scalars().all()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in stored.token_hash
    assert stored.purpose == "my-data" and stored.expires_at - stored.created_at == timedelta(minutes=60)
    assert claim(engine, token) == "ada.lovelace@example.org"
    with pytest.raises(LinkRefused, match="already been used"):
        claim(engine, token)


def test_an_expired_link_is_refused_with_a_way_to_ask_again(engine, mailbox):
    with override_settings(my_data_link_minutes=15):
        supporter_links.send_link(engine=engine, email="ada@example.org", now=utcnow() - timedelta(minutes=16))
        token = token_in(mailbox[0])
        with pytest.raises(LinkRefused, match=r"expired: links work for 15 minutes\. Ask for a new one"):
            claim(engine, token)
    with pytest.raises(LinkRefused, match="isn't valid"):
        claim(engine, token[:-3])  # cut short when copied


def test_the_answer_is_the_same_for_an_address_that_never_signed(engine, mailbox):
    make_campaign(engine, slug="libraries")
    sign_up(engine, "libraries", email="signed@example.org")
    for address in ("signed@example.org", "never@example.org"):
        assert supporter_links.send_link(engine=engine, email=address) is None
    assert [e.rcpt_tos for e in mailbox] == [["signed@example.org"], ["never@example.org"]]
    email = claim(engine, token_in(mailbox[1]))
    with read_session(engine) as session:
        data = supporter_data.get_my_data(session=session, email_canonical=email)
    assert data.signatures == () and data.letters == ()


def test_links_are_limited_to_three_an_hour_per_address(engine, mailbox):
    for _ in range(3):
        supporter_links.send_link(engine=engine, email="ada@example.org")
    with pytest.raises(TooManyLinks, match="already sent 3 links"):
        supporter_links.send_link(engine=engine, email="ADA@example.org")
    supporter_links.send_link(engine=engine, email="grace@example.org")  # other addresses are not affected
    assert len(mailbox) == 4
    later = utcnow() + timedelta(minutes=61)
    supporter_links.send_link(engine=engine, email="ada@example.org", now=later)  # the hour has passed
    assert len(mailbox) == 5


def test_a_bad_address_gets_a_clear_message_and_no_mail(engine, mailbox):
    with pytest.raises(InvalidInput, match="email"):
        supporter_links.send_link(engine=engine, email="not an address")
    assert mailbox == []


def test_a_mail_server_that_is_down_gets_the_link_later_through_the_outbox(engine, smtp_server):
    from campaigns.core import outbox_worker
    from tests.support.servers import free_port

    controller, handler = smtp_server
    down = {"smtp_host": "127.0.0.1", "smtp_port": free_port(), "smtp_security": "none", "mail_from": "a@b.org"}
    with override_settings(**down, public_url=PUBLIC):
        supporter_links.send_link(engine=engine, email="ada@example.org")  # the supporter is told it is on its way
        assert outbox_worker.run_once(engine=engine).retried == 1
    with read_session(engine) as session:
        [problem] = session.execute(select(OutboxMessage)).scalars().all()
    assert problem.status == "queued" and "could not be reached" in problem.last_error
    do(engine, lambda s: s.execute(update(OutboxMessage).values(next_attempt_at=utcnow())))
    with override_settings(**smtp_settings(controller, "a@b.org"), public_url=PUBLIC):
        assert outbox_worker.drain(engine=engine).sent == 1  # the server is back: the same link arrives, once
    claim(engine, token_in(handler.envelopes[0]))


def test_two_simultaneous_claims_of_one_link_let_exactly_one_in(engine, mailbox):
    supporter_links.send_link(engine=engine, email="ada@example.org")
    token = token_in(mailbox[0])
    tabs = 8
    barrier = threading.Barrier(tabs)

    def open_tab(_):
        barrier.wait()
        try:
            return claim(engine, token)
        except LinkRefused:
            return None

    with ThreadPoolExecutor(max_workers=tabs) as pool:
        results = list(pool.map(open_tab, range(tabs)))
    assert results.count("ada@example.org") == 1 and results.count(None) == tabs - 1


# --- withdraw, consent ------------------------------------------------------------------------------


def test_withdrawing_lowers_the_region_and_hourly_counts_and_the_public_total(engine):
    campaign = make_campaign(engine, slug="libraries")
    other = make_campaign(engine, slug="rivers")
    regions = ["US-CA", "US-NY", "US-CA", "US-TX", "US-CA", "US-NY"]
    for n, region in enumerate(regions):
        sign_up(engine, "libraries", email=f"p{n}@example.org", region_code=region)
    sign_up(engine, "libraries", email="ada@example.org", region_code="US-CA")
    sign_up(engine, "rivers", email="ada@example.org", region_code="US-CA")
    assert assert_counts_match_signatures(engine, campaign.id) == 7
    with read_session(engine) as session:
        data = supporter_data.get_my_data(session=session, email_canonical="ada@example.org")
    mine = next(s for s in data.signatures if s.campaign_slug == "libraries")
    assert {s.campaign_slug for s in data.signatures} == {"libraries", "rivers"}
    withdrawn = do(
        engine,
        lambda s: supporter_data.withdraw_signature(
            session=s, email_canonical="ada@example.org", signature_id=mine.signature_id
        ),
    )
    again = do(
        engine,
        lambda s: supporter_data.withdraw_signature(
            session=s, email_canonical="ada@example.org", signature_id=mine.signature_id
        ),
    )
    assert (withdrawn, again) == (True, False)  # a second click takes nothing more away
    assert assert_counts_match_signatures(engine, campaign.id) == 6
    assert assert_counts_match_signatures(engine, other.id) == 1
    with read_session(engine) as session:
        region_ca = session.execute(
            select(func.sum(RegionCount.count)).where(
                RegionCount.campaign_id == campaign.id, RegionCount.region_code == "US-CA"
            )
        ).scalar_one()
        row = session.get(Signature, mine.signature_id)
        [entry] = session.execute(select(AuditEntry).where(AuditEntry.action == "supporter.withdraw")).scalars().all()
    assert region_ca == 3 and row.status == "withdrawn" and row.withdrawn_at is not None
    assert entry.actor == "supporter" and "ada" not in entry.detail and entry.campaign_id == campaign.id


def test_many_withdrawals_across_shards_never_go_negative_and_match_a_brute_force_count(engine):
    campaign = make_campaign(engine, slug="libraries")
    with override_settings(count_shards=4):
        for n in range(24):
            sign_up(engine, "libraries", email=f"p{n}@example.org", region_code=["US-CA", "US-NY"][n % 2])
        with read_session(engine) as session:
            ids = session.execute(select(Signature.id, Signature.email_canonical)).all()

        def withdraw(pair):
            sid, email = pair
            return do(
                engine, lambda s: supporter_data.withdraw_signature(session=s, email_canonical=email, signature_id=sid)
            )

        with ThreadPoolExecutor(max_workers=6) as pool:
            assert all(pool.map(withdraw, ids[:20]))
    assert assert_counts_match_signatures(engine, campaign.id) == 4


def test_nobody_can_withdraw_someone_elses_signature(engine):
    make_campaign(engine, slug="libraries")
    theirs = sign_up(engine, "libraries", email="grace@example.org")
    with pytest.raises(NotFound, match="among yours"):
        do(
            engine,
            lambda s: supporter_data.withdraw_signature(
                session=s, email_canonical="ada@example.org", signature_id=theirs.signature_id
            ),
        )


def test_who_withdrew_and_signs_again_counts_again(engine):
    campaign = make_campaign(engine, slug="libraries")
    first = sign_up(engine, "libraries", email="ada@example.org", region_code="US-CA")
    do(
        engine,
        lambda s: supporter_data.withdraw_signature(
            session=s, email_canonical="ada@example.org", signature_id=first.signature_id
        ),
    )
    assert assert_counts_match_signatures(engine, campaign.id) == 0
    again = sign_up(engine, "libraries", email="ada@example.org", region_code="US-NY", full_name="Ada King")
    assert again.created and again.total == 1 and again.signature_id == first.signature_id
    assert sign_up(engine, "libraries", email="ada@example.org").created is False  # counted once, as before
    with read_session(engine) as session:
        row = session.get(Signature, first.signature_id)
    assert (row.status, row.region_code, row.full_name, row.withdrawn_at) == ("counted", "US-NY", "Ada King", None)
    assert assert_counts_match_signatures(engine, campaign.id) == 1


def test_changing_contact_consent_records_the_wording_and_time_or_clears_it(engine):
    campaign = make_campaign(engine, slug="libraries")
    done = sign_up(engine, "libraries", email="ada@example.org", contact_consent=False)

    def consent(value):
        do(
            engine,
            lambda s: supporter_data.set_consent(
                session=s, email_canonical="ada@example.org", signature_id=done.signature_id, consent=value
            ),
        )
        with read_session(engine) as session:
            return session.get(Signature, done.signature_id)

    opted_in = consent(True)
    assert opted_in.contact_consent and opted_in.consent_hash == campaign.consent_hash
    assert opted_in.consent_at is not None and utcnow() - opted_in.consent_at < timedelta(minutes=1)
    opted_out = consent(False)
    assert (opted_out.contact_consent, opted_out.consent_hash, opted_out.consent_at) == (False, None, None)
    with read_session(engine) as session:
        entries = session.execute(select(AuditEntry.detail).where(AuditEntry.action == "supporter.consent")).scalars()
        assert [json.loads(d)["consent"] for d in entries] == [True, False]


# --- download and erase --------------------------------------------------------------------------------

NAME = "Zelda Quixote-Marlowe"
EMAIL = "Zelda.Quixote+petitions@gmail.com"
CANONICAL = "zeldaquixote@gmail.com"


def _person_with_everything(engine, mailbox):
    """A supporter with two signatures (comment, UTM, consent), a letter sent by email and one download."""
    letters = make_letter_campaign(
        engine,
        slug="write-in",
        title="Save the river",
        target={"region_code": "US-NY", "name": "Lena Park", "email": "lena@ny.example.gov"},
    )
    make_campaign(engine, slug="libraries")
    done = sign_up(
        engine,
        "write-in",
        full_name=NAME,
        email=EMAIL,
        region_code="US-NY",
        postal_code="10001",
        comment=f"I am {NAME}, write to me at {EMAIL}",
        contact_consent=True,
        utm_source="zelda-newsletter",
        referrer="https://zelda.example.org/blog",
    )
    sign_up(engine, "libraries", full_name=NAME, email=EMAIL.lower(), region_code="US-CA")
    do(engine, lambda s: moderation.approve_comment(session=s, signature_id=done.signature_id, actor=CLI))
    letter = do(
        engine,
        lambda s: outreach.save_letter(
            session=s,
            signature_id=done.signature_id,
            target_id=_target_id(engine, letters.id),
            subject=f"From {NAME}",
            body=f"Dear Senator,\n\nPlease act.\n\n{NAME}",
        ),
    )
    do(engine, lambda s: outreach.deliver_by_email(session=s, letter_id=letter.id))
    assert len(mailbox) == 1  # the letter went out (the outbox sent it)
    do(engine, lambda s: outreach.record_delivery(session=s, letter_id=letter.id, channel="pdf"))
    # a delivery error that named the signer (as a mail server's refusal might)
    do(engine, lambda s: s.execute(update(Outreach).values(last_error=f"550 rejected reply-to {EMAIL.lower()}")))
    supporter_links.send_link(engine=engine, email=EMAIL)
    assert claim(engine, token_in(mailbox[-1])) == CANONICAL
    sign_up(engine, "libraries", full_name="Someone Else", email="else@example.org", comment="Keep it open")
    return letters, done, letter


def _target_id(engine, campaign_id):
    from campaigns.core.models import Target

    with read_session(engine) as session:
        return session.execute(select(Target.id).where(Target.campaign_id == campaign_id)).scalar_one()


def test_the_json_download_holds_everything_about_them(engine, mailbox):
    _person_with_everything(engine, mailbox)
    with read_session(engine) as session:
        data = json.loads(supporter_data.export_my_data_json(session=session, email_canonical=CANONICAL))
        consent_text = (
            supporter_data.get_my_data(session=session, email_canonical=CANONICAL).signatures[-1].consent_text
        )
    assert data["email_canonical"] == CANONICAL
    by_slug = {s["campaign"]["slug"]: s for s in data["signatures"]}
    assert set(by_slug) == {"write-in", "libraries"}
    mine = by_slug["write-in"]
    assert (mine["full_name"], mine["email"], mine["postal_code"]) == (NAME, EMAIL, "10001")
    assert mine["comment"].startswith("I am Zelda") and mine["comment_status"] == "approved"
    assert (mine["utm_source"], mine["referrer"]) == ("zelda-newsletter", "https://zelda.example.org/blog")
    assert mine["contact_consent"] and data["consent_wordings"][mine["consent_wording_hash"]]
    assert mine["region_name"] == "New York" and mine["status"] == "counted" and mine["signed_at"]
    [sent] = mine["letters"]
    assert sent["subject"] == f"From {NAME}" and sent["body"].endswith(NAME)
    assert sorted(d["channel"] for d in sent["deliveries"]) == ["email", "pdf"]
    assert all(d["status"] == "sent" for d in sent["deliveries"])
    what = {d["channel"]: d["what_happened"] for d in sent["deliveries"]}
    assert what == {"email": "sent", "pdf": "downloaded"}  # a download is never "sent", whatever its status says
    [link] = data["access_links"]
    assert link["used_at"] and link["expires_at"] and "token" not in json.dumps(link)
    assert "Someone Else" not in json.dumps(data) and consent_text


def _text_columns():
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, (String, Text)) or isinstance(
                getattr(column.type, "impl", None), (String, Text)
            ):
                yield table, column


def traces(engine, *needles: str) -> list[str]:
    """Every (table.column) whose text contains any needle, case-insensitively: a scan of the whole database."""
    found = []
    with read_session(engine) as session:
        for table, column in _text_columns():
            for needle in needles:
                hit = session.execute(
                    select(func.count()).select_from(table).where(func.lower(column).contains(needle.lower()))
                ).scalar_one()
                if hit:
                    found.append(f"{table.name}.{column.name} ({needle})")
    return found


def test_erasing_leaves_no_trace_of_the_person_in_any_table_and_the_counts_stay(engine, mailbox):
    campaign, done, _ = _person_with_everything(engine, mailbox)
    needles = (NAME, "Quixote", EMAIL, CANONICAL, "zelda.quixote", "zelda-newsletter", "zelda.example.org")
    assert traces(engine, *needles)  # the scan does find them before
    before = assert_counts_match_signatures(engine, campaign.id)
    erased = do(engine, lambda s: supporter_erasure.erase_my_data(session=s, email_canonical=CANONICAL))
    assert (erased.signatures, erased.withdrawn) == (2, 0)
    assert traces(engine, *needles) == []
    assert assert_counts_match_signatures(engine, campaign.id) == before  # still counted, anonymously
    with read_session(engine) as session:
        row = session.get(Signature, done.signature_id)
        assert row.status == "counted" and row.region_code == "US-NY" and row.erased_at is not None
        assert row.email_canonical.startswith("erased:") and row.full_name == "" and row.comment is None
        assert session.execute(select(func.count()).select_from(SupporterToken)).scalar_one() == 0
        assert supporter_data.get_my_data(session=session, email_canonical=CANONICAL).signatures == ()
        assert moderation.list_public_comments(session=session, campaign_id=campaign.id) == []
        [entry] = session.execute(select(AuditEntry).where(AuditEntry.action == "supporter.erase")).scalars().all()
        assert json.loads(entry.detail) == {"signatures": 2, "withdrawn": 0} and entry.actor == "supporter"
        other = session.execute(select(Signature).where(Signature.email_canonical == "else@example.org")).scalar_one()
    assert other.full_name == "Someone Else" and other.comment == "Keep it open"  # nobody else is touched


def test_erase_then_sign_again_counts_the_new_signature(engine, mailbox):
    campaign = make_campaign(engine, slug="libraries")
    sign_up(engine, "libraries", full_name=NAME, email=EMAIL)
    do(engine, lambda s: supporter_erasure.erase_my_data(session=s, email_canonical=CANONICAL))
    again = sign_up(engine, "libraries", full_name=NAME, email=EMAIL)
    assert again.created and again.total == 2  # the erased signature still counts, anonymously
    assert assert_counts_match_signatures(engine, campaign.id) == 2
    withdrew = do(
        engine, lambda s: supporter_erasure.erase_my_data(session=s, email_canonical=CANONICAL, withdraw=True)
    )
    assert (withdrew.signatures, withdrew.withdrawn) == (1, 1)
    assert assert_counts_match_signatures(engine, campaign.id) == 1
    assert traces(engine, NAME, CANONICAL) == []


def test_withdraw_and_erase_takes_every_signature_out_of_the_counts(engine, mailbox):
    campaign, _, _ = _person_with_everything(engine, mailbox)
    with read_session(engine) as session:
        libraries = session.execute(select(Campaign.id).where(Campaign.slug == "libraries")).scalar_one()
    totals = (campaign_total_of(engine, campaign.id), campaign_total_of(engine, libraries))
    result = do(engine, lambda s: supporter_erasure.erase_my_data(session=s, email_canonical=CANONICAL, withdraw=True))
    assert (result.signatures, result.withdrawn) == (2, 2)
    assert assert_counts_match_signatures(engine, campaign.id) == totals[0] - 1
    assert assert_counts_match_signatures(engine, libraries) == totals[1] - 1
    assert traces(engine, NAME, EMAIL, CANONICAL) == []


def campaign_total_of(engine, campaign_id):
    with read_session(engine) as session:
        return count_total(session=session, campaign_id=campaign_id)


# --- receipts -----------------------------------------------------------------------------------------


def test_a_receipt_opens_that_signature_alone_without_mail(engine):
    make_campaign(engine, slug="libraries")
    make_campaign(engine, slug="river")
    first = sign_up(engine, "libraries", email="ada@example.org", comment="Books!")
    sign_up(engine, "river", email="ada@example.org")
    assert first.receipt_token and len(first.receipt_token) >= 32
    with read_session(engine) as session:
        stored = session.execute(select(Signature.receipt_hash).where(Signature.id == first.signature_id)).scalar_one()
        owner = supporter_links.open_receipt(session=session, token=first.receipt_token)
        data = supporter_data.get_my_data(
            session=session, email_canonical=owner.email_canonical, only=owner.signature_id
        )
        exported = supporter_data.export_my_data(
            session=session, email_canonical=owner.email_canonical, only=owner.signature_id
        )
    assert stored == hashlib.sha256(first.receipt_token.encode()).hexdigest()
    assert [s.campaign_slug for s in data.signatures] == ["libraries"]  # not the other campaign
    assert [s["campaign"]["slug"] for s in exported["signatures"]] == ["libraries"]
    assert exported["access_links"] == []


def test_a_repeat_sign_on_gets_no_receipt(engine):
    make_campaign(engine, slug="libraries")
    sign_up(engine, "libraries", email="ada@example.org")
    again = sign_up(engine, "libraries", email="Ada@Example.org")
    assert again.receipt_token is None and again.signature_id is None


def test_erasing_through_a_receipt_erases_that_signature_only_and_the_receipt_stops_working(engine):
    make_campaign(engine, slug="libraries")
    make_campaign(engine, slug="river")
    first = sign_up(engine, "libraries", email="ada@example.org", full_name="Ada Lovelace")
    sign_up(engine, "river", email="ada@example.org", full_name="Ada Lovelace")
    with read_session(engine) as session:
        owner = supporter_links.open_receipt(session=session, token=first.receipt_token)
    done = do(
        engine,
        lambda s: supporter_erasure.erase_my_data(
            session=s, email_canonical=owner.email_canonical, only=owner.signature_id, withdraw=True
        ),
    )
    assert (done.signatures, done.withdrawn) == (1, 1)
    with read_session(engine) as session:
        left = session.execute(select(Signature.email).order_by(Signature.id)).scalars().all()
        with pytest.raises(LinkRefused, match="erased"):
            supporter_links.open_receipt(session=session, token=first.receipt_token)
    assert left[0].startswith("erased:") and left[1] == "ada@example.org"


@pytest.mark.parametrize("token", ["", "x", "\x00", "a" * 5000])
def test_a_bad_receipt_is_refused_clearly(engine, token):
    with read_session(engine) as session, pytest.raises(LinkRefused, match="doesn't work"):
        supporter_links.open_receipt(session=session, token=token)


def test_withdrawing_through_a_receipt_works_on_a_pending_signature(engine):
    make_campaign(engine, slug="confirming", require_confirmation=True)
    result = sign_up(engine, "confirming", email="ada@example.org")
    with read_session(engine) as session:
        owner = supporter_links.open_receipt(session=session, token=result.receipt_token)
    assert do(
        engine,
        lambda s: supporter_data.withdraw_signature(
            session=s, email_canonical=owner.email_canonical, signature_id=owner.signature_id
        ),
    )
    with read_session(engine) as session:
        assert session.execute(select(Signature.status)).scalar_one() == "withdrawn"


def test_a_receipt_after_re_signing_a_withdrawn_signature_shows_none_of_the_earlier_letters(engine):
    letters = make_letter_campaign(
        engine,
        slug="write-in",
        title="Save the river",
        target={"region_code": "US-CA", "name": "G", "email": "g@x.gov"},
    )
    first = sign_up(engine, "write-in", email="ada@example.org", full_name="Ada Lovelace")
    do(
        engine,
        lambda s: outreach.save_letter(
            session=s,
            signature_id=first.signature_id,
            target_id=_target_id(engine, letters.id),
            subject="Private",
            body="Ada's own words",
        ),
    )
    do(
        engine,
        lambda s: supporter_data.withdraw_signature(
            session=s, email_canonical="ada@example.org", signature_id=first.signature_id
        ),
    )
    again = sign_up(engine, "write-in", email="ADA@example.org", full_name="Somebody Else")
    assert again.created and again.signature_id == first.signature_id  # the row is reused
    with read_session(engine) as session:
        owner = supporter_links.open_receipt(session=session, token=again.receipt_token)
        data = supporter_data.get_my_data(
            session=session, email_canonical=owner.email_canonical, only=owner.signature_id
        )
        exported = supporter_data.export_my_data(
            session=session, email_canonical=owner.email_canonical, only=owner.signature_id
        )
        mailbox_view = supporter_data.get_my_data(session=session, email_canonical="ada@example.org")
    assert data.letters == () and exported["signatures"][0]["letters"] == []
    assert [letter.body for letter in mailbox_view.letters] == ["Ada's own words"]  # the mailbox's owner still sees it


def test_your_data_holds_answers_and_proposals_and_a_receipt_only_that_signatures_answers(engine, mailbox):
    from tests.unit.test_proposals import confirm, offer, sponsor_token
    from tests.unit.test_proposals import propose as make_proposal
    from tests.unit.test_questions import answer, ask

    libraries = make_campaign(engine, slug="libraries")
    river = make_campaign(engine, slug="river")
    first = sign_up(engine, "libraries", full_name=NAME, email=EMAIL)
    second = sign_up(engine, "river", full_name=NAME, email=EMAIL)
    answer(engine, ask(engine, libraries.id), first.signature_id, 1, text="Letters, from Zelda")
    answer(engine, ask(engine, river.id, allow_free_text=False), second.signature_id, 0)
    make_proposal(engine, mailbox, email=EMAIL, title="Zelda's bike lanes")
    other, _ = make_proposal(engine, mailbox, email="maria@example.org", title="Quiet streets")
    offer(engine, other, EMAIL, name=NAME)
    confirm(engine, sponsor_token(mailbox, EMAIL))
    with read_session(engine) as session:
        data = supporter_data.get_my_data(session=session, email_canonical=CANONICAL)
        exported = json.loads(supporter_data.export_my_data_json(session=session, email_canonical=CANONICAL))
        receipt = supporter_data.get_my_data(session=session, email_canonical=CANONICAL, only=first.signature_id)
        receipt_json = supporter_data.export_my_data(
            session=session, email_canonical=CANONICAL, only=first.signature_id
        )
        proposer_only = supporter_data.export_my_data(session=session, email_canonical="maria@example.org")
    assert sorted((a.signature_id, a.option, a.free_text) for a in data.answers) == sorted(
        [(first.signature_id, "Letters", "Letters, from Zelda"), (second.signature_id, "March", None)]
    )
    assert data.proposals is not None
    assert (data.proposals.proposed, data.proposals.sponsored) == (["Zelda's bike lanes"], ["Quiet streets"])
    by_slug = {s["campaign"]["slug"]: s for s in exported["signatures"]}
    [written] = by_slug["libraries"]["answers"]
    assert (written["question"], written["option"]) == ("Which action next?", "Letters")
    assert (written["written_answer"], written["written_answer_status"]) == ("Letters, from Zelda", "pending")
    assert written["answered_at"] and [a["option"] for a in by_slug["river"]["answers"]] == ["March"]
    assert exported["proposals"] == {"proposed": ["Zelda's bike lanes"], "co_sponsored": ["Quiet streets"]}
    # a receipt proves one signature: its answers, and none of the mailbox's proposals
    assert [(a.signature_id, a.option) for a in receipt.answers] == [(first.signature_id, "Letters")]
    assert receipt.proposals is None and receipt_json["proposals"] is None
    [only] = receipt_json["signatures"]
    assert [a["written_answer"] for a in only["answers"]] == ["Letters, from Zelda"]
    assert "Zelda's bike lanes" not in json.dumps(receipt_json) and "Quiet streets" not in json.dumps(receipt_json)
    # a proposer who never signed anything still gets what is held about them
    assert proposer_only["signatures"] == [] and proposer_only["proposals"]["proposed"] == ["Quiet streets"]
