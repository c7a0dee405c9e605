"""Reading files organizers upload: size limit, encoding, CSV header and rows, JSON; row error reports.

``read_csv`` refuses a whole file (``InvalidInput({"file": ...})``) only when it cannot be read as
the expected table: too large, empty, not text, wrong header, over one of the bounds below. Problems
in single rows (wrong number of cells, NUL bytes, text-direction controls) are returned on the row
(``CsvRow.problem``) so the caller can report every row at once, with its own checks, as
``RowError``s in an ``UploadRowsError``.

The bounds every upload is held to live here, whatever ``max_upload_mb`` is set to, so that reading
a file costs time and memory in proportion to its size, capped: a CSV line is refused before it is
split into cells, a header before any work per column, and rows as soon as there are too many;
``read_json`` counts a JSON file's objects, lists and nesting before parsing it and checks each
number while parsing (``shapes`` holds shapes files to the points and shapes a map may draw).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from campaigns.core.errors import InvalidInput, RallyError
from campaigns.core.settings import get_settings
from campaigns.core.validation import BIDI_CONTROLS, find_bad_characters, has_visible_text

# --- bounds on every upload (README: "Limits on uploaded files") ---------------------------------
MAX_LINE_CHARS = 10_000  # characters on one line of a CSV (a legitimate row has well under 2,000)
MAX_COLUMNS = 100  # cells in a CSV header, counted before any work per column (files have 3 to 5)
MAX_ROWS = 100_000  # data rows in one CSV (blank lines not counted)
MAX_SHAPES = 20_000  # shapes in one shapes file: GeoJSON features, or geometries of the TopoJSON object
MAX_POINTS = 500_000  # points a map draws (a TopoJSON arc counted each time a shape uses it), and points stored
MAX_JSON_DEPTH = 20  # lists and objects inside each other (GeoJSON and TopoJSON need 8)
MAX_JSON_OBJECTS = 5 * MAX_SHAPES  # {...} in one JSON file: a shape needs 2 or 3
MAX_JSON_LISTS = 2 * MAX_POINTS  # [...] in one JSON file: a point is one, a ring or polygon one more
MAX_NUMBER_CHARS = 40  # characters in one JSON number (a double needs at most 24)

UTF8_BOM = b"\xef\xbb\xbf"
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
    return UTF8_BOM + out.getvalue().encode("utf-8")


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


_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8, as the "surrogateescape" handler keeps it
_UTF8_NON_ASCII = re.compile("[^\x00-\x7f\udc80-\udcff]")


def decode_text(data: bytes, *, what: str = "file") -> str:
    """UTF-8 (with or without a BOM), else Windows-1252, as spreadsheets save "CSV" on Windows.

    A file is read in one encoding, never a mix. One that has both UTF-8 characters (or a UTF-8 BOM)
    and bytes that are not UTF-8, such as a name pasted from another file, is refused naming the first
    line that is not UTF-8: read as Windows-1252 its UTF-8 names would be garbled ("José" as "JosÃ©"),
    and no rule can tell what a stray byte was meant to be, so neither that line nor the file is guessed.
    """
    marked_utf8 = data.startswith(UTF8_BOM)
    if marked_utf8:
        data = data[len(UTF8_BOM) :]
    text = data.decode("utf-8", "surrogateescape")  # linear; bytes that are not UTF-8 kept as U+DC80-U+DCFF
    not_utf8 = _NOT_UTF8.search(text)
    if not_utf8 is None:
        return text
    utf8 = _UTF8_NON_ASCII.search(text)
    if marked_utf8 or utf8 is not None:
        raise InvalidInput({"file": _mixed_encodings(text, not_utf8.start(), utf8.start() if utf8 else None, what)})
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    if text is None or any(find_bad_characters(ch, allow_newlines=True) for ch in set(text)):
        raise InvalidInput({"file": f"We can't read the {what} as text. {_SAVE_AS_UTF8}"})
    return text


def _line_at(text: str, position: int) -> tuple[int, str]:
    """The number of the line ``position`` is on, and up to 60 characters of that line around it ("…" where cut)."""
    start = max(text.rfind("\n", 0, position), text.rfind("\r", 0, position)) + 1
    end = _LINE_END.search(text, position)
    line_end = end.start() if end else len(text)
    cut_start, cut_end = max(start, position - 30), min(line_end, position + 30)
    excerpt = ("…" if cut_start > start else "") + text[cut_start:cut_end] + ("…" if cut_end < line_end else "")
    return _line_breaks(text[:start]) + 1, _NOT_UTF8.sub("\ufffd", excerpt)


def _mixed_encodings(text: str, not_utf8: int, utf8: int | None, what: str) -> str:
    number, excerpt = _line_at(text, not_utf8)
    if utf8 is None:
        rest = "though the file is marked as UTF-8"
    else:
        utf8_number, utf8_excerpt = _line_at(text, utf8)
        rest = f'though other lines are (line {utf8_number:,}: "{shown(utf8_excerpt, 62)}")'
    return (
        f'Line {number:,} of the {what} is not UTF-8 text ("{shown(excerpt, 62)}"), {rest}: read either way, '
        f'some names would be garbled, so nothing was read. Retype the characters shown as "\ufffd" on line '
        f"{number:,} and upload the file again."
    )


_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]+', re.DOTALL)  # a string, or brackets in a row


def read_json(data: bytes, *, what: str = "file", field: str = "file", hint: str = "") -> tuple[str, Any]:
    """An uploaded JSON document: its text (as uploaded, without a BOM) and its value; InvalidInput({field: ...}).

    Before it is parsed, the text (its strings left out) is counted in time linear in its size and
    constant memory: at most ``MAX_JSON_OBJECTS`` objects and ``MAX_JSON_LISTS`` lists, nested at most
    ``MAX_JSON_DEPTH`` deep; so parsing never builds more than that (5 MB of ``{}`` made 600 MB of objects).
    While it is parsed each number is checked: at most ``MAX_NUMBER_CHARS`` characters (Python refuses
    to read long integers, and cannot turn long ones into floats) and finite (JSON has no NaN or
    Infinity: browsers refuse them). ``hint`` follows a message about the file's size.
    """
    check_size(data, what=what, field=field)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput({field: f"The {what} is not UTF-8 text: export it again as UTF-8."}) from None
    _check_json_structure(text, what=what, field=field, hint=hint)

    def refuse(message: str) -> InvalidInput:
        return InvalidInput({field: f"The {what} {message}"})

    def number(text: str) -> str:
        if len(text) > MAX_NUMBER_CHARS:
            excerpt = text[:20] + "…"
            raise refuse(
                f'has a number of {len(text):,} characters ("{excerpt}"); at most {MAX_NUMBER_CHARS} are allowed.'
            )
        return text

    def parse_float(text: str) -> float:
        value = float(number(text))
        if not math.isfinite(value):
            raise refuse(f'has a number too large to use ("{shown(text, 40)}"): numbers must be finite.')
        return value

    def parse_constant(text: str) -> None:
        raise refuse(f'has "{text}", which JSON does not allow: numbers must be finite.')

    try:
        value = json.loads(
            text, parse_int=lambda t: int(number(t)), parse_float=parse_float, parse_constant=parse_constant
        )
    except json.JSONDecodeError as exc:
        raise refuse(f"is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from None
    except RecursionError:  # not reached within MAX_JSON_DEPTH: kept so that no traceback can escape
        raise refuse(f"nests lists and objects more than {MAX_JSON_DEPTH} deep.") from None
    return text, value


def _check_json_structure(text: str, *, what: str, field: str, hint: str) -> None:
    """Count the objects and lists of a JSON text and how deeply they nest (brackets inside strings left out),
    in one pass that stops at the first bound crossed and keeps nothing but the counts."""
    objects = lists = depth = 0
    for token in _JSON_TOKEN.finditer(text):
        if text[token.start()] == '"':
            continue
        run = token.group()
        run_objects, run_lists = run.count("{"), run.count("[")
        objects, lists = objects + run_objects, lists + run_lists
        if objects > MAX_JSON_OBJECTS or lists > MAX_JSON_LISTS:
            limit, kind = (
                (MAX_JSON_OBJECTS, "objects {…}") if objects > MAX_JSON_OBJECTS else (MAX_JSON_LISTS, "lists […]")
            )
            message = f"The {what} has more than {limit:,} {kind}, the most one file may have."
            raise InvalidInput({field: f"{message} {hint}".strip()})
        opens = run_objects + run_lists
        if depth + opens > MAX_JSON_DEPTH:  # only then is the run followed bracket by bracket
            deepest = max(itertools.accumulate(1 if c in "[{" else -1 for c in run))
            if depth + deepest > MAX_JSON_DEPTH:
                message = f"The {what} nests lists and objects more than {MAX_JSON_DEPTH} deep, the most allowed."
                raise InvalidInput({field: message})
        depth += 2 * opens - len(run)


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
    expected = ",".join([*required, *optional])
    if len(cells) > MAX_COLUMNS:  # before any work per column
        raise InvalidInput(
            {
                "file": f"The {what}'s header has {len(cells):,} columns; at most {MAX_COLUMNS} are allowed. "
                f"Expected the columns {expected}."
            }
        )
    names = [c.strip().lower() for c in cells]
    if aliases:
        names = [aliases.get(header_key(n), n) for n in names]
    while names and not names[-1]:  # spreadsheets often add empty columns at the end
        names.pop()
    found = f'found "{shown(raw_line.strip())}"'
    present = set(names)
    missing = [c for c in required if c not in present]
    if missing and len(names) == 1 and len(required) > 1:
        raise InvalidInput(
            {
                "file": f"The {what} has a single column ({found}): its columns must be separated by commas, "
                f"semicolons or tabs. Expected the columns {expected}."
            }
        )
    if missing:
        raise InvalidInput({"file": f"Expected the columns {expected}; {found}. Missing: {', '.join(missing)}."})
    duplicates = sorted(n for n, count in Counter(names).items() if count > 1)
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
    header_line = _first_line(text, what)
    reader = csv.reader(_lines(text, what), delimiter=_delimiter(header_line), strict=False)
    try:
        records = _records(reader)
        _, header_cells = next(records, (1, []))
        names = _header(header_cells, header_line, required, optional, what, aliases)
        rows: list[CsvRow] = []
        for line, cells in records:
            if len(rows) == MAX_ROWS:
                raise InvalidInput(
                    {
                        "file": f"The {what} has more than {MAX_ROWS:,} rows; at most {MAX_ROWS:,} are allowed "
                        f"in one file (line {line:,} is row {MAX_ROWS + 1:,})."
                    }
                )
            rows.append(_row(line, cells, names))
    except csv.Error as exc:
        raise InvalidInput({"file": f"We can't read the {what} as CSV (line {reader.line_num}): {exc}."}) from None
    if not rows:
        raise InvalidInput({"file": f"The {what} has a header but no rows below it."})
    return rows


def _line_breaks(text: str) -> int:
    """How many lines ``text`` ends (CR LF, LF or CR each end one, as ``csv`` counts them)."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _too_long(what: str, number: int, length: int) -> InvalidInput:
    return InvalidInput(
        {
            "file": f"Line {number:,} of the {what} has {length:,} characters; at most {MAX_LINE_CHARS:,} are "
            "allowed on one line. Check that it is the right file, saved as CSV."
        }
    )


