"""Paper and offline signatures: a CSV of signers, checked row by row, then counted like any signature.

The file has the columns ``name, email, region, signed_date, consent`` (any order, any case; other
spellings in ``HEADER_SPELLINGS``), read by ``uploads.read_csv`` (size, line, column and row limits;
UTF-8 with or without a BOM or Windows-1252, never a mix of the two; comma, semicolon or tab). Each row
ends as one of:

- ``imported``: a new, counted signature (``ready`` in a dry run: it would be imported);
- ``duplicate``: the same person (canonical email, as for online signing) signed the campaign already,
  online or in an earlier import, or appears on an earlier line of the file: counted once;
- ``error``: something to fix, said in the report's message; the row is skipped.

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

Good rows are imported even when other rows have errors: the coordinator fixes those rows and uploads
the whole file again; rows already in are then duplicates, never counted twice. The file is checked and
written in chunks of ``CHUNK_ROWS`` rows, each chunk one transaction holding its signatures and their count
bumps (per region, hour and region-day, through ``stats.add_counts``, sharded as ``signing.sign`` does), so
a row is never half-written, SQLite's write lock is never held for long, and a failure part-way leaves
whole chunks that a re-run skips as duplicates. Checking happens outside the write transaction.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from campaigns.catalog.listing import campaign_not_found, get_campaign_by_slug
from campaigns.core import audit
from campaigns.core.audit import Actor
from campaigns.core.db import dialect_insert, read_session, run_write
from campaigns.core.errors import InvalidInput, RallyError
from campaigns.core.models import (
    Campaign,
    CampaignStatus,
    Signature,
    SignatureSource,
    SignatureStatus,
    utcnow,
)
from campaigns.core.uploads import _BOM, CsvRow, read_csv, shown
from campaigns.core.validation import clean_email, clean_name
from campaigns.regions.custom import resolve_scheme
from campaigns.regions.schemes import Region, RegionScheme, _fold
from campaigns.signatures.counts import add_counts

COLUMNS = ["name", "email", "region", "signed_date", "consent"]
HEADER_SPELLINGS: dict[str, tuple[str, ...]] = {
    "name": ("name", "full name", "signer", "signer name"),
    "email": ("email", "e mail", "email address", "e mail address", "mail"),
    "region": ("region", "region code", "state", "country", "constituency", "province"),
    "signed_date": ("signed date", "signed on", "signed at", "signed", "date", "date signed", "signature date"),
    "consent": ("consent", "contact consent", "contact", "opt in", "may contact"),
}
ALIASES = {spelling: column for column, spellings in HEADER_SPELLINGS.items() for spelling in spellings}
CHUNK_ROWS = 1_000
IMPORTABLE = (CampaignStatus.published.value, CampaignStatus.closed.value)
_YES = frozenset({"yes", "y", "true", "1"})
_NO = frozenset({"no", "n", "false", "0", ""})
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")
_LABELS = {"name": "Name", "email": "Email", "region": "Region", "signed_date": "Signed date", "consent": "Consent"}


class Outcome:
    imported = "imported"
    ready = "ready"  # dry run: would be imported
    duplicate = "duplicate"
    error = "error"


@dataclass(frozen=True)
class RowOutcome:
    line: int  # the row's line in the file (the header is line 1), as a spreadsheet numbers it
    outcome: str
    message: str


@dataclass
class ImportReport:
    """What happened to each row of one file (or would happen, for a dry run)."""

    campaign_slug: str
    file_name: str
    dry_run: bool
    rows: list[RowOutcome] = field(default_factory=list)
    completed: bool = True  # False when the import stopped part-way (whole chunks were saved)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)

    @property
    def imported(self) -> int:
        return self.count(Outcome.imported)

    @property
    def ready(self) -> int:
        return self.count(Outcome.ready)

    @property
    def duplicates(self) -> int:
        return self.count(Outcome.duplicate)

    @property
    def errors(self) -> int:
        return self.count(Outcome.error)

    def summary(self) -> str:
        done = f"{self.ready:,} to import" if self.dry_run else f"{self.imported:,} imported"
        return (
            f"{_many(len(self.rows), 'row')}: {done}, {_many(self.duplicates, 'duplicate')}, "
            f"{_many(self.errors, 'error')}."
        )

    def report_csv(self) -> bytes:
        """UTF-8 CSV with a BOM: line,outcome,message, one line per row of the file, in file order."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["line", "outcome", "message"])
        for row in sorted(self.rows, key=lambda r: r.line):
            writer.writerow([row.line, row.outcome, _cell(row.message)])
        return _BOM + out.getvalue().encode("utf-8")


