"""Reading files organizers upload: size limit, encoding, CSV header and rows; row error reports.

``read_csv`` refuses a whole file (``InvalidInput({"file": ...})``) only when it cannot be read as
the expected table: too large, empty, not text, wrong header. Problems in single rows (wrong number
of cells, NUL bytes, text-direction controls) are returned on the row (``CsvRow.problem``) so the
caller can report every row at once, with its own checks, as ``RowError``s in an ``UploadRowsError``.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from campaigns.errors import InvalidInput, RallyError
from campaigns.settings import get_settings
from campaigns.validation import BIDI_CONTROLS, find_bad_characters, has_visible_text

_BOM = b"\xef\xbb\xbf"
_DELIMITERS = (",", ";", "\t")
_SAVE_AS_UTF8 = 'Please save it from your spreadsheet as "CSV UTF-8" and upload it again.'
_REPORT_VALUE_MAX = 200
_SHOWN_MAX = 100


@dataclass(frozen=True)
class RowError:
    """One problem in one row of an uploaded file: ``column`` is "" when it concerns the whole row."""

    line: int
    column: str
    value: str
    message: str


@dataclass
class CsvRow:
    """One data row: ``line`` is where it starts in the file (the header is line 1); values stripped."""

    line: int
    values: dict[str, str]
    problem: str | None = None  # e.g. "has 4 cells, the header has 5"; the row should be refused
    problem_column: str = ""  # the column the problem is in, "" for the whole row
    problem_value: str = ""

    def problem_error(self) -> RowError | None:
        if self.problem is None:
            return None
        return RowError(self.line, self.problem_column, self.problem_value, self.problem)


class UploadRowsError(RallyError):
    """Some rows of an uploaded file are wrong, so nothing was saved; ``errors`` lists every problem."""

    def __init__(self, errors: Sequence[RowError], *, what: str = "file") -> None:
        if not errors:
            raise ValueError("UploadRowsError needs at least one error")
        self.errors = sorted(errors, key=lambda e: e.line)
        first = self.errors[0]
        where = f"line {first.line}" + (f", {first.column}" if first.column else "")
        count = "1 problem" if len(self.errors) == 1 else f"{len(self.errors)} problems"
        super().__init__(
            f"The {what} has {count}, so nothing was saved. First, on {where}: {first.message} "
            "Download the report to see every problem, fix them and upload the file again.",
            field="file",
        )

    def report_csv(self) -> bytes:
        return report_csv(self.errors)


def report_csv(errors: Iterable[RowError]) -> bytes:
    """The problems as a UTF-8 CSV (with a BOM, so spreadsheets read it as UTF-8): line,column,value,problem.

    Values are echoed back safely: control and text-direction characters are shown as ``<U+202E>``,
    and a value that a spreadsheet would run as a formula is prefixed with an apostrophe.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["line", "column", "value", "problem"])
    for error in errors:
        writer.writerow([error.line, error.column, _safe_cell(error.value), error.message])
    return _BOM + out.getvalue().encode("utf-8")


def clean_cell(value: str, column: str, limit: int, *, required: bool = False, newlines: bool = False) -> str:
    """A text value, NFC-normalized and stripped; InvalidInput({column: ...}) when missing, too long or odd."""
    value = unicodedata.normalize("NFC", value.strip())
    label = column.replace("_", " ")
    if required and not has_visible_text(value):
        raise InvalidInput({column: f"The {label} is missing."})
    if len(value) > limit:
        raise InvalidInput({column: f"The {label} has {len(value)} characters; at most {limit} are allowed."})
    bad = find_bad_characters(value, allow_newlines=newlines)
    if bad:
        raise InvalidInput({column: f"The {label} contains {bad}; please retype it."})
    return value


def check_cells(
    values: Mapping[str, str], checks: Mapping[str, Callable[[str], Any]]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Run each column's check on its value: (cleaned values, column -> message for each check that failed).

    A check returns the cleaned value or raises ``InvalidInput``; its first message is kept.
    """
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for column, check in checks.items():
        try:
            cleaned[column] = check(values.get(column, ""))
        except InvalidInput as exc:
            errors[column] = exc.user_message
    return cleaned, errors


def row_errors(row: CsvRow, errors: Mapping[str, str]) -> list[RowError]:
    return [RowError(row.line, column, row.values.get(column, ""), message) for column, message in errors.items()]


def _visible(text: str) -> str:
    return "".join(
        f"<U+{ord(ch):04X}>" if ch in BIDI_CONTROLS or (not ch.isprintable() and ch not in " \n") else ch for ch in text
    )


def _safe_cell(value: str) -> str:
    value = value if len(value) <= _REPORT_VALUE_MAX else value[:_REPORT_VALUE_MAX] + "…"
    value = _visible(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def shown(text: str, limit: int = _SHOWN_MAX) -> str:
    """Text from a file, safe to quote back in a message: cut to ``limit``, odd characters made visible."""
    text = text if len(text) <= limit else text[:limit] + "…"
    return _visible(text).replace("\n", " ")


def check_size(data: bytes, *, what: str = "file", field: str = "file") -> None:
    """Refuse data larger than the ``max_upload_mb`` setting, stating both sizes."""
    limit_mb = get_settings().max_upload_mb
    if len(data) > limit_mb * 1024 * 1024:
        size_mb = round(len(data) / (1024 * 1024), 1)
        size = f"{size_mb:.1f} MB" if size_mb > limit_mb else f"just over {limit_mb} MB"
        raise InvalidInput({field: f"The {what} is {size}; the limit is {limit_mb} MB."})


def decode_text(data: bytes, *, what: str = "file") -> str:
    """UTF-8 (with or without a BOM), else Windows-1252, as spreadsheets save "CSV" on Windows."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    if text is None or any(find_bad_characters(ch, allow_newlines=True) for ch in set(text)):
        raise InvalidInput({"file": f"We can't read the {what} as text. {_SAVE_AS_UTF8}"})
    return text


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])  # ties go to the first: the comma
    return best if counts[best] else ","


