"""Targets: the people letters go to, for one region of the campaign's scheme or for every signer.

Organizers upload them as a CSV file (``import_targets``) or add them one by one (``add_target``).
An import checks every row first and saves nothing unless all rows are right; then the file
replaces the campaign's targets in one transaction.

The postal address a printed letter carries comes either as one ``postal_address`` cell of several lines or,
easier in a spreadsheet, as up to four one-line columns ``address_line1`` to ``address_line4`` (each printed on
its own line, as written: "Columbus, OH 43215"); both are optional, so files without them import too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import delete, insert, or_, select
from sqlmodel import Session, col

from campaigns.core import audit
from campaigns.core.audit import Actor
from campaigns.core.errors import CampaignNotFound, InvalidInput
from campaigns.core.models import Campaign, Target, utcnow
from campaigns.core.uploads import RowError, UploadRowsError, check_cells, read_csv, row_errors, shown
from campaigns.core.validation import NAME_MAX, canonical_email, clean_email, clean_text
from campaigns.regions.lookup import resolve_scheme
from campaigns.regions.schemes import RegionScheme

REQUIRED_COLUMNS = ["region_code", "name", "title", "email"]
ADDRESS_LINE_COLUMNS = ["address_line1", "address_line2", "address_line3", "address_line4"]
OPTIONAL_COLUMNS = ["postal_address", *ADDRESS_LINE_COLUMNS]
COLUMNS = [*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS]
TITLE_MAX = 200
ADDRESS_MAX = 1000
ADDRESS_LINE_MAX = 200


class TargetImportError(UploadRowsError):
    """Rows of a targets file are wrong, so nothing was imported: ``errors``, ``report_csv()``."""


@dataclass(frozen=True)
class ImportResult:
    count: int  # targets imported
    replaced: int  # targets the campaign had before, now deleted


@dataclass(frozen=True)
class _Checked:
    region_code: str | None
    name: str
    title: str
    email: str | None
    email_canonical: str | None
    postal_address: str

    def row(self, campaign_id: int) -> dict[str, Any]:
        values = asdict(self)
        del values["email_canonical"]
        return {**values, "campaign_id": campaign_id, "created_at": utcnow()}

    def keys(self) -> dict[str, tuple[str | None, str]]:
        """Field -> what two targets of one region must not share."""
        keys = {"name": (self.region_code, self.name.casefold())}
        if self.email_canonical:
            keys["email"] = (self.region_code, self.email_canonical)
        return keys


def _region(scheme: RegionScheme, value: str) -> str | None:
    code = value.strip()
    if not code:
        return None
    if not scheme.has(code):
        raise InvalidInput(
            {
                "region_code": f'"{shown(code, 40)}" is not a region code of the scheme "{scheme.info.name}" '
                f"({scheme.info.id}). Leave it empty for a target of every signer."
            }
        )
    return scheme.get(code).code


def _email(value: str) -> tuple[str | None, str | None]:
    return clean_email(value, field="email") if value.strip() else (None, None)


def _address(values: dict[str, str]) -> str:
    """The postal address: the ``postal_address`` cell, or the address line columns joined one a line."""
    lines = [(column, values.get(column, "")) for column in ADDRESS_LINE_COLUMNS]
    address = values.get("postal_address", "")
    if any(line.strip() for _, line in lines):
        if address.strip():
            raise InvalidInput(
                {"postal_address": "Give the address in postal_address or in address_line1 to address_line4, not both."}
            )
        cleaned = (clean_text(line, field=column, limit=ADDRESS_LINE_MAX) for column, line in lines)
        address = "\n".join(line for line in cleaned if line)
    return clean_text(address, field="postal_address", limit=ADDRESS_MAX, newlines=True)


def _check(scheme: RegionScheme, values: dict[str, str]) -> tuple[_Checked | None, dict[str, str]]:
    """The cleaned target, or None and each field's problem."""
    cleaned, errors = check_cells(
        values,
        {
            "region_code": lambda v: _region(scheme, v),
            "name": lambda v: clean_text(v, field="name", limit=NAME_MAX, required=True),
            "title": lambda v: clean_text(v, field="title", limit=TITLE_MAX),
            "email": _email,
            "postal_address": lambda _: _address(values),
        },
    )
    if errors:
        return None, errors
    email, canonical = cleaned.pop("email")
    return _Checked(**cleaned, email=email, email_canonical=canonical), {}


def _campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignNotFound(str(campaign_id))
    return campaign


