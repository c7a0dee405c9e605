"""The XLSX export's workbook: xlsxwriter makes its frame, the rows' XML is written here straight into the zip.

xlsxwriter cost about 140 s for a million rows, nearly all of it per cell (its checks, a cell object, its
XML writer). Here xlsxwriter makes the workbook with the header row and one sample cell of the quote-prefix
style (to learn its style number), and this module copies that workbook into the final zip, with the
sheet's rows written between the header and the end of the sheet as they come, compressed (zlib's default
level, as before) in a thread of its own. Each cell is written as xlsxwriter writes it in constant-memory
mode: an inline string (control characters as ``_xHHHH_``, ``xml:space="preserve"`` when it starts or ends
with white space, ``&``, ``<`` and ``>`` escaped, at most 32,767 UTF-16 units), a number for the letter
counts, nothing for an empty cell; text starting with a formula trigger gets the quote-prefix style. (A
value shaped like ``<r>...</r>``, which xlsxwriter takes for its own rich-text markup, is simply escaped.)
Memory stays flat: a batch of rows at a time.
"""

from __future__ import annotations

import queue
import re
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import Any

from campaigns.export.snapshot import COLUMNS, FORMULA_TRIGGERS

__all__ = ["write_workbook"]

SHEET = "xl/worksheets/sheet1.xml"
STR_MAX = 32_767  # Excel's longest text, in UTF-16 units
NEEDS_WORK = re.compile("[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]").search  # and "_x" (xlsxwriter's escape)
ESCAPED = re.compile("(_x[0-9a-fA-F]{4}_)")
CONTROL = re.compile("([\x00-\x08\x0b-\x1f])")
NUMBERS = frozenset({"letters_sent", "letters_downloaded_or_opened"})


def _letters(col: int) -> str:
    name = ""
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        name = chr(65 + rest) + name
    return name


def _truncated(value: str) -> str:
    """At most ``STR_MAX`` UTF-16 units, never half a character (as xlsxwriter cuts it)."""
    length = 0
    for index, char in enumerate(value):
        length += 2 if ord(char) > 0xFFFF else 1
        if length > STR_MAX:
            return value[:index]
    return value


def _text(value: str) -> str:
    """The cell's text as XML (xlsxwriter's steps, in its order)."""
    if len(value) > STR_MAX // 2:
        value = _truncated(value)
    value = ESCAPED.sub(r"_x005F\1", value)
    value = CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", value)
    value = value.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(batch: list[tuple[str, ...]]) -> bool:
    """No cell of the batch needs more than to be put in its tag (no character to escape, none too long)."""
    text = "".join(map("".join, batch))
    return (
        not NEEDS_WORK(text)
        and "_x" not in text
        and max(map(len, chain.from_iterable(batch)), default=0) <= STR_MAX // 2
    )


def _row_writer(quoted: str, plain: bool) -> Callable[[int, tuple[str, ...]], str]:
    """Rows of text cells ("" for empty, a count as its digits) to their XML, by one function made for the
    columns (``plain``: for batches where no cell needs escaping). A cell is written as xlsxwriter writes it:
    the quote-prefix style if the text starts with a trigger, ``xml:space="preserve"`` if the escaped text
    starts or ends with white space (its ``^\\s``, ``\\s$``)."""
    parts = []
    for c, name in enumerate(COLUMNS):
        ref = _letters(c)
        if name in NUMBERS:
            parts.append(f"(f'<c r=\"{ref}{{r}}\"><v>{{v}}</v></c>' if (v := row[{c}]) else '')")
            continue
        text = "v" if plain else "escape(v)"
        parts.append(
            f'(f\'<c r="{ref}{{r}}"{{Q if v[0] in T else E}} t="inlineStr"><is>'
            f"<t{{P if t[0].isspace() or t[-1].isspace() else E}}>{{t}}</t></is></c>' "
            f"if (v := row[{c}]) and (t := {text}) else '')"
        )
    cells = ", ".join(parts)
    source = f"def row_xml(r, row):\n    return f'<row r=\"{{r}}\">' + ''.join(({cells},)) + '</row>'\n"
    scope: dict[str, Any] = {
        "Q": quoted,
        "T": FORMULA_TRIGGERS,
        "E": "",
        "P": ' xml:space="preserve"',
        "escape": _text,
    }
    exec(compile(source, f"<xlsx rows of {__name__}>", "exec"), scope)  # noqa: S102 - built here from the columns
    row_xml: Callable[[int, tuple[str, ...]], str] = scope["row_xml"]
    return row_xml


