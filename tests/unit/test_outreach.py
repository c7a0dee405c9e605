"""Letters: suggested per target, kept in the signer's words, sent once, failures retried (real SMTP server)."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy import delete, select

from campaigns.catalog.lifecycle import set_letter
from campaigns.core import outbox, outbox_worker
from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import InvalidInput
from campaigns.core.models import Letter, Outreach, OutreachChannel, OutreachStatus, Signature, Target
from campaigns.core.settings import override_settings
from campaigns.letters import deliveries, outreach, targets
from campaigns.signatures.signing import sign
from tests.support.factories import make_campaign, signer
from tests.support.mail import smtp_settings
from tests.support.servers import free_port

SUBJECT = "Please keep {{ campaign.title }} alive"
TEMPLATE = """Dear {{ target.title }} {{ target.name }},

I live in {{ signer.region_name }} and I support {{ campaign.title }}.
{% if signer.comment %}In my own words: {{ signer.comment }}{% endif %}

{{ signer.full_name }}"""


@pytest.fixture
def setup(engine):
    campaign = make_campaign(engine)
    run_write(
        engine, lambda s: set_letter(session=s, campaign_id=campaign.id, subject=SUBJECT, template=TEMPLATE, actor=CLI)
    )
    run_write(
        engine,
        lambda s: sign(
            session=s,
            campaign_slug=campaign.slug,
            signer=signer(email="zoe@example.org", full_name="Zoë Ångström", comment="{{ 7*7 }} libraries matter"),
        ),
    )

    def add(**kw):
        return run_write(engine, lambda s: targets.add_target(session=s, campaign_id=campaign.id, actor=CLI, **kw))

    add(region_code="US-CA", name="Gavin Ortiz", title="Senator", email="gavin@ca.example.gov")
    add(region_code=None, name="Dana Reyes", title="Chair", email="chair@example.gov")
    add(region_code=None, name="Post Only", title="Clerk")
    add(region_code="US-NY", name="Not Mine", title="Senator", email="ny@example.gov")
    with read_session(engine) as session:
        signature_id = session.execute(select(Signature.id)).scalar_one()
        suggested = outreach.suggest_letters(session=session, signature_id=signature_id)
    letters = {
        s.target_name: run_write(
            engine,
            lambda x, s=s: outreach.save_letter(
                session=x,
                signature_id=signature_id,
                target_id=s.target_id,
                subject=s.subject,
                body=s.body + "\n\nP.S. mine",
                suggested=s.body,
            ),
        )
        for s in suggested
    }
    return campaign, signature_id, suggested, letters


def smtp(controller):
    return override_settings(**smtp_settings(controller, "letters@rally.example.org"))


def test_each_of_the_signers_targets_gets_a_personal_letter(setup):
    _, _, suggested, _ = setup
    by_target = {s.target_name: s for s in suggested}
    assert set(by_target) == {"Gavin Ortiz", "Dana Reyes", "Post Only"}  # the signer's region and everyone's
    gavin = by_target["Gavin Ortiz"]
    assert gavin.subject == "Please keep Fund the libraries alive"
    assert gavin.body.startswith("Dear Senator Gavin Ortiz,") and "I live in California" in gavin.body
    assert "{{ 7*7 }} libraries matter" in gavin.body  # supporter text is a value, never template code


def test_the_letter_is_stored_in_the_signers_words(setup):
    _, _, _, letters = setup
    assert all(letter.edited and letter.body.endswith("P.S. mine") for letter in letters.values())


@pytest.mark.parametrize(
    ("subject", "body", "field"),
    [
        ("", "t", "subject"),
        ("s" * 301, "t", "subject"),
        ("S", "  ", "body"),
        ("S", "x" * 20_001, "body"),
        ("S", "a\x00b", "body"),
    ],
)
def test_bad_letters_are_refused_per_field(engine, setup, subject, body, field):
    _, signature_id, suggested, _ = setup
    with pytest.raises(InvalidInput) as info:
        run_write(
            engine,
            lambda s: outreach.save_letter(
                session=s, signature_id=signature_id, target_id=suggested[0].target_id, subject=subject, body=body
            ),
        )
    assert field in info.value.errors
    if len(subject) > 300:  # refused with its length, never cut short
        assert info.value.errors["subject"] == "Please shorten the subject to at most 300 characters (it has 301)."


def deliver(engine, letter_id):
    return run_write(engine, lambda s: outreach.deliver_by_email(session=s, letter_id=letter_id))


def test_a_letter_reaches_its_target_once_however_often_it_is_sent(engine, setup, smtp_server):
    controller, handler = smtp_server
    _, _, _, letters = setup
    with smtp(controller):
        first = deliver(engine, letters["Gavin Ortiz"].id)
        again = deliver(engine, letters["Gavin Ortiz"].id)  # a double click: nothing more is queued
        assert first.status == again.status == "pending"
        assert outbox_worker.drain(engine=engine).sent == 1
        assert deliver(engine, letters["Gavin Ortiz"].id).status == "sent"
        assert outbox_worker.drain(engine=engine).sent == 0
    [envelope] = handler.envelopes
    message = BytesParser(policy=policy.default).parsebytes(envelope.content)
    assert envelope.rcpt_tos == ["gavin@ca.example.gov"]
    assert (
        message["Reply-To"] == "Zoë Ångström <zoe@example.org>"
        and message["To"] == "Senator Gavin Ortiz <gavin@ca.example.gov>"
    )
    assert message.get_content().rstrip().endswith("P.S. mine")


def test_a_target_without_email_is_refused_for_email(engine, setup):
    _, _, _, letters = setup
    with pytest.raises(InvalidInput, match="no email address"):
        deliver(engine, letters["Post Only"].id)


def test_text_is_frozen_once_sent(engine, setup, smtp_server):
    controller, _ = smtp_server
    _, signature_id, suggested, letters = setup
    gavin = next(s for s in suggested if s.target_name == "Gavin Ortiz")
    with smtp(controller):
        deliver(engine, letters["Gavin Ortiz"].id)
        outbox_worker.drain(engine=engine)
    kept = run_write(
        engine,
        lambda s: outreach.save_letter(
            session=s, signature_id=signature_id, target_id=gavin.target_id, subject="New", body="Changed"
        ),
    )
    assert kept.body == letters["Gavin Ortiz"].body


def test_failed_sends_are_visible_with_the_servers_answer_and_resent_by_a_person(engine, setup, smtp_server):
    controller, handler = smtp_server
    campaign, _, _, letters = setup
    with override_settings(
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
        smtp_security="none",
        mail_from="letters@rally.example.org",
        mail_max_attempts=1,
    ):
        assert deliver(engine, letters["Dana Reyes"].id).status == "pending"
        assert outbox_worker.run_once(engine=engine).failed == 1
    with read_session(engine) as session:
        [(name, attempts, error, _)] = outreach.list_failed_deliveries(session=session, campaign_id=campaign.id)
        [problem] = outbox_worker.list_problems(session=session, campaign_id=campaign.id)
    assert (name, attempts) == ("Dana Reyes", 1) and "could not be reached" in error
    with smtp(controller):
        run_write(engine, lambda s: outbox.resend(session=s, message_id=problem.id, actor=CLI))
        assert outbox_worker.drain(engine=engine).sent == 1
    assert len(handler.envelopes) == 1
    with read_session(engine) as session:
        row = session.execute(select(Outreach)).scalar_one()
        assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)


def test_own_deliveries_are_recorded_once_per_channel_and_never_tallied_as_sent(engine, setup):
    campaign, _, _, letters = setup
    for _ in range(3):
        run_write(
            engine, lambda s: outreach.record_delivery(session=s, letter_id=letters["Post Only"].id, channel="pdf")
        )
    run_write(engine, lambda s: outreach.record_delivery(session=s, letter_id=letters["Post Only"].id, channel="text"))
    for _ in range(2):
        run_write(
            engine, lambda s: outreach.record_delivery(session=s, letter_id=letters["Dana Reyes"].id, channel="mailto")
        )
    with read_session(engine) as session:
        rows = session.execute(select(Outreach.channel)).scalars().all()
        tallies = {t.target_name: t for t in outreach.tally_letters(session=session, campaign_id=campaign.id)}
    assert sorted(rows) == ["mailto", "pdf", "text"]  # once per letter and channel
    post, dana = tallies["Post Only"], tallies["Dana Reyes"]
    assert (post.sent, post.downloaded, post.opened) == (0, 1, 0)  # a PDF and a text of one letter: 1 letter
    assert (dana.sent, dana.downloaded, dana.opened) == (0, 0, 1)  # opened in the mail app is not sent
    assert all(t.sent == t.failed == t.uncertain == t.waiting == 0 for t in tallies.values())
    with pytest.raises(InvalidInput):
        run_write(
            engine, lambda s: outreach.record_delivery(session=s, letter_id=letters["Post Only"].id, channel="fax")
        )
    with pytest.raises(InvalidInput):  # an email is Rally's to send, never recorded by hand
        run_write(
            engine, lambda s: outreach.record_delivery(session=s, letter_id=letters["Post Only"].id, channel="email")
        )


def test_only_an_email_rally_sent_counts_as_sent_in_every_state(engine, setup):
    """Every channel in every status: the SQL rule, ``delivery_kind`` and the tally agree; only email+sent is sent."""
    campaign, signature_id, _, _ = setup
    statuses = [s.value for s in OutreachStatus]
    with read_session(engine) as session:
        ids = dict(session.execute(select(Target.name, Target.id).order_by(Target.id)).all())
    names = dict(zip(list(ids)[: len(statuses)], statuses, strict=True))  # target: the status of all its rows

    def work(session):
        session.execute(delete(Outreach))  # the setup's letters carry no delivery; start from none at all
        for name, status in names.items():
            letter = session.execute(
                select(Letter).where(Letter.signature_id == signature_id, Letter.target_id == ids[name])
            ).scalar_one_or_none() or Letter(signature_id=signature_id, target_id=ids[name], subject="S", body="B")
            session.add(letter)
            session.flush()
            for channel in OutreachChannel:
                session.add(Outreach(letter_id=letter.id, target_id=ids[name], channel=channel.value, status=status))

    run_write(engine, work)
    kinds = [k.value for k in deliveries.DeliveryKind]
    sql = {
        "sent": deliveries.is_sent(),
        "waiting": deliveries.is_email_in(OutreachStatus.pending),
        "failed": deliveries.is_email_in(OutreachStatus.failed),
        "uncertain": deliveries.is_email_in(OutreachStatus.uncertain),
        "downloaded": deliveries.is_downloaded(),
        "opened": deliveries.is_opened(),
    }
    assert set(sql) == set(kinds)
    with read_session(engine) as session:
        rows = session.execute(
            select(Outreach.channel, Outreach.status, deliveries.is_taken_by_signer(), *sql.values())
        ).all()
        tallies = {t.target_name: t for t in outreach.tally_letters(session=session, campaign_id=campaign.id)}
        failed = outreach.list_failed_deliveries(session=session, campaign_id=campaign.id)
    assert len(rows) == len(OutreachChannel) * len(OutreachStatus)
    for channel, status, taken, *flags in rows:
        kind = deliveries.delivery_kind(channel, status).value
        assert [bool(f) for f in flags] == [k == kind for k in sql], (channel, status)
        assert bool(taken) == (kind in ("downloaded", "opened")) == (channel != "email")
        assert (kind == "sent") == (channel == "email" and status == "sent")
    for name, status in names.items():
        expected = {k: int(any(deliveries.delivery_kind(c.value, status) == k for c in OutreachChannel)) for k in kinds}
        assert {k: getattr(tallies[name], k) for k in kinds} == expected, name  # one letter per target
        assert (tallies[name].sent, tallies[name].downloaded) == (int(status == "sent"), 1)  # PDF + text: 1 letter
    assert [name for name, *_ in failed] == [n for n, s in names.items() if s == "failed"]


@pytest.mark.parametrize("bad", ["{{ ''.__class__.__mro__ }}", "{% include 'x' %}", "{{ signer.email }}", "{{ oops"])
def test_hostile_or_broken_letters_are_refused_on_save(engine, bad):
    campaign = make_campaign(engine)
    with pytest.raises(InvalidInput) as info:
        run_write(
            engine, lambda s: set_letter(session=s, campaign_id=campaign.id, subject="Hi", template=bad, actor=CLI)
        )
    assert "Line 1" in info.value.errors["letter_template"]


@pytest.mark.parametrize(
    ("subject", "template", "field", "phrase"),
    [
        ("Hi\x00", "Dear {{ target.name }}", "letter_subject", "NUL"),
        ("Hi", "Dear {{ target.name }},\n\x00", "letter_template", "NUL"),
        ("Hi \ud83d", "Dear {{ target.name }}", "letter_subject", "broken character"),
        ("Hi", "Dear \udcff {{ target.name }}", "letter_template", "broken character"),
    ],
)
def test_letters_with_text_that_cannot_be_stored_are_refused_on_save(engine, subject, template, field, phrase):
    campaign = make_campaign(engine)
    with pytest.raises(InvalidInput) as info:
        run_write(
            engine,
            lambda s: set_letter(session=s, campaign_id=campaign.id, subject=subject, template=template, actor=CLI),
        )
    assert phrase in info.value.errors[field]


def test_a_targets_printable_bundle_holds_every_letter_written_to_them(engine, setup):
    import io

    from pypdf import PdfReader

    from campaigns.letters.pdf import bundle_pdf

    _, _, _, letters = setup
    bundle = outreach.bundle_letters(engine=engine, target_id=letters["Gavin Ortiz"].target_id)
    assert (bundle.letter_count, bundle.constituents) == (1, 1)  # one signer from California
    docs = list(bundle.letters)
    assert [d.signer_name for d in docs] == ["Zoë Ångström"] and docs[0].body.endswith("P.S. mine")
    everyone = outreach.bundle_letters(engine=engine, target_id=letters["Dana Reyes"].target_id)
    assert everyone.constituents == 1
    seen = []
    data = bundle_pdf(
        "Gavin Ortiz",
        "Senator",
        "Fund the libraries",
        "22 November 2026",
        iter(docs),
        constituents=bundle.constituents,
        on_progress=seen.append,
    )
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 2 and "Gavin Ortiz" in reader.pages[0].extract_text() and seen[-1] == 1


def test_a_bundle_leaves_out_letters_of_withdrawn_and_erased_signers(engine, setup):
    from campaigns.people import supporter_data, supporter_erasure

    campaign, _, _, letters = setup
    run_write(engine, lambda s: sign(session=s, campaign_slug=campaign.slug, signer=signer(email="w@example.org")))
    run_write(engine, lambda s: sign(session=s, campaign_slug=campaign.slug, signer=signer(email="e@example.org")))
    target_id = letters["Dana Reyes"].target_id
    with read_session(engine) as session:
        ids = dict(session.execute(select(Signature.email, Signature.id)).all())
    for email in ("w@example.org", "e@example.org"):
        run_write(
            engine,
            lambda s, email=email: outreach.save_letter(
                session=s, signature_id=ids[email], target_id=target_id, subject="Hi", body=f"From {email}"
            ),
        )
    assert outreach.bundle_letters(engine=engine, target_id=target_id).letter_count == 3
    withdrawn = ids["w@example.org"]
    run_write(
        engine,
        lambda s: supporter_data.withdraw_signature(session=s, email_canonical="w@example.org", signature_id=withdrawn),
    )
    run_write(engine, lambda s: supporter_erasure.erase_my_data(session=s, email_canonical="e@example.org"))
    bundle = outreach.bundle_letters(engine=engine, target_id=target_id)
    assert bundle.letter_count == 1 and [d.signer_name for d in bundle.letters] == ["Zoë Ångström"]
