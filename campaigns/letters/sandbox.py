"""The locked-down Jinja sandbox letters render in: the render budget, bounded operators, filters and tests.

Holds the per-render :class:`RenderBudget` (deadline, counted steps and characters, in a context variable), the
:class:`_LetterSandbox` environment (bounds ``*``, ``**``, ``+``, ``%``; attribute reads only from the allow-list),
the allow-listed filters (:data:`SAFE_FILTERS`, each checking the size of what it would make) and tests
(:data:`SAFE_TESTS`), the guard filters the instrumented tree calls, and the one shared environment ``LETTER_ENV``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import fields
from typing import Any

from jinja2 import filters as jfilters
from jinja2 import tests as jtests
from jinja2.runtime import LoopContext, StrictUndefined, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_context, pass_environment

from campaigns.letters.context import (
    INT_BITS_MAX,
    LOOP_ATTRS,
    OUTPUT_MAX,
    RENDER_SECONDS,
    TOO_LONG,
    TOO_MUCH,
    VIEW_FIELDS,
    VIEWS,
    WORK_MAX,
    RenderStopped,
)

# --------------------------------------------------------------------------- the render budget


class RenderBudget:
    __slots__ = ("deadline", "produced", "steps")

    def __init__(self) -> None:
        self.deadline = time.monotonic() + RENDER_SECONDS
        self.steps = 0
        self.produced = 0

    def step(self) -> None:
        self.steps += 1
        if not self.steps & 15 and time.monotonic() > self.deadline:
            raise RenderStopped(TOO_LONG)

    def produce(self, size: int) -> None:
        self.produced += size
        if self.produced > WORK_MAX:
            raise RenderStopped(TOO_MUCH)
        self.step()

    def iterate(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            self.step()
            yield item


CURRENT_BUDGET: ContextVar[RenderBudget | None] = ContextVar("rally_letter_budget", default=None)


def _step() -> None:
    budget = CURRENT_BUDGET.get()
    if budget is not None:
        budget.step()


def _too_big(size: int) -> RenderStopped:
    return RenderStopped(f"That would make {size:,} characters or items; a letter may hold at most {OUTPUT_MAX:,}.")


def _kind(value: Any) -> str:
    if type(value) in VIEW_FIELDS:
        name = next(n for n, v in VIEWS.items() if v is type(value))
        return f"the whole {name} (use one of its parts, e.g. {name}.{fields(VIEWS[name])[0].name})"
    if isinstance(value, list | tuple):
        return "a list (use |join(', ') to turn it into text)"
    return f"a {type(value).__name__}"


def _text(value: Any) -> str:
    """What a value looks like in a letter: text and numbers only, None as nothing."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, int | float | Undefined):
        return str(value)  # StrictUndefined raises here, naming the variable
    raise RenderStopped(f"Only text and numbers can go into a letter, not {_kind(value)}.")


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "%" and isinstance(left, str):
        raise RenderStopped("Formatting text with % isn't available in letters; put {{ variables }} in the text.")
    if operator == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
        if len(left) + len(right) > OUTPUT_MAX:
            raise _too_big(len(left) + len(right))
    elif operator == "*":
        if isinstance(left, int) and isinstance(right, int):
            if left.bit_length() + right.bit_length() > INT_BITS_MAX:
                raise RenderStopped("Numbers this large aren't available in letters.")
            return
        seq, times = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(seq, str | list | tuple) and isinstance(times, int) and len(seq) * times > OUTPUT_MAX:
            raise _too_big(len(seq) * times)
    elif operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0:
        if right > INT_BITS_MAX or left.bit_length() * right > INT_BITS_MAX:
            raise RenderStopped("Numbers this large aren't available in letters.")


