"""Paper and offline signatures: a CSV of signers, checked row by row (``paper_rows``: the columns and the
rules), then counted like any signature. Each row ends as one of:

- ``imported``: a new, counted signature (``ready`` in a dry run: it would be imported);
- ``duplicate``: the same person (canonical email, as for online signing) signed the campaign already,
  online or in an earlier import, or appears on an earlier line of the file: counted once;
- ``error``: something to fix, said in the report's message; the row is skipped.

Good rows are imported even when other rows have errors: the coordinator fixes those rows and uploads
the whole file again; rows already in are then duplicates, never counted twice. The file is checked and
written in chunks of ``CHUNK_ROWS`` rows, each chunk one transaction holding its signatures and their
count bumps (per region, hour and region-day, through ``count_writes.add_counts``, sharded as
``signing.sign`` does), so a row is never half-written, SQLite's write lock is never held for long, and a
failure part-way leaves whole chunks that a re-run skips as duplicates. Checking happens outside the
write transaction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from campaigns.catalog.listing import campaign_not_found, get_campaign_by_slug
from campaigns.core import audit
from campaigns.core.audit import Actor
from campaigns.core.db import dialect_insert, read_session, run_write
from campaigns.core.errors import RallyError
from campaigns.core.models import (
    Campaign,
    CampaignStatus,
    Signature,
    SignatureSource,
    utcnow,
)
from campaigns.core.uploads import UTF8_BOM, shown
from campaigns.regions.lookup import resolve_scheme
from campaigns.signatures.count_writes import add_counts
from campaigns.signatures.paper_rows import Outcome, PaperCampaign, PaperFile, RowOutcome, check_rows, read_file

CHUNK_ROWS = 1_000
IMPORTABLE = (CampaignStatus.published.value, CampaignStatus.closed.value)


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
        return UTF8_BOM + out.getvalue().encode("utf-8")


def _many(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _cell(text: str) -> str:
    """A report cell a spreadsheet shows as text: values quoted in messages went through ``shown``."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# --- the campaign --------------------------------------------------------------------------------


def list_importable_campaigns(*, session: Session) -> list[Campaign]:
    """Campaigns that take paper signatures (published or closed), newest first."""
    stmt = (
        select(Campaign)
        .where(col(Campaign.status).in_(IMPORTABLE))
        .order_by(col(Campaign.created_at).desc(), col(Campaign.id).desc())
    )
    return list(session.execute(stmt).scalars().all())


def _campaign(session: Session, slug: str) -> PaperCampaign:
    campaign = get_campaign_by_slug(session=session, slug=slug.strip())
    if campaign is None:
        raise campaign_not_found(slug.strip())
    if campaign.status not in IMPORTABLE:
        raise RallyError(
            f"“{campaign.slug}” is {campaign.status}: paper signatures go into published or closed campaigns only.",
            field="campaign",
        )
    ends = [t for t in (campaign.closed_at, campaign.deadline) if t is not None]
    return PaperCampaign(
        id=campaign.id or 0,
        slug=campaign.slug,
        status=campaign.status,
        region_scheme=campaign.region_scheme,
        consent_hash=campaign.consent_hash,
        created_at=campaign.created_at,
        closes=min(ends) if ends else None,
    )


# --- the whole file --------------------------------------------------------------------------------


def _open(session: Session, campaign_slug: str, data: bytes) -> PaperFile:
    campaign = _campaign(session, campaign_slug)
    return read_file(campaign, resolve_scheme(session=session, scheme_id=campaign.region_scheme), data)


_ALREADY = "Already signed this campaign (online or in an earlier import): counted once."


def preview_import(
    *,
    session: Session,
    campaign_slug: str,
    data: bytes,
    file_name: str = "",
    now: datetime | None = None,
    on_progress: Callable[[int, int], object] | None = None,
) -> ImportReport:
    """A dry run: what importing ``data`` would do to each row, writing nothing.

    Raises ``InvalidInput({"file": ...})`` when the file as a whole cannot be read (see ``uploads.read_csv``).
    ``on_progress(rows checked, rows in the file)`` is called after each chunk of rows.
    """
    now = now or utcnow()
    file = _open(session, campaign_slug, data)
    report = ImportReport(file.campaign.slug, file_name, dry_run=True)
    for start in range(0, len(file.rows), CHUNK_ROWS):
        ready, outcomes = check_rows(file, file.rows[start : start + CHUNK_ROWS], SignatureSource.paper.value, now)
        report.rows.extend(outcomes)
        emails = [row["email_canonical"] for _, row in ready]
        stmt = select(col(Signature.email_canonical)).where(
            col(Signature.campaign_id) == file.campaign.id,
            col(Signature.email_canonical).in_(emails),
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
    on_progress: Callable[[int, int], object] | None = None,
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
            ready, outcomes = check_rows(file, file.rows[start : start + chunk_rows], source, now)
            report.rows.extend(outcomes)
            stored = (
                run_write(engine, lambda s, ready=ready: _write_chunk(s, campaign_id, ready, now))  # type: ignore[misc]  # mypy can't type a lambda with a default
                if ready
                else set()
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
            session=s,
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


_SIGNATURE = Signature.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it


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
    add_counts(
        session=session, campaign_id=campaign_id, signed=[(region, created) for _, region, created in stored], now=now
    )
    return {email for email, _, _ in stored}


def clean_file_name(name: str) -> str:
    """A file name fit for the audit log and messages: its last part, shortened, odd characters shown."""
    return shown(name.replace("\\", "/").rsplit("/", 1)[-1], 120)
