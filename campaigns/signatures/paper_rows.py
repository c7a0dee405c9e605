"""Checking a paper-signature file: its columns, then each row against the campaign and the rules below.

The file has the columns ``name, email, region, signed_date, consent`` (any order, any case; other
spellings in ``HEADER_SPELLINGS``), read by ``uploads.read_csv`` (size, line, column and row limits;
UTF-8 with or without a BOM or Windows-1252, never a mix of the two; comma, semicolon or tab).

Rules, chosen to be simple and safe:

- **Email is required.** One signature per person is the database's unique (campaign, canonical email)
  constraint: without an email a paper signer could not be merged with their online signature, a
  re-run of the same file would count them again, and they could not reach their own data later.
- **Region**: the scheme's code, the region's name (case and accents ignored), or for codes like
  ``US-CA`` (ISO 3166-2) the part after the dash: the US postal abbreviation ``CA``.
- **Signed date**: ``YYYY-MM-DD`` (or an ISO date-time such as ``2026-03-14T15:30``, UTC unless it
  names an offset); not in the future, not before the day the campaign was created, not after it
  closed or its deadline. A date alone is stored as 12:00 UTC that day (the same day in nearly every
  time zone), moved to the campaign's creation time or to now when those fall on that day.
  ``14/03/2026`` and the like are refused: they read differently in different countries.
- **Consent** to be contacted: yes, y, true, 1 / no, n, false, 0, or empty (= no). A consenting row gets
  the campaign's consent wording and consent time = signed time.
- Text that looks like a spreadsheet formula (``=HYPERLINK(...)``) is stored as typed: it is data.
  Values quoted in the report's messages are cut to 100 characters with control and text-direction
  characters made visible (``uploads.shown``), and a cell a spreadsheet would run as a formula is
  prefixed with an apostrophe.

A person on an earlier line of the same file is a duplicate (counted once). Nothing here touches the
database: ``paper`` finds the campaign, and imports what passes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from functools import lru_cache
from typing import Any

from campaigns.core.errors import InvalidInput
from campaigns.core.models import SignatureStatus
from campaigns.core.uploads import CsvRow, read_csv, shown
from campaigns.core.validation import clean_email, clean_name
from campaigns.regions.schemes import Region, RegionScheme, fold_text

COLUMNS = ["name", "email", "region", "signed_date", "consent"]
HEADER_SPELLINGS: dict[str, tuple[str, ...]] = {
    "name": ("name", "full name", "signer", "signer name"),
    "email": ("email", "e mail", "email address", "e mail address", "mail"),
    "region": ("region", "region code", "state", "country", "constituency", "province"),
    "signed_date": ("signed date", "signed on", "signed at", "signed", "date", "date signed", "signature date"),
    "consent": ("consent", "contact consent", "contact", "opt in", "may contact"),
}
ALIASES = {spelling: column for column, spellings in HEADER_SPELLINGS.items() for spelling in spellings}
_YES = frozenset({"yes", "y", "true", "1"})
_NO = frozenset({"no", "n", "false", "0", ""})
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")
_LABELS = {"name": "Name", "email": "Email", "region": "Region", "signed_date": "Signed date", "consent": "Consent"}


class Outcome:
    """What became of one row of the file (the report's ``outcome`` column)."""

    imported = "imported"
    ready = "ready"  # dry run: would be imported
    duplicate = "duplicate"
    error = "error"


@dataclass(frozen=True)
class RowOutcome:
    line: int  # the row's line in the file (the header is line 1), as a spreadsheet numbers it
    outcome: str
    message: str


@dataclass(frozen=True)
class PaperCampaign:
    """What checking needs of the campaign the file goes into."""

    id: int
    slug: str
    status: str
    region_scheme: str
    consent_hash: str
    created_at: datetime
    closes: datetime | None  # when it closed, or its deadline: no signature after that


# --- one row ---------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _region_index(scheme: RegionScheme) -> dict[str, Region | None]:
    """Folded name, and the part after the dash of ISO 3166-2 codes ("CA" of "US-CA") -> region.

    None marks a key shared by several regions (ambiguous). Codes are looked up by ``scheme`` itself.
    """
    names: dict[str, Region | None] = {}
    for region in scheme.regions:
        key = fold_text(region.name)
        names[key] = None if key in names else region
    suffixes: dict[str, Region | None] = {}
    for region in scheme.regions:
        prefix, dash, rest = region.code.partition("-")
        if dash and len(prefix) == 2 and prefix.isalpha() and rest:
            suffixes[rest] = None if rest in suffixes else region
    return {**{f"suffix:{k}": v for k, v in suffixes.items()}, **{f"name:{k}": v for k, v in names.items()}}


def find_region(scheme: RegionScheme, text: str) -> Region:
    """The region a person wrote: its code, its name, or (``US-CA``) its postal abbreviation, any case."""
    raw = text.strip()
    label = scheme.info.region_label.lower()
    if not raw:
        raise InvalidInput({"region": f"The {label} is missing."})
    if scheme.has(raw):
        return scheme.get(raw)
    index = _region_index(scheme)
    for key in (f"name:{fold_text(raw)}", f"suffix:{raw.upper()}"):
        if key in index:
            region = index[key]
            if region is None:
                raise InvalidInput({"region": f"“{shown(raw)}” names several {label}s; use the code instead."})
            return region
    raise InvalidInput(
        {"region": f"Unknown {label} “{shown(raw)}”: use a code or name from the scheme “{scheme.info.id}”."}
    )


def _consent(text: str) -> bool:
    value = text.strip().lower()
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise InvalidInput({"consent": f"“{shown(value)}” is not yes or no (yes, y, true, 1 / no, n, false, 0, empty)."})


def signed_moment(text: str, campaign: PaperCampaign, now: datetime) -> datetime:
    """When the paper was signed, in UTC, within the campaign's life (see the module's rules)."""
    raw = text.strip()
    if not raw:
        raise InvalidInput({"signed_date": "The signed date is missing (write it as YYYY-MM-DD)."})
    if not _ISO.match(raw):
        raise InvalidInput({"signed_date": f"“{shown(raw)}” is not a date as YYYY-MM-DD (for example 2026-03-14)."})
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput({"signed_date": f"“{shown(raw)}” is not a real date."}) from None
    dated_only = len(raw) == 10
    moment = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    day = moment.date()
    too_late = campaign.closes is not None and (
        day > campaign.closes.date() if dated_only else moment > campaign.closes
    )
    if (day > now.date()) if dated_only else (moment > now):
        raise InvalidInput({"signed_date": f"{raw} is in the future."})
    if (day < campaign.created_at.date()) if dated_only else (moment < campaign.created_at):
        created = f"{campaign.created_at:%Y-%m-%d}"
        raise InvalidInput({"signed_date": f"{raw} is before the campaign was created ({created})."})
    if too_late:
        assert campaign.closes is not None
        raise InvalidInput({"signed_date": f"{raw} is after the campaign closed ({campaign.closes:%Y-%m-%d})."})
    if not dated_only:
        return moment
    noon = datetime.combine(day, time(12), tzinfo=UTC)
    latest = min(now, campaign.closes) if campaign.closes is not None else now
    return min(max(noon, campaign.created_at), latest)


def _name(text: str) -> str:
    if not text.strip():
        raise InvalidInput({"name": "The name is missing."})
    return clean_name(text, field="name")


def _email(text: str) -> tuple[str, str]:
    if not text.strip():
        raise InvalidInput(
            {"email": "The email is missing: paper signatures need one, so that each person is counted once."}
        )
    try:
        return clean_email(text)
    except InvalidInput as exc:
        raise InvalidInput({"email": f"“{shown(text.strip())}”: {exc.user_message}"}) from None


def _check_row(values: dict[str, str], campaign: PaperCampaign, scheme: RegionScheme, now: datetime) -> dict[str, Any]:
    checks: dict[str, Callable[[str], Any]] = {
        "name": _name,
        "email": _email,
        "region": lambda v: find_region(scheme, v),
        "signed_date": lambda v: signed_moment(v, campaign, now),
        "consent": _consent,
    }
    cleaned: dict[str, Any] = {}
    problems: list[str] = []
    for column, check in checks.items():
        try:
            cleaned[column] = check(values.get(column, ""))
        except InvalidInput as exc:
            problems.extend(f"{_LABELS[column]}: {message}" for message in exc.errors.values())
    if problems:
        raise InvalidInput({"row": " ".join(p if p.endswith(".") else p + "." for p in problems)})
    return cleaned


# --- the whole file --------------------------------------------------------------------------------


@dataclass
class PaperFile:
    """A readable file for one importable campaign: its rows, not yet checked."""

    campaign: PaperCampaign
    scheme: RegionScheme
    rows: list[CsvRow]
    first_line: dict[str, int] = field(default_factory=dict)  # canonical email -> its first good line


def read_file(campaign: PaperCampaign, scheme: RegionScheme, data: bytes) -> PaperFile:
    """The file's rows for this campaign, not yet checked; ``InvalidInput({"file": ...})`` when the file as a
    whole cannot be read (see ``uploads.read_csv``)."""
    return PaperFile(campaign, scheme, read_csv(data, required=COLUMNS, aliases=ALIASES))


def check_rows(
    file: PaperFile, rows: Sequence[CsvRow], source: str, now: datetime
) -> tuple[list[tuple[int, dict[str, Any]]], list[RowOutcome]]:
    """Check ``rows`` (the next rows of ``file``): (line, signature row) for each new person, outcomes of the rest."""
    campaign = file.campaign
    ready: list[tuple[int, dict[str, Any]]] = []
    outcomes: list[RowOutcome] = []
    for row in rows:
        if row.problem is not None:
            where = f" ({row.problem_column})" if row.problem_column else ""
            outcomes.append(RowOutcome(row.line, Outcome.error, f"The row{where} {row.problem}."))
            continue
        try:
            cleaned = _check_row(row.values, campaign, file.scheme, now)
        except InvalidInput as exc:
            outcomes.append(RowOutcome(row.line, Outcome.error, exc.errors["row"]))
            continue
        email, canonical = cleaned["email"]
        if canonical in file.first_line:
            message = f"Same person (same email) as line {file.first_line[canonical]} of this file: counted once."
            outcomes.append(RowOutcome(row.line, Outcome.duplicate, message))
            continue
        file.first_line[canonical] = row.line
        signed_at: datetime = cleaned["signed_date"]
        consent: bool = cleaned["consent"]
        ready.append(
            (
                row.line,
                {
                    "campaign_id": campaign.id,
                    "full_name": cleaned["name"],
                    "email": email,
                    "email_canonical": canonical,
                    "region_code": cleaned["region"].code,
                    "contact_consent": consent,
                    "consent_hash": campaign.consent_hash if consent else None,
                    "consent_at": signed_at if consent else None,
                    "status": SignatureStatus.counted.value,
                    "created_at": signed_at,
                    "source": source,
                },
            )
        )
    return ready, outcomes
