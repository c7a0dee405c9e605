"""The organizer's letter preview: this campaign's letter filled in for a made-up signer, as text and as the PDF.

The preview uses the campaign's own title, purpose, goal and count (``signatures.counts.count_total``), each of
its targets, and a sample signer placed in the target's region (for a target of every signer: the campaign's
region with the most signatures, else its scheme's first region). The signer is made up (:data:`SAMPLE_NAME`):
no real supporter's name, comment or postal code ever appears in a preview, though organizers are staff.
The letter is filled in and laid out by the same code as a signer's (``outreach.fill_in``, ``pdf.letter_pdf``),
so the PDF preview is what gets mailed. ``templates.sample_context`` stays for ``templates check`` and saving.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from campaigns.core.errors import CampaignNotFound, NotFound
from campaigns.core.models import Campaign, Target
from campaigns.letters.context import CampaignView, LetterContext, SignerView, TargetView, date_text
from campaigns.letters.outreach import fill_in
from campaigns.letters.pdf import LetterDoc
from campaigns.regions.lookup import resolve_scheme
from campaigns.signatures.counts import count_by_region, count_total

SAMPLE_FIRST_NAME = "Alex"
SAMPLE_NAME = "Alex Supporter"  # made up: never a real signer's name
SAMPLE_COMMENT = "This matters to me and to my neighbours."
#: Who the letter goes to while the campaign has no targets yet: placeholders, plainly.
PLACEHOLDER_TARGET = TargetView(name="[the target's name]", title="[their title]", postal_address="[their address]")


@dataclass(frozen=True)
class PreviewLetter:
    target_name: str | None  # None: the campaign has no targets yet, so the preview uses placeholders
    region_name: str | None  # where the sample signer signs from
    subject: str
    body: str
    document: LetterDoc  # what ``pdf.letter_pdf`` prints, exactly as for a real signer


def _campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignNotFound(str(campaign_id))
    return campaign


def _sample_region(session: Session, campaign: Campaign, target: Target | None) -> str | None:
    """The region's name the sample signer signs from: the target's, the busiest, or the scheme's first."""
    scheme = resolve_scheme(session=session, scheme_id=campaign.region_scheme)
    if target is not None and target.region_code and scheme.has(target.region_code):
        return scheme.get(target.region_code).name
    counts = count_by_region(session=session, campaign_id=campaign.id or 0)
    busiest = sorted((code for code in counts if scheme.has(code)), key=lambda code: (-counts[code], code))
    if busiest:
        return scheme.get(busiest[0]).name
    return scheme.regions[0].name if scheme.regions else None


def preview_context(*, session: Session, campaign_id: int, target: Target | None = None) -> LetterContext:
    """This campaign's letter context for a made-up signer writing to ``target`` (placeholders without one)."""
    campaign = _campaign(session, campaign_id)
    if target is not None and target.campaign_id != campaign_id:
        raise NotFound("That target belongs to another campaign.")
    return LetterContext(
        signer=SignerView(
            first_name=SAMPLE_FIRST_NAME,
            full_name=SAMPLE_NAME,
            region_name=_sample_region(session, campaign, target),
            comment=SAMPLE_COMMENT,
        ),
        target=(
            PLACEHOLDER_TARGET
            if target is None
            else TargetView(name=target.name, title=target.title, postal_address=target.postal_address)
        ),
        campaign=CampaignView(
            title=campaign.title,
            purpose=campaign.purpose,
            goal=campaign.goal,
            count=count_total(session=session, campaign_id=campaign_id),
        ),
        today=date_text(),
    )


def preview_letter(
    *, session: Session, campaign_id: int, subject: str, template: str, target_id: int | None = None
) -> PreviewLetter:
    """``subject`` and ``template`` (as typed, maybe unsaved) filled in for the sample signer and one target.

    Raises ``TemplateRejected`` or ``RenderStopped`` with the line and reason when the template can't be used.
    """
    target = session.get(Target, target_id) if target_id is not None else None
    if target_id is not None and target is None:
        raise NotFound("That target no longer exists.")
    context = preview_context(session=session, campaign_id=campaign_id, target=target)
    subject_text, body = fill_in(subject=subject, template=template, context=context)
    document = LetterDoc(
        campaign_title=context.campaign.title,
        signer_name=context.signer.full_name,
        signer_region=context.signer.region_name or "",
        target_name=context.target.name,
        target_title=context.target.title,
        target_address=context.target.postal_address,
        date_text=context.today,
        subject=subject_text,
        body=body,
    )
    return PreviewLetter(
        target_name=target.name if target else None,
        region_name=context.signer.region_name,
        subject=subject_text,
        body=body,
        document=document,
    )
