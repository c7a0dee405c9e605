"""What the field kit prints of a campaign, read once: for the public (published or closed campaigns only)
or for its staff (any status); the paper sizes; the downloads' file names and media types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlmodel import Session

from campaigns.catalog.listing import get_consent_text, get_public_campaign
from campaigns.core.errors import InvalidInput
from campaigns.core.models import Campaign
from campaigns.core.pdf_text import PAPERS, Paper
from campaigns.regions.lookup import resolve_scheme

PAPER_NAMES: dict[str, str] = {"a4": "A4", "letter": "US Letter"}
MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf", "csv": "text/csv"}


@dataclass(frozen=True)
class KitCampaign:
    """A campaign as the poster and the sheet show it."""

    slug: str
    title: str
    purpose: str
    consent_text: str  # the wording a signer who writes "yes" in the consent column agrees to
    region_label: str  # what one region is called ("State", "Country", ...)
    region_example: str  # a region's code, to show how the column is filled in
    light_share_link: bool = False  # spike mode: its share link (and QR code) is the light sign page


def check_paper(value: str | None) -> Paper:
    """``a4`` (also when no size is given) or ``letter``, any case; anything else is refused in words."""
    paper = (value or "a4").strip().lower()
    if paper not in PAPERS:
        raise InvalidInput({"paper": "Choose the paper size a4 or letter (for example ?paper=letter)."})
    return cast(Paper, paper)


def read_kit_campaign(*, session: Session, campaign: Campaign) -> KitCampaign:
    """The field kit's view of ``campaign``, whatever its status (for its staff: a draft's kit can be checked)."""
    scheme = resolve_scheme(session=session, scheme_id=campaign.region_scheme)
    return KitCampaign(
        slug=campaign.slug,
        title=campaign.title,
        purpose=campaign.purpose,
        consent_text=get_consent_text(session=session, campaign=campaign),
        region_label=scheme.info.region_label,
        region_example=scheme.regions[0].code if scheme.regions else "",
        light_share_link=campaign.light_share_link,
    )


def read_public_kit_campaign(*, session: Session, slug: str) -> KitCampaign:
    """The field kit of a published or closed campaign; drafts, archived and unknown slugs: ``CampaignNotFound``."""
    return read_kit_campaign(session=session, campaign=get_public_campaign(session=session, slug=slug))


def file_name(slug: str, item: str, extension: str, paper: Paper | None = None) -> str:
    """``<slug>-poster-a4.pdf``, ``<slug>-qr.svg``, ...: what a download is saved as."""
    return f"{slug}-{item}{f'-{paper}' if paper else ''}.{extension}"