def _frame(folder: Path) -> tuple[Path, str]:
    """xlsxwriter's workbook: the header row, and a sample quote-prefixed cell in row 2 (dropped when copied),
    whose style attribute is returned."""
    import xlsxwriter

    path = folder / "frame.xlsx"
    workbook = xlsxwriter.Workbook(
        str(path), {"constant_memory": True, "strings_to_formulas": False, "tmpdir": str(folder)}
    )
    sheet = workbook.add_worksheet("Signers")
    header = workbook.add_format({"bold": True})
    quoted = workbook.add_format({"quote_prefix": True})
    sheet.freeze_panes(1, 0)
    for col, name in enumerate(COLUMNS):
        sheet.write_string(0, col, name, header)
    sheet.write_string(1, 0, "=", quoted)
    workbook.close()
    return path, f' s="{quoted.xf_index}"'


def write_workbook(
    path: Path, batches: Iterable[list[tuple[str, ...]]], *, count: int, check: Callable[[int], None], max_rows: int
) -> None:
    """Write the workbook of ``batches`` (``count`` rows in ``COLUMNS`` order) to ``path``; ``check(rows)`` is
    called should a row reach ``max_rows`` (the snapshot's count says it cannot)."""
    with tempfile.TemporaryDirectory(prefix=".rally-xlsx-", dir=path.parent) as scratch:
        frame, quoted = _frame(Path(scratch))
        writers = {plain: _row_writer(quoted, plain) for plain in (True, False)}
        with zipfile.ZipFile(frame) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
            for info in source.infolist():
                data = source.read(info)
                if info.filename != SHEET:
                    out.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
                    continue
                xml = data.decode("utf-8")
                head, rest = xml.split('<row r="2"', 1)
                # the sheet's extent, as xlsxwriter gives it: the header and the rows (the last column always
                # holds a count)
                extent = f"A1:{_letters(len(COLUMNS) - 1)}{count + 1}"
                head = re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="{extent}"/>', head, count=1)
                target = zipfile.ZipInfo(SHEET, date_time=info.date_time)
                target.compress_type = zipfile.ZIP_DEFLATED
                with out.open(target, "w", force_zip64=True) as sheet, _writer(sheet) as write:
                    write(head.encode("utf-8"))
                    r = 1
                    for batch in batches:
                        parts = []
                        row_xml = writers[_plain(batch)]
                        for row in batch:
                            r += 1
                            if r - 1 >= max_rows:  # the data row's index, the header's being 0
                                check(r - 1)
                            parts.append(row_xml(r, row))
                        write("".join(parts).encode("utf-8"))
                    write(rest[rest.index("</sheetData>") :].encode("utf-8"))


@contextmanager
def _writer(sheet: Any) -> Iterator[Callable[[bytes], None]]:
    """``write(data)`` into the zip member from a thread of its own: zlib lets go of the GIL while it compresses,
    so the next rows are made meanwhile (a third of the time went to compressing). At most two pieces wait;
    an error writing (a full disk) is raised here, by the next ``write`` or at the end."""
    pending: queue.Queue[bytes | None] = queue.Queue(maxsize=2)
    failed: list[BaseException] = []

    def run() -> None:
        while (data := pending.get()) is not None:
            if not failed:
                try:
                    sheet.write(data)
                except BaseException as exc:  # noqa: BLE001 - raised in the exporting thread
                    failed.append(exc)

    def write(data: bytes) -> None:
        if failed:
            raise failed[0]
        pending.put(data)

    thread = threading.Thread(target=run, name="export-xlsx-zip", daemon=True)
    thread.start()
    try:
        yield write
    finally:
        pending.put(None)
        thread.join()
    if failed:
        raise failed[0]
