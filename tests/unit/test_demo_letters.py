"""The demo comes with targets and a letter: a newcomer can sign, reach the letter step and print a letter.

Real databases (SQLite, and PostgreSQL with TEST_DATABASE_URL), the real targets import and letter checks,
real PDFs read back with pypdf.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

from pypdf import PdfReader
from sqlalchemy import select
from sqlmodel import col

from campaigns.catalog.lifecycle import set_letter
from campaigns.catalog.listing import get_campaign_by_slug
from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.core.models import AuditEntry, Letter, Outreach, Signature
from campaigns.demo import DEMO_CAMPAIGNS, DEMO_LETTERS, load_demo, targets_file, writes_letter
from campaigns.letters import outreach, pdf, targets
from campaigns.letters.templates import date_text, stock_templates
from campaigns.regions.schemes import get_scheme
from campaigns.signatures.signing import sign
from tests.support.factories import signer

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SIGNERS = 40


def demo_state(engine) -> dict[str, tuple[list[tuple[int, str | None, str]], str, str]]:
    """Each demo campaign's targets (id, region, name), letter subject and letter text."""
    state = {}
    with read_session(engine) as session:
        for demo in DEMO_CAMPAIGNS:
            campaign = get_campaign_by_slug(session=session, slug=demo.slug)
            assert campaign is not None
            listed = targets.list_targets(session=session, campaign_id=campaign.id)
            state[demo.slug] = (
                [(t.id, t.region_code, t.name) for t in listed],
                campaign.letter_subject,
                campaign.letter_template,
            )
    return state


def audit_actions(engine, action: str) -> int:
    with read_session(engine) as session:
        return len(session.execute(select(AuditEntry).where(col(AuditEntry.action) == action)).scalars().all())


def test_demo_twice_imports_one_target_per_region_once_and_saves_a_stock_letter(engine):
    load_demo(engine, signatures=SIGNERS, now=NOW)
    first = demo_state(engine)
    load_demo(engine, signatures=SIGNERS, now=NOW)
    assert demo_state(engine) == first  # the same targets (same ids: not re-imported) and the same letter
    assert audit_actions(engine, "targets.import") == len(DEMO_CAMPAIGNS)
    assert audit_actions(engine, "campaign.letter") == len(DEMO_CAMPAIGNS)
    stock = {t.name: t for t in stock_templates()}
    for demo in DEMO_CAMPAIGNS:
        listed, subject, template = first[demo.slug]
        scheme_codes = {r.code for r in get_scheme(demo.region_scheme).regions}
        assert sorted(code for _, code, _ in listed) == sorted(scheme_codes)  # exactly one per region
        letter = stock[DEMO_LETTERS[demo.slug]]
        assert (subject, template) == (letter.subject.strip(), letter.body.strip())


def test_demo_target_files_are_fictional_people_at_example_org_with_a_full_address():
    for demo in DEMO_CAMPAIGNS:
        rows = list(csv.DictReader(io.StringIO(targets_file(demo).read_text("utf-8"))))
        assert rows and all(r["email"].endswith("@example.org") for r in rows)
        assert all(r["name"] and r["title"] and r["address_line1"] and r["address_line3"] for r in rows)
        assert all(not r.get("postal_address") for r in rows)  # one address form only, or the import refuses


def test_demo_keeps_an_organizers_own_letter_and_targets(engine):
    load_demo(engine, signatures=SIGNERS, now=NOW)
    with read_session(engine) as session:
        campaign = get_campaign_by_slug(session=session, slug=DEMO_CAMPAIGNS[0].slug)
    own = b"region_code,name,title,email\n,Pat Organizer-Choice,Mayor,pat@example.org\n"
    run_write(engine, lambda s: targets.import_targets(session=s, campaign_id=campaign.id, data=own, actor=CLI))
    run_write(
        engine,
        lambda s: set_letter(
            session=s,
            campaign_id=campaign.id,
            subject="Hello",
            template="Dear all,\n\n{{ signer.full_name }}",
            actor=CLI,
        ),
    )
    load_demo(engine, signatures=SIGNERS, now=NOW)
    listed, subject, template = demo_state(engine)[DEMO_CAMPAIGNS[0].slug]
    assert [name for _, _, name in listed] == ["Pat Organizer-Choice"]
    assert (subject, template) == ("Hello", "Dear all,\n\n{{ signer.full_name }}")