def header_key(cell: str) -> str:
    """A header cell as ``aliases`` keys are written: lower case, "_" and "-" as spaces, spaces collapsed."""
    return " ".join(cell.strip().lower().replace("_", " ").replace("-", " ").split())


def _header(
    cells: list[str],
    raw_line: str,
    required: list[str],
    optional: Sequence[str],
    what: str,
    aliases: Mapping[str, str] | None = None,
) -> list[str]:
    names = [c.strip().lower() for c in cells]
    if aliases:
        names = [aliases.get(header_key(n), n) for n in names]
    while names and not names[-1]:  # spreadsheets often add empty columns at the end
        names.pop()
    expected = ",".join([*required, *optional])
    found = f'found "{shown(raw_line.strip())}"'
    missing = [c for c in required if c not in names]
    if missing and len(names) == 1 and len(required) > 1:
        raise InvalidInput(
            {
                "file": f"The {what} has a single column ({found}): its columns must be separated by commas, "
                f"semicolons or tabs. Expected the columns {expected}."
            }
        )
    if missing:
        raise InvalidInput({"file": f"Expected the columns {expected}; {found}. Missing: {', '.join(missing)}."})
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        listed = ", ".join(f'"{shown(n)}"' for n in duplicates)
        message = f"The {what}'s header names {listed} more than once. Expected the columns {expected}."
        raise InvalidInput({"file": message})
    allowed = {*required, *optional}
    unknown = [n for n in names if n not in allowed]
    if unknown:
        listed = ", ".join(f'"{shown(n)}"' if n else "a column without a name" for n in unknown)
        raise InvalidInput({"file": f"The {what} has columns we don't use: {listed}. Expected the columns {expected}."})
    return names


def _cells(n: int) -> str:
    return "1 cell" if n == 1 else f"{n} cells"


def _row(line: int, cells: list[str], names: list[str]) -> CsvRow:
    values = [c.strip() for c in cells]
    extra = values[len(names) :]
    values = values[: len(names)] + [""] * (len(names) - len(values))
    row = CsvRow(line=line, values=dict(zip(names, values, strict=True)))
    if len(cells) < len(names) or any(extra):
        row.problem = f"has {_cells(len(cells))}, the header has {len(names)}"
        row.problem_value = shown(",".join(cells))
        return row
    for name, value in row.values.items():
        bad = find_bad_characters(value, allow_newlines=True)
        if bad:
            row.problem, row.problem_column, row.problem_value = f"contains {bad}; please retype it", name, value
            return row
    return row


def read_csv(
    data: bytes,
    *,
    required: list[str],
    optional: Sequence[str] = (),
    what: str = "file",
    aliases: Mapping[str, str] | None = None,
) -> list[CsvRow]:
    """The data rows of an uploaded CSV whose header must name every ``required`` column (any order,
    any case) and may name ``optional`` ones: nothing else. Comma, semicolon or tab separated,
    told apart by the header line. Rows with no values at all are skipped. ``aliases`` maps other
    spellings of a column (written as ``header_key`` writes them, e.g. "e mail") to its name."""
    check_size(data, what=what)
    text = decode_text(data, what=what)
    if not text.strip():
        raise InvalidInput({"file": f"The {what} is empty."})
    header_line = text.lstrip("\r\n").splitlines()[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(header_line), strict=False)
    try:
        records = _records(reader)
        _, header_cells = next(records, (1, []))
        names = _header(header_cells, header_line, required, optional, what, aliases)
        rows = [_row(line, cells, names) for line, cells in records]
    except csv.Error as exc:
        raise InvalidInput({"file": f"We can't read the {what} as CSV (line {reader.line_num}): {exc}."}) from None
    if not rows:
        raise InvalidInput({"file": f"The {what} has a header but no rows below it."})
    return rows


def _records(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, cells) for each non-blank record of a ``csv.reader``."""
    previous_end = 0
    for cells in reader:
        start, previous_end = previous_end + 1, reader.line_num
        if any(c.strip() for c in cells):
            yield start, cells