_FIRST_LINE = re.compile(rf"[\r\n]*([^\r\n]{{0,{MAX_LINE_CHARS + 1}}})")
_LINE_END = re.compile(r"[\r\n]")


def _first_line(text: str, what: str) -> str:
    """The first non-empty line (the header), looking at no more than ``MAX_LINE_CHARS`` of it."""
    match = _FIRST_LINE.match(text)
    if match is None:  # never: the pattern matches any text
        return ""
    line = match.group(1)
    if len(line) > MAX_LINE_CHARS:
        end = _LINE_END.search(text, match.start(1))
        length = (end.start() if end else len(text)) - match.start(1)
        raise _too_long(what, _line_breaks(text[: match.start(1)]) + 1, length)
    return line


def _lines(text: str, what: str) -> Iterator[str]:
    """The lines of ``text`` with their line ends, for ``csv.reader``; a line over ``MAX_LINE_CHARS`` is refused
    before it is split into cells."""
    for number, line in enumerate(io.StringIO(text, newline=""), 1):
        if len(line) > MAX_LINE_CHARS and len(content := line.rstrip("\r\n")) > MAX_LINE_CHARS:
            raise _too_long(what, number, len(content))
        yield line


def _records(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, cells) for each non-blank record of a ``csv.reader``."""
    previous_end = 0
    for cells in reader:
        start, previous_end = previous_end + 1, reader.line_num
        if any(c.strip() for c in cells):
            yield start, cells
