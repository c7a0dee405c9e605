"""The organizer's letter preview renders *this* campaign, for a made-up signer; printed letters are ready to mail.

Real databases (SQLite, and PostgreSQL with TEST_DATABASE_URL), real signatures, real PDFs read back with pypdf.
"""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from campaigns.catalog.lifecycle import set_letter
from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import NotFound
from campaigns.core.models import CampaignUpdate
from campaigns.letters import outreach, pdf, preview, targets
from campaigns.letters.templates import date_text, stock_templates
from campaigns.signatures.signing import sign
from tests.support.factories import make_campaign, signer

LETTER = (
    "Dear {{ target.title }} {{ target.name }},\n\n{{ campaign.title }}: {{ campaign.purpose }}\n\n"
    "{{ campaign.count }} of {{ campaign.goal }} have signed. I write from {{ signer.region_name }}.\n\n"
    "Sincerely,\n\n{{ signer.full_name }}"
)


def add_target(engine, campaign_id: int, **fields):
    return run_write(engine, lambda s: targets.add_target(session=s, campaign_id=campaign_id, actor=CLI, **fields))


@pytest.fixture
def river(engine):
    """Two campaigns with their own targets and signers: the preview of the second must show only its own."""
    from campaigns.catalog.lifecycle import update_campaign

    other = make_campaign(engine, title="Fund the libraries", goal=10_000)
    add_target(engine, other.id, region_code="US-OH", name="Jordan Ellis", title="Senator")
    for _ in range(3):
        run_write(engine, lambda s: sign(session=s, campaign_slug=other.slug, signer=signer(region_code="US-OH")))
    campaign = make_campaign(engine, title="Save the river", goal=250)
    run_write(
        engine,
        lambda s: update_campaign(
            session=s,
            campaign_id=campaign.id,
            changes=CampaignUpdate(purpose="Stop the dumping upstream of the town."),
            actor=CLI,
        ),
    )
    for region, name in (("US-NY", "Rosa Real"), ("US-NY", "Nadia Real"), ("US-CA", "Carl Real")):
        who = signer(region_code=region, full_name=name, comment=f"{name}'s own words")
        run_write(engine, lambda s, who=who: sign(session=s, campaign_slug=campaign.slug, signer=who))
    lena = add_target(
        engine,
        campaign.id,
        region_code="US-CA",
        name="Lena Park",
        title="Senator",
        postal_address="State Capitol, Room 5114\n1021 O Street\nSacramento, CA 95814",
    )
    dana = add_target(engine, campaign.id, region_code=None, name="Dana Reyes", title="Chair")
    return campaign, lena, dana


def test_the_preview_context_is_this_campaigns_own(engine, river):
    campaign, lena, dana = river
    with read_session(engine) as session:
        to_lena = preview.preview_context(session=session, campaign_id=campaign.id, target=lena)
        to_dana = preview.preview_context(session=session, campaign_id=campaign.id, target=dana)
        untargeted = preview.preview_context(session=session, campaign_id=campaign.id)
    assert to_lena.campaign.title == "Save the river"
    assert to_lena.campaign.purpose == "Stop the dumping upstream of the town."
    assert (to_lena.campaign.goal, to_lena.campaign.count) == (250, 3)  # not the other campaign's 3 + 3
    assert (to_lena.target.name, to_lena.target.title) == ("Lena Park", "Senator")
    assert to_lena.target.postal_address.endswith("Sacramento, CA 95814")
    assert to_lena.signer.region_name == "California"  # the target's own region
    assert to_dana.signer.region_name == "New York"  # a target of everyone: the campaign's busiest region
    assert untargeted.target == preview.PLACEHOLDER_TARGET and untargeted.today == date_text()


def test_the_sample_signer_is_made_up_never_a_real_one(engine, river):
    campaign, lena, _ = river
    with read_session(engine) as session:
        context = preview.preview_context(session=session, campaign_id=campaign.id, target=lena)
        letter = preview.preview_letter(
            session=session,
            campaign_id=campaign.id,
            subject="About {{ campaign.title }}",
            template=LETTER,
            target_id=lena.id,
        )
    assert context.signer.full_name == preview.SAMPLE_NAME and context.signer.postal_code is None
    assert context.signer.comment == preview.SAMPLE_COMMENT
    printed = PdfReader(io.BytesIO(pdf.letter_pdf(letter.document))).pages[0].extract_text()
    for shown in (letter.body, printed):
        assert "Real" not in shown and "own words" not in shown and "example.org" not in shown


