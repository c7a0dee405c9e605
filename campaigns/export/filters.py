"""Which signers an export takes: the filter a coordinator sets, checked, and the conditions it puts on signatures.

Who is exported: signatures of the chosen campaigns with the chosen status (counted by default),
never withdrawn or erased ones, and by default only people who agreed to be contacted; a
coordinator may include the others only for a delivery, with a reason that goes into the audit log.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlmodel import Session, col

from campaigns.catalog.listing import is_possible_slug
from campaigns.core.errors import InvalidInput, RallyError
from campaigns.core.models import Campaign, Signature, SignatureStatus
from campaigns.regions.lookup import resolve_scheme

STATUSES = {  # the status filter -> signature statuses it exports (withdrawn: never)
    "counted": (SignatureStatus.counted.value,),
    "pending": (SignatureStatus.pending.value,),
    "any": (SignatureStatus.counted.value, SignatureStatus.pending.value),
    "flagged": (SignatureStatus.flagged.value,),  # held for review (campaigns.signatures.flood): only when asked for
}
REASON_MIN = 10
REASON_MAX = 500
MAX_CAMPAIGNS = 50
MAX_REGIONS = 1_000


@dataclass(frozen=True)
class ExportFilter:
    """Which signatures to export. Dates are whole UTC days, both ends included."""

    campaigns: tuple[str, ...]
    regions: tuple[str, ...] = ()
    signed_from: date | None = None
    signed_to: date | None = None
    status: str = "counted"
    include_non_consenting: bool = False
    reason: str = ""  # why non-consenting people are included (required then; recorded in the audit log)

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["campaigns"] = list(self.campaigns)
        values["regions"] = list(self.regions)
        values["signed_from"] = self.signed_from.isoformat() if self.signed_from else None
        values["signed_to"] = self.signed_to.isoformat() if self.signed_to else None
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ExportFilter:
        def day(value: Any) -> date | None:
            return date.fromisoformat(value) if value else None

        return cls(
            campaigns=tuple(values.get("campaigns") or ()),
            regions=tuple(values.get("regions") or ()),
            signed_from=day(values.get("signed_from")),
            signed_to=day(values.get("signed_to")),
            status=str(values.get("status") or "counted"),
            include_non_consenting=bool(values.get("include_non_consenting")),
            reason=str(values.get("reason") or ""),
        )


@dataclass(frozen=True)
class ExportCampaign:
    id: int
    slug: str
    title: str
    region_names: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class CheckedFilter:
    """A filter whose campaigns exist and whose regions, dates, status and reason make sense."""

    filter: ExportFilter
    campaigns: tuple[ExportCampaign, ...]

    @property
    def by_id(self) -> dict[int, ExportCampaign]:
        return {c.id: c for c in self.campaigns}


def check_filter(*, session: Session, export_filter: ExportFilter) -> CheckedFilter:
    """Validate every field at once; InvalidInput names each problem."""
    f = export_filter
    errors: dict[str, str] = {}
    slugs = list(dict.fromkeys(s.strip().lower() for s in f.campaigns if s.strip()))
    found: list[Campaign] = []
    if not slugs:
        errors["campaigns"] = "Choose at least one campaign."
    elif len(slugs) > MAX_CAMPAIGNS:
        errors["campaigns"] = f"Choose at most {MAX_CAMPAIGNS} campaigns per export."
    else:
        possible = [s for s in slugs if is_possible_slug(s)]
        rows = session.execute(select(Campaign).where(col(Campaign.slug).in_(possible))).scalars().all()
        by_slug = {c.slug: c for c in rows}
        missing = [s for s in slugs if s not in by_slug]
        if missing:
            errors["campaigns"] = f"There is no campaign called {', '.join(missing)}."
        found = [by_slug[s] for s in slugs if s in by_slug]
    campaigns = tuple(
        ExportCampaign(c.id or 0, c.slug, c.title, _region_names(session, c.region_scheme)) for c in found
    )
    regions = tuple(dict.fromkeys(r.strip().upper() for r in f.regions if r.strip()))
    if len(regions) > MAX_REGIONS:
        errors["regions"] = f"Choose at most {MAX_REGIONS:,} regions."
    elif regions and campaigns:
        known = set().union(*(c.region_names for c in campaigns))
        unknown = [r for r in regions if r not in known]
        if unknown:
            errors["regions"] = f"Unknown region code {', '.join(unknown[:5])} for the chosen campaigns."
    if f.signed_from and f.signed_to and f.signed_from > f.signed_to:
        errors["signed_to"] = "The end date is before the start date."
    if f.status not in STATUSES:
        errors["status"] = f"Status must be one of {', '.join(STATUSES)}."
    reason = " ".join(f.reason.split())
    if f.include_non_consenting and len(reason) < REASON_MIN:
        errors["reason"] = (
            "People who did not agree to be contacted can only be exported for a delivery: "
            f"say what it is for (at least {REASON_MIN} characters), it is written to the audit log."
        )
    elif len(reason) > REASON_MAX:
        errors["reason"] = f"Keep the reason under {REASON_MAX} characters."
    if errors:
        raise InvalidInput(errors)
    cleaned = ExportFilter(
        campaigns=tuple(c.slug for c in campaigns),
        regions=regions,
        signed_from=f.signed_from,
        signed_to=f.signed_to,
        status=f.status,
        include_non_consenting=f.include_non_consenting,
        reason=reason if f.include_non_consenting else "",
    )
    return CheckedFilter(cleaned, campaigns)


def _region_names(session: Session, scheme_id: str) -> dict[str, str]:
    try:
        scheme = resolve_scheme(session=session, scheme_id=scheme_id)
    except RallyError:
        return {}
    return {r.code: r.name for r in scheme.regions}


def conditions(checked: CheckedFilter) -> list[ColumnElement[bool]]:
    """The WHERE conditions on ``signature`` that select the filter's people (the rows and their count)."""
    f = checked.filter
    s = Signature
    where: list[ColumnElement[bool]] = [
        col(s.campaign_id).in_([c.id for c in checked.campaigns]),
        col(s.status).in_(STATUSES[f.status]),
        col(s.erased_at).is_(None),
        col(s.withdrawn_at).is_(None),
    ]
    if not f.include_non_consenting:
        where.append(col(s.contact_consent).is_(True))
    if f.regions:
        where.append(col(s.region_code).in_(f.regions))
    if f.signed_from:
        start = datetime(f.signed_from.year, f.signed_from.month, f.signed_from.day, tzinfo=UTC)
        where.append(col(s.created_at) >= start)
    if f.signed_to:
        end = datetime(f.signed_to.year, f.signed_to.month, f.signed_to.day, tzinfo=UTC) + timedelta(days=1)
        where.append(col(s.created_at) < end)
    return where


def list_region_choices(*, session: Session, slugs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Region code -> name over the chosen campaigns' schemes (for the Export page's region picker)."""
    if not slugs:
        return {}
    possible = [s for s in slugs if is_possible_slug(s)]
    schemes = session.execute(select(col(Campaign.region_scheme)).where(col(Campaign.slug).in_(possible))).scalars()
    choices: dict[str, str] = {}
    for scheme_id in sorted(set(schemes)):
        choices.update(_region_names(session, scheme_id))
    return dict(sorted(choices.items(), key=lambda item: item[1].casefold()))