def test_a_demo_signer_gets_a_letter_to_their_regions_target_that_prints_with_its_address(engine):
    load_demo(engine, signatures=SIGNERS, now=NOW)
    demo = DEMO_CAMPAIGNS[0]
    with read_session(engine) as session:
        campaign = get_campaign_by_slug(session=session, slug=demo.slug)
        signature = (
            session.execute(
                select(Signature).where(col(Signature.campaign_id) == campaign.id).order_by(col(Signature.id))
            )
            .scalars()
            .first()
        )
        (letter,) = outreach.suggest_letters(session=session, signature_id=signature.id)
        (target,) = [
            t
            for t in targets.list_targets(session=session, campaign_id=campaign.id)
            if t.region_code == signature.region_code
        ]
    region = get_scheme(demo.region_scheme).get(signature.region_code)
    assert letter.target_id == target.id and letter.target_email == target.email
    address = letter.target_address.splitlines()
    assert address[0] == f"{region.name} State Library Board"
    assert re.fullmatch(
        rf"[A-Z][A-Za-z. ]+, {region.code.removeprefix('US-')} \d{{5}}", address[-1]
    )  # Columbus, OH 43215
    assert letter.subject == f"Please support {demo.title}"
    assert f"I am a constituent in {region.name}." in letter.body
    assert letter.body.startswith(f"Dear {target.title} {target.name},")
    assert signature.full_name in letter.body.splitlines()[-3:]  # signed by the template: the PDF adds no signature
    document = pdf.LetterDoc(
        campaign_title=demo.title,
        signer_name=signature.full_name,
        signer_region=region.name,
        target_name=letter.target_name,
        target_title=letter.target_title,
        target_address=letter.target_address,
        date_text=date_text(),
        subject=letter.subject,
        body=letter.body,
    )
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.letter_pdf(document))).pages)
    lines = [line.strip() for line in text.splitlines()]
    for part in (target.name, target.title, *address):
        assert lines.count(part) == 1, part  # the address block, once
    assert lines.count(date_text()) == 1
    assert lines.count(signature.full_name) == 2  # top right as the sender, and the signature: once
    assert f"Dear {target.title} {target.name}," in lines


def letters_and_deliveries(engine) -> tuple[list[tuple[int, int, str]], list[tuple[int, str]]]:
    with read_session(engine) as session:
        letters = session.execute(
            select(col(Letter.signature_id), col(Letter.target_id), col(Letter.body)).order_by(col(Letter.id))
        ).all()
        deliveries = session.execute(
            select(col(Outreach.letter_id), col(Outreach.channel)).order_by(col(Outreach.id))
        ).all()
    return [tuple(row) for row in letters], [tuple(row) for row in deliveries]


def test_some_demo_signers_wrote_their_letter_once_so_tallies_and_bundles_have_letters(engine):
    load_demo(engine, signatures=SIGNERS * 5, now=NOW)
    first_letters, first_deliveries = letters_and_deliveries(engine)
    real = run_write(  # someone trying the demo signs for real: the demo never writes a letter for them
        engine, lambda s: sign(session=s, campaign_slug=DEMO_CAMPAIGNS[0].slug, signer=signer(region_code="US-OH"))
    )
    load_demo(engine, signatures=SIGNERS * 5, now=NOW)
    assert letters_and_deliveries(engine) == (first_letters, first_deliveries)  # once: nothing more the second time
    assert real.signature_id not in {signature_id for signature_id, _, _ in first_letters}
    with read_session(engine) as session:
        demo_signers = session.execute(
            select(col(Signature.id), col(Signature.email_canonical)).where(col(Signature.id) != real.signature_id)
        ).all()
    writers = {signature_id for signature_id, email in demo_signers if writes_letter(email)}
    assert writers and {signature_id for signature_id, _, _ in first_letters} == writers
    assert 0 < len(writers) < len(demo_signers) / 4  # some, not all: about one in ten
    assert len(first_deliveries) == len(first_letters)  # each downloaded or opened once, never "sent" by Rally
    assert {channel for _, channel in first_deliveries} <= {"pdf", "text", "mailto"}
    with read_session(engine) as session:
        tallies = [
            t
            for demo in DEMO_CAMPAIGNS
            for t in outreach.tally_letters(
                session=session, campaign_id=get_campaign_by_slug(session=session, slug=demo.slug).id
            )
        ]
    assert sum(t.downloaded + t.opened for t in tallies) == len(first_letters) and not any(t.sent for t in tallies)
    busiest = max(tallies, key=lambda t: t.downloaded + t.opened)
    bundle = outreach.bundle_letters(engine=engine, target_id=busiest.target_id)
    printed = list(bundle.letters)
    assert bundle.letter_count == len(printed) == busiest.downloaded + busiest.opened
    assert all(
        doc.target_address and doc.body.startswith(f"Dear {doc.target_title} {doc.target_name},") for doc in printed
    )
