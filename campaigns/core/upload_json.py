"""Reading an uploaded JSON document (a shapes file) in time and memory bounded by its size.

Its structure is counted before it is parsed and each number checked while it is, against the bounds
every upload is held to (``uploads.MAX_JSON_*``, ``uploads.MAX_NUMBER_CHARS``: README, "Limits on
uploaded files"), read from ``uploads`` when a file is read.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from typing import Any

from campaigns.core import uploads
from campaigns.core.errors import InvalidInput

_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]+', re.DOTALL)  # a string, or brackets in a row


def read_json(data: bytes, *, what: str = "file", field: str = "file", hint: str = "") -> tuple[str, Any]:
    """An uploaded JSON document: its text (as uploaded, without a BOM) and its value; InvalidInput({field: ...}).

    Before it is parsed, the text (its strings left out) is counted in time linear in its size and
    constant memory: at most ``MAX_JSON_OBJECTS`` objects and ``MAX_JSON_LISTS`` lists, nested at most
    ``MAX_JSON_DEPTH`` deep; so parsing never builds more than that (5 MB of ``{}`` made 600 MB of objects).
    While it is parsed each number is checked: at most ``MAX_NUMBER_CHARS`` characters (Python refuses
    to read long integers, and cannot turn long ones into floats) and finite (JSON has no NaN or
    Infinity: browsers refuse them). ``hint`` follows a message about the file's size. (Bounds: ``uploads``.)
    """
    uploads.check_size(data, what=what, field=field)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput({field: f"The {what} is not UTF-8 text: export it again as UTF-8."}) from None
    _check_json_structure(text, what=what, field=field, hint=hint)

    def refuse(message: str) -> InvalidInput:
        return InvalidInput({field: f"The {what} {message}"})

    def number(text: str) -> str:
        if len(text) > uploads.MAX_NUMBER_CHARS:
            excerpt = text[:20] + "…"
            limit = uploads.MAX_NUMBER_CHARS
            raise refuse(f'has a number of {len(text):,} characters ("{excerpt}"); at most {limit} are allowed.')
        return text

    def parse_float(text: str) -> float:
        value = float(number(text))
        if not math.isfinite(value):
            raise refuse(f'has a number too large to use ("{uploads.shown(text, 40)}"): numbers must be finite.')
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
        raise refuse(f"nests lists and objects more than {uploads.MAX_JSON_DEPTH} deep.") from None
    return text, value


def _check_json_structure(text: str, *, what: str, field: str, hint: str) -> None:
    """Count the objects and lists of a JSON text and how deeply they nest (brackets inside strings left out),
    in one pass that stops at the first bound crossed and keeps nothing but the counts."""
    max_objects, max_lists, max_depth = uploads.MAX_JSON_OBJECTS, uploads.MAX_JSON_LISTS, uploads.MAX_JSON_DEPTH
    objects = lists = depth = 0
    for token in _JSON_TOKEN.finditer(text):
        if text[token.start()] == '"':
            continue
        run = token.group()
        run_objects, run_lists = run.count("{"), run.count("[")
        objects, lists = objects + run_objects, lists + run_lists
        if objects > max_objects or lists > max_lists:
            limit, kind = (max_objects, "objects {…}") if objects > max_objects else (max_lists, "lists […]")
            message = f"The {what} has more than {limit:,} {kind}, the most one file may have."
            raise InvalidInput({field: f"{message} {hint}".strip()})
        opens = run_objects + run_lists
        if depth + opens > max_depth:  # only then is the run followed bracket by bracket
            deepest = max(itertools.accumulate(1 if c in "[{" else -1 for c in run))
            if depth + deepest > max_depth:
                message = f"The {what} nests lists and objects more than {max_depth} deep, the most allowed."
                raise InvalidInput({field: message})
        depth += 2 * opens - len(run)
