"""Export file formats: CSV, XLSX (constant memory) and JSON (OSDI signatures), written a batch at a time.

Spreadsheet formula injection (OWASP "CSV injection"): a text cell starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return could run as a formula when a spreadsheet opens or edits
it. The exporter never changes anything else; it does exactly this:

* CSV: such a cell gets a single quote in front (``=1+1`` -> ``'=1+1``, ``+44 20 7946`` ->
  ``'+44 20 7946``, ``-5`` -> ``'-5``). Spreadsheets show the quote; the rest is unchanged.
* XLSX: every text value is written as a text cell, never a formula; such a cell also gets
  Excel's "quote prefix" style (what typing a leading ``'`` does), so the value stays exactly as
  typed and visible, and stays text even if someone edits the cell. The only number columns
  (``letters_sent``, ``letters_downloaded_or_opened``) are written as numbers.
* JSON is not a spreadsheet format: values are exported exactly as stored.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from campaigns.core.audit import Actor
from campaigns.core.errors import RallyError
from campaigns.core.models import utcnow
from campaigns.export.csv_lines import csv_statement, line_maker, text_batches
from campaigns.export.filters import ExportFilter
from campaigns.export.snapshot import (
    COLUMNS,
    Snapshot,
    file_name,
    open_snapshot,
    record_export,
)
from campaigns.export.xlsx_sheet import write_workbook

FORMATS = ("csv", "xlsx", "json")
XLSX_MAX_ROWS = 1_048_576  # an Excel sheet's rows, the header row included
BOM = "\ufeff"
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
FILE_CHUNK = 1 << 20
log = logging.getLogger(__name__)

Row = tuple[Any, ...]


class ExportRefused(RallyError):
    """The export cannot be made as asked (too many rows for the format, nothing chosen...)."""


# --- CSV -----------------------------------------------------------------------------------------


def csv_chunks(snapshot: Snapshot, *, bom: bool = False) -> Iterator[bytes]:
    """UTF-8 CSV (RFC 4180: comma, double quotes, CRLF rows), one chunk per batch; the header comes first.

    Every text cell gets the formula rule; the lines are made by ``csv_lines.line_maker``."""
    buffer = io.StringIO()
    if bom:
        buffer.write(BOM)
    csv.writer(buffer).writerow(COLUMNS)
    yield buffer.getvalue().encode("utf-8")
    statement = csv_statement(snapshot.checked, snapshot.connection.dialect.name)
    lines = line_maker(snapshot.checked, statement.selected_columns.keys())
    for text in snapshot.stream(statement, lines):
        yield text.encode("utf-8")


# --- JSON (OSDI) ---------------------------------------------------------------------------------


def osdi_signature(row: Row) -> dict[str, Any]:
    """One row, in ``COLUMNS`` order (the file's, as ``Snapshot.batches`` yields it), as an OSDI signature with its
    person embedded (README: "JSON export")."""
    (campaign, first, last, full, email, region, region_name, postal, comment, consent, version, consent_at) = row[:12]
    (source, utm_source, utm_medium, utm_campaign, referrer, signed_at, status, letters_sent, taken) = row[12:]
    consenting = consent == "yes"
    return {
        "created_date": signed_at,
        "comments": comment,
        "referrer_data": {"source": utm_source, "website": referrer},
        "person": {
            "given_name": first,
            "family_name": last,
            "email_addresses": [
                {"address": email, "primary": True, "status": "subscribed" if consenting else "unsubscribed"}
            ],
            "postal_addresses": [{"primary": True, "region": region, "postal_code": postal}],
            "custom_fields": {"full_name": full, "region_name": region_name},
        },
        "custom_fields": {
            "campaign": campaign,
            "status": status,
            "source": source,
            "contact_consent": consenting,
            "consent_version": version,
            "consent_at": consent_at,
            "utm_source": utm_source,
            "utm_medium": utm_medium,
            "utm_campaign": utm_campaign,
            "letters_sent": letters_sent,
            "letters_downloaded_or_opened": taken,
        },
    }


def json_chunks(batches: Iterable[list[Row]], *, count: int, filters: dict[str, Any], now: datetime) -> Iterator[bytes]:
    """A JSON document: export facts, then ``_embedded["osdi:signatures"]``, one signature per line."""

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))

    head = (
        "{\n"
        f'"origin_system": "Rally",\n"generated_at": {dump(now.strftime("%Y-%m-%dT%H:%M:%SZ"))},\n'
        f'"total_records": {count},\n"filters": {dump(filters)},\n'
        '"_embedded": {"osdi:signatures": [\n'
    )
    yield head.encode("utf-8")
    first = True
    for batch in batches:
        if not batch:
            continue
        text = ",\n".join(dump(osdi_signature(row)) for row in batch)
        yield (text if first else ",\n" + text).encode("utf-8")
        first = False
    yield b"\n]}}\n"


# --- XLSX ----------------------------------------------------------------------------------------


def check_xlsx_rows(count: int, max_rows: int = XLSX_MAX_ROWS) -> None:
    if count + 1 > max_rows:
        raise ExportRefused(
            f"This export has {count:,} people, and an Excel sheet holds at most {max_rows:,} rows "
            f"(the header row included, so {max_rows - 1:,} people). Choose CSV or JSON, or narrow the "
            "filters (a date range, some regions) and export in parts."
        )


def write_xlsx(path: Path, batches: Iterable[list[Row]], *, count: int, max_rows: int = XLSX_MAX_ROWS) -> None:
    """One sheet, written a batch of rows at a time (``xlsx_sheet``); text is never a formula.

    The temporary files (xlsxwriter's frame of the workbook) go in a folder of their own next to ``path``,
    removed whatever happens. A disk that refuses a write (full, read-only) raises the ``OSError`` it is, as
    CSV and JSON do (xlsxwriter would wrap it in its ``FileCreateError``).
    """
    from xlsxwriter.exceptions import FileCreateError

    check_xlsx_rows(count, max_rows)
    rows = iter(batches)
    try:
        write_workbook(path, rows, count=count, check=lambda r: check_xlsx_rows(r, max_rows), max_rows=max_rows)
    except FileCreateError as exc:
        cause = exc.args[0] if exc.args and isinstance(exc.args[0], OSError) else OSError(str(exc))
        raise cause from exc
    finally:
        if hasattr(rows, "close"):  # a cursor's batches: let go of the cursor now, while its connection is open
            rows.close()


@contextmanager
def built_xlsx(batches: Iterable[list[Row]], *, count: int, max_rows: int = XLSX_MAX_ROWS) -> Iterator[Path]:
    """The finished workbook, in a temporary folder (a zip is finished only at its end) removed when the block ends."""
    check_xlsx_rows(count, max_rows)
    with tempfile.TemporaryDirectory(prefix="rally-export-") as folder:
        path = Path(folder) / "export.xlsx"
        write_xlsx(path, batches, count=count, max_rows=max_rows)
        yield path


def file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(FILE_CHUNK):
            yield chunk


def xlsx_chunks(batches: Iterable[list[Row]], *, count: int, max_rows: int = XLSX_MAX_ROWS) -> Iterator[bytes]:
    """Build the workbook in a temporary folder, then send it and delete it."""
    with built_xlsx(batches, count=count, max_rows=max_rows) as path:
        yield from file_chunks(path)


# --- one export, start to finish -----------------------------------------------------------------


def chunks(snapshot: Snapshot, fmt: str, *, bom: bool = False, now: datetime | None = None) -> Iterator[bytes]:
    """The file's bytes, read from the snapshot's cursor a batch at a time."""
    if fmt == "csv":
        return csv_chunks(snapshot, bom=bom)
    if fmt == "json":
        filters = snapshot.checked.filter.as_dict()
        return json_chunks(snapshot.batches(), count=snapshot.count, filters=filters, now=now or snapshot.taken_at)
    if fmt == "xlsx":
        return xlsx_chunks(text_batches(snapshot), count=snapshot.count)
    raise ExportRefused(f"Choose a format: {', '.join(FORMATS)}.")


def download_chunks(snapshot: Snapshot, fmt: str, *, bom: bool, cleanup: ExitStack) -> Iterator[bytes]:
    """``chunks`` for a download, which must fail before its first byte if it fails at all: an XLSX workbook is
    built now (so a full disk is an answer, not a cut-off download), in a temporary folder that ``cleanup``
    removes; CSV and JSON need no disk and stream as they are read."""
    if fmt == "xlsx":
        path = cleanup.enter_context(built_xlsx(text_batches(snapshot), count=snapshot.count))
        return file_chunks(path)
    return chunks(snapshot, fmt, bom=bom)


def disk_problem(exc: OSError) -> str:
    """What the disk said, in words: "the disk is full", "the folder is read-only"..."""
    words = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is used up",
        errno.EFBIG: "the file is larger than this system allows",
        errno.EROFS: "the folder is read-only",
        errno.EACCES: "the folder is not writable by this user",
        errno.EPERM: "the folder is not writable by this user",
    }
    return words.get(exc.errno or 0, exc.strerror or str(exc))


def check_format(fmt: str, count: int, *, max_rows: int = XLSX_MAX_ROWS) -> None:
    if fmt not in FORMATS:
        raise ExportRefused(f"Choose a format: {', '.join(FORMATS)}.")
    if fmt == "xlsx":
        check_xlsx_rows(count, max_rows)


def export_to_file(
    *,
    engine: Engine,
    export_filter: ExportFilter,
    fmt: str,
    output: Path | None,
    actor: Actor,
    bom: bool = False,
    now: datetime | None = None,
    max_rows: int = XLSX_MAX_ROWS,
    batch_rows: int | None = None,
) -> tuple[Path, int]:
    """Write the export to ``output`` (default: its standard name in the current folder); returns (path, rows).

    The file is written under a temporary name in the same folder and renamed into place only when
    complete, so a failure never leaves a partial file. The audit entry is written before the rename.
    """
    if fmt not in FORMATS:
        raise ExportRefused(f"Choose a format: {', '.join(FORMATS)}.")
    now = now or utcnow()
    options = {} if batch_rows is None else {"batch_rows": batch_rows}
    try:
        return _write_export(engine, export_filter, fmt, output, actor, bom, now, max_rows, options)
    except DBAPIError as exc:  # e.g. the connection lost half-way (the temporary file is gone already)
        log.exception("export failed while reading the database")
        raise RallyError("The database stopped answering during the export. No file was left behind.") from exc


def _write_export(
    engine: Engine,
    export_filter: ExportFilter,
    fmt: str,
    output: Path | None,
    actor: Actor,
    bom: bool,
    now: datetime,
    max_rows: int,
    options: dict[str, int],
) -> tuple[Path, int]:
    with open_snapshot(engine=engine, export_filter=export_filter, **options) as snapshot:
        check_format(fmt, snapshot.count, max_rows=max_rows)
        name = file_name(snapshot.checked.filter.campaigns, fmt, now.date())
        target = (output or Path(name)).expanduser()
        if target.is_dir():
            target = target / name
        folder = target.parent if str(target.parent) else Path(".")
        if not folder.is_dir():
            raise RallyError(f"The folder {folder} does not exist.")
        fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
        temp = Path(temp_name)
        try:
            if fmt == "xlsx":
                os.close(fd)
                write_xlsx(temp, text_batches(snapshot), count=snapshot.count, max_rows=max_rows)
            else:
                with os.fdopen(fd, "wb") as handle, closing(chunks(snapshot, fmt, bom=bom, now=now)) as body:  # type: ignore[type-var]  # a generator: it closes
                    for chunk in body:
                        handle.write(chunk)
                    handle.flush()
                    os.fsync(handle.fileno())
            record_export(engine=engine, actor=actor, snapshot=snapshot, fmt=fmt, name=target.name, via="cli", bom=bom)
            os.replace(temp, target)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise RallyError(f"Could not write {target}: {disk_problem(exc)}. No file was left behind.") from exc
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return target, snapshot.count