def _check_rows(scheme: RegionScheme, data: bytes) -> list[_Checked]:
    errors: list[RowError] = []
    checked: list[_Checked] = []
    seen: dict[str, dict[tuple[str | None, str], int]] = {"name": {}, "email": {}}
    for row in read_csv(data, required=REQUIRED_COLUMNS, optional=OPTIONAL_COLUMNS):
        problem = row.problem_error()
        if problem is not None:
            errors.append(problem)
            continue
        target, field_errors = _check(scheme, row.values)
        errors.extend(row_errors(row, field_errors))
        if target is None:
            continue
        for column, key in target.keys().items():
            earlier = seen[column].setdefault(key, row.line)
            if earlier != row.line:
                message = f"Same region and {column} as line {earlier}."
                errors.append(RowError(row.line, column, row.values[column], message))
        checked.append(target)
    if errors:
        raise TargetImportError(errors, what="targets file")
    return checked


def import_targets(*, session: Session, campaign_id: int, data: bytes, actor: Actor) -> ImportResult:
    """Replace the campaign's targets by the rows of a CSV file (region_code,name,title,email and, optional,
    postal_address or address_line1 to address_line4).

    Every row is checked first; if any is wrong, ``TargetImportError`` lists each problem and nothing
    changes. Otherwise the old targets are deleted and the new ones inserted in the caller's transaction,
    so the campaign never has half a list. An empty region_code means a target for every signer.
    """
    campaign = _campaign(session, campaign_id)
    rows = _check_rows(resolve_scheme(session=session, scheme_id=campaign.region_scheme), data)
    result = session.execute(delete(Target).where(col(Target.campaign_id) == campaign_id))
    replaced = int(getattr(result, "rowcount", 0) or 0)
    session.execute(insert(Target), [r.row(campaign_id) for r in rows])
    audit.record(
        session=session,
        actor=actor,
        action="targets.import",
        campaign_id=campaign_id,
        count=len(rows),
        replaced=replaced,
    )
    return ImportResult(count=len(rows), replaced=replaced)


def _check_not_taken(session: Session, campaign_id: int, target: _Checked) -> None:
    same_region = (
        col(Target.region_code) == target.region_code if target.region_code else col(Target.region_code).is_(None)
    )
    existing = session.execute(select(Target).where(col(Target.campaign_id) == campaign_id, same_region)).scalars()
    for other in existing:
        other_canonical = canonical_email(other.email) if other.email else None
        if other.name.casefold() == target.name.casefold():
            raise InvalidInput({"name": f'There is already a target called "{other.name}" for this region.'})
        if target.email_canonical and other_canonical == target.email_canonical:
            raise InvalidInput({"email": f'"{other.name}" already has this email address for this region.'})


def add_target(
    *,
    session: Session,
    campaign_id: int,
    region_code: str | None,
    name: str,
    title: str = "",
    email: str | None = None,
    postal_address: str = "",
    actor: Actor,
) -> Target:
    """Add one target (``region_code`` None or "" for every signer); InvalidInput names each wrong field."""
    campaign = _campaign(session, campaign_id)
    values = {"region_code": region_code or "", "name": name, "title": title, "email": email or ""}
    checked, errors = _check(
        resolve_scheme(session=session, scheme_id=campaign.region_scheme), {**values, "postal_address": postal_address}
    )
    if checked is None:
        raise InvalidInput(errors)
    _check_not_taken(session, campaign_id, checked)
    target = Target(**checked.row(campaign_id))
    session.add(target)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="targets.add",
        campaign_id=campaign_id,
        target_id=target.id,
        name=target.name,
        region_code=target.region_code,
    )
    return target


def _order(target: Target) -> tuple[bool, str, str, int]:
    return (target.region_code is not None, target.region_code or "", target.name.casefold(), target.id or 0)


def list_targets(*, session: Session, campaign_id: int) -> list[Target]:
    """All targets of a campaign: those for every signer first, then by region code, then by name."""
    targets = session.execute(select(Target).where(col(Target.campaign_id) == campaign_id)).scalars().all()
    return sorted(targets, key=_order)


def list_targets_for_region(*, session: Session, campaign_id: int, region_code: str | None) -> list[Target]:
    """Who a signer of ``region_code`` writes to: the region's own targets, then the targets for every signer."""
    code = (region_code or "").strip().upper()
    where = (
        or_(col(Target.region_code) == code, col(Target.region_code).is_(None))
        if code
        else col(Target.region_code).is_(None)
    )
    targets = session.execute(select(Target).where(col(Target.campaign_id) == campaign_id, where)).scalars().all()
    return sorted(targets, key=lambda t: (t.region_code is None, t.name.casefold(), t.id or 0))
