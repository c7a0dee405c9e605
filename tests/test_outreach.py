"""Delivering letters: saved in the signer's words, sent once per target, failures retried (real SMTP server)."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy import select

from campaigns import outreach, targets
from campaigns.audit import CLI
from campaigns.db import read_session, run_write
from campaigns.errors import InvalidInput
from campaigns.models import Outreach, Signature
from campaigns.settings import override_settings
from campaigns.signing import sign
from tests.conftest import free_port
from tests.factories import make_campaign, signer


@pytest.fixture
def letter_setup(engine):
    campaign = make_campaign(engine)
    run_write(
        engine,
        lambda s: sign(
            session=s, campaign_slug=campaign.slug, signer=signer(email="zoe@example.org", full_name="Zoë Ångström")
        ),
    )
    ca = run_write(
        engine,
        lambda s: targets.add_target(
            session=s,
            campaign_id=campaign.id,
            region_code="US-CA",
            name="Gavin Ortiz",
            title="Senator",
            email="gavin@ca.example.gov",
            actor=CLI,
        ),
    )
    everyone = run_write(
        engine,
        lambda s: targets.add_target(
            session=s,
            campaign_id=campaign.id,
            region_code=None,
            name="Dana Reyes",
            title="Chair",
            email="chair@example.gov",
            actor=CLI,
        ),
    )
    paper = run_write(
        engine,
        lambda s: targets.add_target(
            session=s, campaign_id=campaign.id, region_code=None, name="Post Only", title="Clerk", actor=CLI
        ),
    )
    with read_session(engine) as session:
        signature_id = session.execute(select(Signature.id)).scalar_one()
    letter = run_write(
        engine,
        lambda s: outreach.save_letter(
            session=s,
            signature_id=signature_id,
            subject="Keep it open",
            body="Dear Senator,\n\nPlease keep it open.\n\nZoë",
            suggested="Dear Senator,\n\nSuggested text.",
        ),
    )
    return campaign, letter, [ca.id, everyone.id, paper.id]


def smtp(controller):
    return override_settings(
        smtp_host="127.0.0.1", smtp_port=controller.port, smtp_security="none", mail_from="letters@rally.example.org"
    )


def test_letter_is_stored_in_the_signers_words(engine, letter_setup):
    _, letter, _ = letter_setup
    assert letter.edited and letter.body.startswith("Dear Senator,\n\nPlease keep it open.")


@pytest.mark.parametrize(
    ("subject", "body", "field"),
    [("", "text", "subject"), ("S", "   ", "body"), ("S", "x" * 20_001, "body"), ("S", "a\x00b", "body")],
)
def test_bad_letters_are_refused_per_field(engine, letter_setup, subject, body, field):
    _, letter, _ = letter_setup
    with pytest.raises(InvalidInput) as info:
        run_write(
            engine,
            lambda s: outreach.save_letter(session=s, signature_id=letter.signature_id, subject=subject, body=body),
        )
    assert field in info.value.errors


def test_each_target_with_an_email_gets_one_message_and_never_a_second(engine, letter_setup, smtp_server):
    controller, handler = smtp_server
    _, letter, target_ids = letter_setup
    with smtp(controller):
        first = outreach.deliver_by_email(engine=engine, letter_id=letter.id, target_ids=target_ids)
        again = outreach.deliver_by_email(engine=engine, letter_id=letter.id, target_ids=target_ids)
    assert [d.status for d in first] == ["sent", "sent"] and [d.status for d in again] == ["sent", "sent"]
    assert sorted(e.rcpt_tos[0] for e in handler.envelopes) == ["chair@example.gov", "gavin@ca.example.gov"]
    parsed = [BytesParser(policy=policy.default).parsebytes(e.content) for e in handler.envelopes]
    assert {m["Reply-To"] for m in parsed} == {"Zoë Ångström <zoe@example.org>"}
    assert all("Please keep it open." in m.get_content() for m in parsed)


def test_text_is_frozen_once_something_was_sent(engine, letter_setup, smtp_server):
    controller, _ = smtp_server
    _, letter, target_ids = letter_setup
    with smtp(controller):
        outreach.deliver_by_email(engine=engine, letter_id=letter.id, target_ids=target_ids[:1])
    kept = run_write(
        engine,
        lambda s: outreach.save_letter(session=s, signature_id=letter.signature_id, subject="New", body="Changed"),
    )
    assert kept.body == letter.body


def test_failed_sends_are_visible_and_retried_later(engine, letter_setup, smtp_server):
    controller, handler = smtp_server
    campaign, letter, target_ids = letter_setup
    with override_settings(
        smtp_host="127.0.0.1", smtp_port=free_port(), smtp_security="none", mail_from="letters@rally.example.org"
    ):
        failed = outreach.deliver_by_email(engine=engine, letter_id=letter.id, target_ids=target_ids[:1])
    assert failed[0].status == "failed" and "refused or failed" in failed[0].error
    with read_session(engine) as session:
        [(name, attempts, error, _)] = outreach.failed_deliveries(session, campaign.id)
    assert (name, attempts) == ("Gavin Ortiz", 1) and error
    with smtp(controller):
        retried = outreach.retry_failed(engine=engine)
    assert [d.status for d in retried] == ["sent"] and len(handler.envelopes) == 1
    with read_session(engine) as session:
        row = session.execute(select(Outreach)).scalar_one()
        assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
        tallies = {t.target_name: (t.sent, t.failed) for t in outreach.tally(session, campaign.id)}
    assert tallies == {"Gavin Ortiz": (1, 0), "Dana Reyes": (0, 0), "Post Only": (0, 0)}


def test_own_deliveries_are_recorded_once_per_target_and_channel(engine, letter_setup):
    campaign, letter, target_ids = letter_setup
    for _ in range(3):
        run_write(
            engine,
            lambda s: outreach.record_delivery(session=s, letter_id=letter.id, target_id=target_ids[2], channel="pdf"),
        )
    run_write(
        engine,
        lambda s: outreach.record_delivery(session=s, letter_id=letter.id, target_id=target_ids[2], channel="mailto"),
    )
    with read_session(engine) as session:
        assert {t.target_name: t.sent for t in outreach.tally(session, campaign.id)}["Post Only"] == 2
    with pytest.raises(InvalidInput):
        run_write(
            engine,
            lambda s: outreach.record_delivery(session=s, letter_id=letter.id, target_id=target_ids[2], channel="fax"),
        )