class _LetterSandbox(ImmutableSandboxedEnvironment):
    """The sandbox with bounded operators, counted calls and attribute reads limited to the allow-list."""

    intercepted_binops = frozenset(["*", "**", "+", "%"])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right)
        return self.binop_table[operator](left, right)

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _step()
        return super().call(context, obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        allowed = VIEW_FIELDS.get(type(obj))
        if allowed is not None:
            return getattr(obj, attribute) if attribute in allowed else self.undefined(obj=obj, name=attribute)
        if isinstance(obj, Undefined) or (isinstance(obj, LoopContext) and attribute in LOOP_ATTRS):
            return super().getattr(obj, attribute)
        return self.unsafe_undefined(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(argument, str) and not isinstance(obj, dict):
            return self.getattr(obj, argument)
        try:
            return obj[argument]  # never falls back to attributes: no str.format, no dict.items
        except (TypeError, LookupError):
            return self.undefined(obj=obj, name=argument)


# --------------------------------------------------------------------------- filters and tests


def _bounded(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _step()
        result = func(*args, **kwargs)
        if isinstance(result, str) and len(result) > OUTPUT_MAX:
            raise _too_big(len(result))
        return result

    return wrapper


def _int_arg(value: Any, name: str, low: int, high: int) -> int:
    if not isinstance(value, int) or not low <= value <= high:
        raise RenderStopped(f"The {name} must be a whole number from {low} to {high:,}.")
    return value


def _replace(s: Any, old: Any, new: Any, count: Any = None) -> str:
    s, old, new = _text(s), _text(old), _text(new)
    found = s.count(old)
    n = found if count is None else min(found, _int_arg(count, "replace count", 0, OUTPUT_MAX))
    size = len(s) + n * (len(new) - len(old))
    if size > OUTPUT_MAX:
        raise _too_big(size)
    return s.replace(old, new, n)


@pass_environment
def _wordwrap(env: Any, s: Any, width: Any = 79, break_long_words: bool = True, wrapstring: Any = None) -> str:
    wrap = "\n" if wrapstring is None else _text(wrapstring)
    if len(wrap) > 20:
        raise RenderStopped("The wordwrap separator may be at most 20 characters.")
    return jfilters.do_wordwrap(env, _text(s), _int_arg(width, "wordwrap width", 1, OUTPUT_MAX), break_long_words, wrap)


def _join(value: Any, d: Any = "") -> str:
    parts = [_text(item) for item in (value if isinstance(value, list | tuple | dict | str) else _text(value))]
    sep = _text(d)
    size = sum(map(len, parts)) + len(sep) * max(0, len(parts) - 1)
    if size > OUTPUT_MAX:
        raise _too_big(size)
    return sep.join(parts)


def _center(value: Any, width: Any = 80) -> str:
    return _text(value).center(_int_arg(width, "center width", 0, OUTPUT_MAX))


def _indent(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> str:
    s = _text(s)
    pad = width if isinstance(width, str) else " " * _int_arg(width, "indent width", 0, 100)
    size = len(s) + (s.count("\n") + 1) * len(pad)
    if size > OUTPUT_MAX:
        raise _too_big(size)
    return jfilters.do_indent(s, pad, first, blank)


@pass_environment
def _truncate(
    env: Any, s: Any, length: Any = 255, killwords: bool = False, end: Any = "...", leeway: Any = None
) -> str:
    length = _int_arg(length, "truncate length", 0, OUTPUT_MAX)
    return jfilters.do_truncate(env, _text(s), length, killwords, _text(end), leeway)


def _round(value: Any, precision: Any = 0, method: str = "common") -> float:
    if method not in ("common", "ceil", "floor"):
        raise RenderStopped("round's method must be 'common', 'ceil' or 'floor'.")
    return jfilters.do_round(value, _int_arg(precision, "round precision", 0, 15), method)  # type: ignore[arg-type]  # checked above


def _number(value: Any) -> str:
    """4217 -> "4,217" (a letter reads better with thousands separators)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return _text(value)


_FILTERS: dict[str, Callable[..., Any]] = {
    "upper": lambda s: _text(s).upper(),
    "lower": lambda s: _text(s).lower(),
    "title": lambda s: jfilters.do_title(_text(s)),
    "capitalize": lambda s: jfilters.do_capitalize(_text(s)),
    "trim": lambda s, chars=None: _text(s).strip(None if chars is None else _text(chars)),
    "default": jfilters.do_default,
    "d": jfilters.do_default,
    "replace": _replace,
    "wordwrap": _wordwrap,
    "join": _join,
    "length": len,
    "count": len,
    "first": jfilters.sync_do_first,
    "last": jfilters.do_last,
    "int": jfilters.do_int,
    "round": _round,
    "abs": abs,
    "truncate": _truncate,
    "center": _center,
    "indent": _indent,
    "wordcount": lambda s: jfilters.do_wordcount(_text(s)),
    "number": _number,
}
SAFE_FILTERS = frozenset(_FILTERS)
SAFE_TESTS = frozenset(
    "defined undefined none number string integer boolean true false even odd divisibleby "
    "eq equalto ne lt lessthan le gt greaterthan ge in".split()
)


@pass_context
def _guard_output(context: Any, value: Any, literal: int = 0) -> str:
    """Wraps every printed expression: text only, and every character counted wherever it is made."""
    text = _text(value)
    budget = CURRENT_BUDGET.get()
    if budget is not None:
        budget.produce(len(text) + literal)
    return text


@pass_context
def _guard_loop(context: Any, iterable: Any) -> Any:
    budget = CURRENT_BUDGET.get()
    return iterable if budget is None else budget.iterate(iterable)


@pass_context
def _guard_concat(context: Any, values: list[Any]) -> str:
    parts = [_text(v) for v in values]
    size = sum(map(len, parts))
    if size > OUTPUT_MAX:
        raise _too_big(size)
    return "".join(parts)


def _make_environment() -> _LetterSandbox:
    env = _LetterSandbox(
        undefined=StrictUndefined,
        autoescape=False,
        finalize=lambda value: "" if value is None else value,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.clear()  # no range, lipsum, cycler, joiner, namespace, dict
    env.filters = {name: _bounded(func) for name, func in _FILTERS.items()}
    env.filters.update(rally_output=_guard_output, rally_loop=_guard_loop, rally_concat=_guard_concat)
    env.tests = {name: jtests.TESTS[name] for name in SAFE_TESTS}
    return env


LETTER_ENV = _make_environment()