def test_a_campaign_without_signers_or_targets_previews_with_placeholders(engine):
    campaign = make_campaign(engine, title="Brand new", region_scheme="world-countries")
    with read_session(engine) as session:
        letter = preview.preview_letter(session=session, campaign_id=campaign.id, subject="Hi", template=LETTER)
    assert letter.target_name is None and "Dear [their title] [the target's name]," in letter.body
    assert "0 of 100 have signed" in letter.body and letter.region_name  # the scheme's first region


def test_the_preview_letter_is_what_a_signer_would_get_and_prints_ready_to_mail(engine, river):
    campaign, lena, _ = river
    with read_session(engine) as session:
        letter = preview.preview_letter(
            session=session,
            campaign_id=campaign.id,
            subject="About {{ campaign.title }}",
            template=LETTER,
            target_id=lena.id,
        )
    assert letter.subject == "About Save the river" and letter.target_name == "Lena Park"
    assert letter.body.startswith("Dear Senator Lena Park,\n\nSave the river: Stop the dumping upstream")
    assert "3 of 250 have signed. I write from California." in letter.body
    [page] = PdfReader(io.BytesIO(pdf.letter_pdf(letter.document))).pages
    text = page.extract_text()
    assert "Lena Park\nSenator\nState Capitol, Room 5114\n1021 O Street\nSacramento, CA 95814" in text
    assert text.count(date_text()) == 1 and text.count("Sincerely,") == 1
    assert text.count(preview.SAMPLE_NAME) == 2  # the sender block, and one signature


def test_a_target_of_another_campaign_or_one_gone_is_refused(engine, river):
    campaign, _, _ = river
    other = make_campaign(engine, title="Elsewhere")
    stranger = add_target(engine, other.id, region_code=None, name="Someone Else")
    with read_session(engine) as session:
        with pytest.raises(NotFound):
            preview.preview_letter(
                session=session, campaign_id=campaign.id, subject="Hi", template=LETTER, target_id=stranger.id
            )
        with pytest.raises(NotFound):
            preview.preview_letter(session=session, campaign_id=campaign.id, subject="Hi", template=LETTER, target_id=0)


def test_a_bundle_of_stock_template_letters_prints_address_date_and_signature_once(engine, river):
    campaign, lena, _ = river
    stock = next(t for t in stock_templates() if t.name == "legislator-bill")
    run_write(
        engine,
        lambda s: set_letter(session=s, campaign_id=campaign.id, subject=stock.subject, template=stock.body, actor=CLI),
    )
    done = run_write(
        engine,
        lambda s: sign(
            session=s, campaign_slug=campaign.slug, signer=signer(region_code="US-CA", full_name="Wangari Maathai")
        ),
    )
    with read_session(engine) as session:
        [suggested] = [
            s
            for s in outreach.suggest_letters(session=session, signature_id=done.signature_id)
            if s.target_id == lena.id
        ]
    assert suggested.target_address.startswith("State Capitol") and not suggested.body.startswith(date_text())
    run_write(
        engine,
        lambda s: outreach.save_letter(
            session=s, signature_id=done.signature_id, target_id=lena.id, subject=suggested.subject, body=suggested.body
        ),
    )
    bundle = outreach.bundle_letters(engine=engine, target_id=lena.id)
    data = pdf.bundle_pdf(
        lena.name, lena.title, campaign.title, date_text(), bundle.letters, constituents=bundle.constituents
    )
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(data)).pages]
    letter = "\n".join(pages[1:])
    assert "Sacramento, CA 95814" in letter and letter.count(date_text()) == 1
    assert letter.count("Sincerely,") == 1
    closing = letter.split("Sincerely,")[1]
    assert closing.count("Wangari Maathai") == 1  # signed by the template, not again by the PDF