def _many(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _cell(text: str) -> str:
    """A report cell a spreadsheet shows as text: values quoted in messages went through ``shown``."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@dataclass(frozen=True)
class _Campaign:
    id: int
    slug: str
    status: str
    region_scheme: str
    consent_hash: str
    created_at: datetime
    closes: datetime | None  # when it closed, or its deadline: no signature after that


# --- the campaign --------------------------------------------------------------------------------


def importable_campaigns(session: Session) -> list[Campaign]:
    """Campaigns that take paper signatures (published or closed), newest first."""
    stmt = (
        select(Campaign)
        .where(Campaign.status.in_(IMPORTABLE))  # type: ignore[attr-defined]
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())  # type: ignore[attr-defined, union-attr]
    )
    return list(session.execute(stmt).scalars().all())


def _campaign(session: Session, slug: str) -> _Campaign:
    campaign = get_campaign_by_slug(session=session, slug=slug.strip())
    if campaign is None:
        raise campaign_not_found(slug.strip())
    if campaign.status not in IMPORTABLE:
        raise RallyError(
            f"“{campaign.slug}” is {campaign.status}: paper signatures go into published or closed campaigns only.",
            field="campaign",
        )
    ends = [t for t in (campaign.closed_at, campaign.deadline) if t is not None]
    return _Campaign(
        id=campaign.id or 0,
        slug=campaign.slug,
        status=campaign.status,
        region_scheme=campaign.region_scheme,
        consent_hash=campaign.consent_hash,
        created_at=campaign.created_at,
        closes=min(ends) if ends else None,
    )


# --- one row ---------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _region_index(scheme: RegionScheme) -> dict[str, Region | None]:
    """Folded name, and the part after the dash of ISO 3166-2 codes ("CA" of "US-CA") -> region.

    None marks a key shared by several regions (ambiguous). Codes are looked up by ``scheme`` itself.
    """
    names: dict[str, Region | None] = {}
    for region in scheme.regions:
        key = _fold(region.name)
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
    for key in (f"name:{_fold(raw)}", f"suffix:{raw.upper()}"):
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


def signed_moment(text: str, campaign: _Campaign, now: datetime) -> datetime:
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


def _check_row(values: dict[str, str], campaign: _Campaign, scheme: RegionScheme, now: datetime) -> dict[str, Any]:
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
class _File:
    """A readable file for one importable campaign: its rows, not yet checked."""

    campaign: _Campaign
    scheme: RegionScheme
    rows: list[CsvRow]
    first_line: dict[str, int] = field(default_factory=dict)  # canonical email -> its first good line


def _open(session: Session, campaign_slug: str, data: bytes) -> _File:
    campaign = _campaign(session, campaign_slug)
    scheme = resolve_scheme(session, campaign.region_scheme)
    return _File(campaign, scheme, read_csv(data, required=COLUMNS, aliases=ALIASES))


def _check_rows(
    file: _File, rows: Sequence[CsvRow], source: str, now: datetime
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


_ALREADY = "Already signed this campaign (online or in an earlier import): counted once."


def preview_import(
    *,
    session: Session,
    campaign_slug: str,
    data: bytes,
    file_name: str = "",
    now: datetime | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """A dry run: what importing ``data`` would do to each row, writing nothing.

    Raises ``InvalidInput({"file": ...})`` when the file as a whole cannot be read (see ``uploads.read_csv``).
    ``on_progress(rows checked, rows in the file)`` is called after each chunk of rows.
    """
    now = now or utcnow()
    file = _open(session, campaign_slug, data)
    report = ImportReport(file.campaign.slug, file_name, dry_run=True)
    for start in range(0, len(file.rows), CHUNK_ROWS):
        ready, outcomes = _check_rows(file, file.rows[start : start + CHUNK_ROWS], SignatureSource.paper.value, now)
        report.rows.extend(outcomes)
        emails = [row["email_canonical"] for _, row in ready]
        stmt = select(Signature.email_canonical).where(
            Signature.campaign_id == file.campaign.id,
            Signature.email_canonical.in_(emails),  # type: ignore[attr-defined]
        )
        existing = set(session.execute(stmt).scalars()) if emails else set()
        for line, row in ready:
            if row["email_canonical"] in existing:
                report.rows.append(RowOutcome(line, Outcome.duplicate, _ALREADY))
            else:
                report.rows.append(RowOutcome(line, Outcome.ready, "Ready to import."))
        if on_progress is not None:
            on_progress(min(start + CHUNK_ROWS, len(file.rows)), len(file.rows))
    report.rows.sort(key=lambda r: r.line)
    return report


def import_signatures(
    *,
    engine: Engine,
    campaign_slug: str,
    data: bytes,
    actor: Actor,
    file_name: str = "",
    source: str = SignatureSource.paper.value,
    now: datetime | None = None,
    chunk_rows: int = CHUNK_ROWS,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import every good row of ``data`` into the campaign, ``chunk_rows`` rows of the file at a time; idempotent.

    Each chunk is checked, then its new signatures are inserted with ``ON CONFLICT DO NOTHING`` and the
    ones stored are added to ``region_count`` and ``hourly_count``, in one transaction. The import is
    written to the audit log (who, campaign, file name, rows imported, duplicates, errors), also when it
    stops part-way. ``on_progress(rows done, rows in the file)`` is called after each chunk.
    """
    if source not in (SignatureSource.paper.value, SignatureSource.import_.value):
        raise ValueError(f"source must be paper or import, not {source!r}")
    now = now or utcnow()
    with read_session(engine) as session:
        file = _open(session, campaign_slug, data)
    campaign_id = file.campaign.id
    report = ImportReport(file.campaign.slug, file_name, dry_run=False)
    total = len(file.rows)
    try:
        for start in range(0, total, chunk_rows):
            ready, outcomes = _check_rows(file, file.rows[start : start + chunk_rows], source, now)
            report.rows.extend(outcomes)
            stored = (
                run_write(engine, lambda s, ready=ready: _write_chunk(s, campaign_id, ready, now)) if ready else set()
            )
            for line, row in ready:
                if row["email_canonical"] in stored:
                    report.rows.append(RowOutcome(line, Outcome.imported, "Imported."))
                else:
                    report.rows.append(RowOutcome(line, Outcome.duplicate, _ALREADY))
            if on_progress is not None:
                on_progress(min(start + chunk_rows, total), total)
    except BaseException:
        report.completed = False
        report.rows.sort(key=lambda r: r.line)
        _audit(engine, actor, report, campaign_id, source)
        raise
    report.rows.sort(key=lambda r: r.line)
    _audit(engine, actor, report, campaign_id, source)
    return report


def _audit(engine: Engine, actor: Actor, report: ImportReport, campaign_id: int, source: str) -> None:
    run_write(
        engine,
        lambda s: audit.record(
            s,
            actor=actor,
            action="signatures_imported",
            campaign_id=campaign_id,
            file=report.file_name,
            source=source,
            imported=report.imported,
            duplicates=report.duplicates,
            errors=report.errors,
            completed=report.completed,
        ),
    )


_SIGNATURE = Signature.__table__  # type: ignore[attr-defined]


def _write_chunk(
    session: Session, campaign_id: int, chunk: Sequence[tuple[int, dict[str, Any]]], now: datetime
) -> set[str]:
    """Insert one chunk and count what was stored, in the caller's transaction: the stored canonical emails."""
    statement = (
        dialect_insert(session, _SIGNATURE)
        .on_conflict_do_nothing(index_elements=["campaign_id", "email_canonical"])
        .returning(_SIGNATURE.c.email_canonical, _SIGNATURE.c.region_code, _SIGNATURE.c.created_at)
    )
    stored = session.execute(statement, [row for _, row in chunk]).all()
    if not stored:
        return set()
    add_counts(session, campaign_id=campaign_id, signed=[(region, created) for _, region, created in stored], now=now)
    return {email for email, _, _ in stored}


def clean_file_name(name: str) -> str:
    """A file name fit for the audit log and messages: its last part, shortened, odd characters shown."""
    return shown(name.replace("\\", "/").rsplit("/", 1)[-1], 120)
