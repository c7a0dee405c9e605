"""The CSV export's lines, made a batch at a time by joining text, with ``csv.writer`` only where it is needed.

``csv.writer`` cost as much as the database's own work in a million-row export, and nearly every row needs
nothing of it: no cell holds a comma, a double quote, a CR or an LF, so nothing is quoted and the line is
its cells joined by commas. The CSV form of the export's SELECT (``csv_statement``) has every cell as text
("" for NULL, a count as its digits), so each row, shaped as before (``snapshot.shaper``, formula rule
included), is one ``",".join``. A batch's text is then checked with C-speed counts: as many commas as cells
need, no double quote, and no CR or LF but the line ends. A batch that fails has its lines checked one by one,
and each line that fails is written again by ``csv.writer``: the file is byte for byte what it would write.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import String, cast, func, literal_column
from sqlalchemy.sql.elements import Label

from campaigns.export.snapshot import COLUMNS, CheckedFilter, Snapshot, rows_statement, shaper

__all__ = ["csv_statement", "line_maker", "text_batches"]

NOT_NULL = frozenset({"campaign_id", "full_name", "email", "region_code"})  # the shaper reads them as they are
NUMBERS = frozenset({"letters_sent", "letters_downloaded_or_opened"})
SEPARATORS = len(COLUMNS) - 1


def csv_statement(checked: CheckedFilter, dialect: str) -> Any:
    """``rows_statement`` with every cell as text: NULL as "", the letter counts as their digits."""
    statement = rows_statement(checked, dialect)
    columns = []
    for column in statement.selected_columns:
        name = column.key
        inner = column.element if isinstance(column, Label) else column
        if name in NOT_NULL:
            columns.append(column)
        elif name in NUMBERS:
            columns.append(cast(inner, String).label(name))
        else:
            columns.append(func.coalesce(inner, literal_column("''", String)).label(name))
    return statement.with_only_columns(*columns, maintain_column_froms=True)


def line_maker(checked: CheckedFilter, keys: Sequence[str]) -> Callable[[list[tuple[Any, ...]]], str]:
    """A function from a batch of ``csv_statement`` rows (columns named ``keys``) to their CSV text, CRLF after
    each line."""
    shape = shaper(checked, True, keys)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    join = ",".join

    def careful(row: tuple[Any, ...]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        return buffer.getvalue()[:-2]  # without its CRLF

    def lines(batch: list[tuple[Any, ...]]) -> str:
        rows = shape(batch)
        text = "\r\n".join(map(join, rows))
        ends = len(rows) - 1
        if (
            text.count(",") != SEPARATORS * len(rows)  # never fewer: only a cell can add a comma
            or '"' in text
            or text.count("\r") != ends
            or text.count("\n") != ends
        ):
            made = list(map(join, rows))
            for i, line in enumerate(made):
                if line.count(",") != SEPARATORS or '"' in line or "\r" in line or "\n" in line:
                    made[i] = careful(rows[i])
            text = "\r\n".join(made)
        return text + "\r\n"

    return lines


def text_batches(snapshot: Snapshot) -> Iterator[list[tuple[str, ...]]]:
    """The snapshot's rows in ``COLUMNS`` order with every cell as text (the XLSX writer's input; no formula
    rule: XLSX keeps text as typed)."""
    statement = csv_statement(snapshot.checked, snapshot.connection.dialect.name)
    return snapshot.stream(statement, shaper(snapshot.checked, False, statement.selected_columns.keys()))
