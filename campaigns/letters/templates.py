"""Letters: organizer-written templates, filled in with one supporter's details, rendered safely.

Organizer templates are untrusted code. Four layers keep them harmless:

1. **Save-time checks** (:func:`check_template`) on Jinja's parsed tree: only the variables in
   :data:`ALLOWED`, only allow-listed filters and tests, no ``include``/``import``/``extends``, no
   attribute whose name starts with ``_``, attributes only on ``signer``/``target``/``campaign``/``loop``,
   lists only of fixed values. Each problem names its line. Then one trial render with sample details.
2. **A locked-down sandbox** (:class:`jinja2.sandbox.ImmutableSandboxedEnvironment`): no loader, no
   globals, ``StrictUndefined``, attribute reads limited at run time to the same allow-list.
3. **Bounded operations**: ``*``, ``**``, ``+`` and ``%`` are intercepted, filters check the size of
   what they would make before making it, so no single expression can build a huge value.
4. **A render budget**: the compiled tree is instrumented so that every loop step, macro call and
   piece of output is counted; rendering stops with :class:`RenderStopped` after
   :data:`RENDER_SECONDS` or once more than :data:`OUTPUT_MAX` characters come out.

Supporter text is only ever passed in as values, never into template source.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Template
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError

from campaigns.letters.checks import instrument, static_problems
from campaigns.letters.context import (
    ALLOWED,
    INT_BITS_MAX,
    OUTPUT_MAX,
    RENDER_SECONDS,
    SOURCE_MAX,
    STOCK_DIR,
    TOO_LONG,
    TOO_MUCH,
    WORK_MAX,
    CampaignView,
    LetterContext,
    RenderStopped,
    SignerView,
    TargetView,
    TemplateProblem,
    TemplateRejected,
    date_text,
    sample_context,
    sparse_context,
)
from campaigns.letters.sandbox import CURRENT_BUDGET, LETTER_ENV, SAFE_FILTERS, SAFE_TESTS, RenderBudget

__all__ = [
    "ALLOWED",
    "INT_BITS_MAX",
    "OUTPUT_MAX",
    "RENDER_SECONDS",
    "SAFE_FILTERS",
    "SAFE_TESTS",
    "SOURCE_MAX",
    "STOCK_DIR",
    "WORK_MAX",
    "CampaignView",
    "CompiledLetter",
    "LetterContext",
    "RenderStopped",
    "SignerView",
    "StockTemplate",
    "TargetView",
    "TemplateProblem",
    "TemplateRejected",
    "check_files",
    "check_template",
    "date_text",
    "parse_stock_template",
    "render",
    "render_source",
    "sample_context",
    "stock_templates",
]

# --------------------------------------------------------------------------- compile and render


@dataclass(frozen=True)
class CompiledLetter:
    source: str
    template: Template = field(repr=False, compare=False)


def _compile(source: str) -> CompiledLetter:
    """Parse, check and compile; no trial render. Recent templates are kept compiled."""
    if not isinstance(source, str):
        raise TemplateRejected([TemplateProblem(None, "A letter template must be text.")])
    if len(source) > SOURCE_MAX:
        raise TemplateRejected(
            [TemplateProblem(None, f"The template is {len(source):,} characters; the limit is {SOURCE_MAX:,}.")]
        )
    return _compile_text(source)


@functools.lru_cache(maxsize=256)
def _compile_text(source: str) -> CompiledLetter:
    try:
        tree = LETTER_ENV.parse(source)
        problems = static_problems(tree)
        if problems:
            raise TemplateRejected(problems)
        tree = instrument(tree, False)
        tree.set_environment(LETTER_ENV)
        code = LETTER_ENV.compile(tree)  # type: ignore[call-overload]  # instrument hands back the Template it was given
        template = LETTER_ENV.template_class.from_code(LETTER_ENV, code, LETTER_ENV.make_globals(None))
    except TemplateRejected:
        raise
    except TemplateSyntaxError as exc:
        raise TemplateRejected([TemplateProblem(exc.lineno, f"{exc.message}.".replace("..", "."))]) from None
    except (RecursionError, MemoryError):
        raise TemplateRejected([TemplateProblem(None, "The template is nested too deeply to read.")]) from None
    except ValueError as exc:
        if "integer string conversion" not in str(exc):
            raise TemplateRejected([TemplateProblem(None, f"The template can't be read: {exc}")]) from None
        raise TemplateRejected([TemplateProblem(None, "The template has a number too long to read.")]) from None
    except Exception as exc:  # noqa: BLE001 - anything else the parser or compiler trips on is the template's fault
        raise TemplateRejected([TemplateProblem(None, f"The template can't be read: {exc}")]) from None
    return CompiledLetter(source, template)


_TOO_DEEP = "The template calls itself too deeply (a macro that keeps calling itself), so it was stopped."
_SPARSE = "For a supporter who left out their region, postal code and comment: "


def check_template(source: str) -> CompiledLetter:
    """Save-time validation: every rule, then one trial render with sample details (and with none)."""
    compiled = _compile(source)
    for context, when in ((sample_context(), ""), (sparse_context(), _SPARSE)):
        try:
            render(compiled, context)
        except RenderStopped as exc:
            raise TemplateRejected([TemplateProblem(exc.line, when + exc.reason)]) from None
    return compiled


def _template_line(exc: BaseException) -> int | None:
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _collect(chunks: Iterator[str], budget: RenderBudget) -> str:
    parts: list[str] = []
    size = 0
    for n, chunk in enumerate(chunks):
        size += len(chunk)
        if size > OUTPUT_MAX:
            raise RenderStopped(TOO_MUCH)
        parts.append(chunk)
        if not n & 31 and time.monotonic() > budget.deadline:
            raise RenderStopped(TOO_LONG)
    return "".join(parts)


def render(compiled: CompiledLetter, context: LetterContext) -> str:
    """Fill in one letter within :data:`RENDER_SECONDS` and :data:`OUTPUT_MAX`, or raise RenderStopped."""
    budget = RenderBudget()
    token = CURRENT_BUDGET.set(budget)
    chunks = compiled.template.generate(context.variables())
    try:
        return _collect(chunks, budget)
    except RenderStopped as exc:
        raise RenderStopped(exc.reason, line=exc.line or _template_line(exc)) from None
    except RecursionError as exc:
        raise RenderStopped(_TOO_DEEP, line=_template_line(exc)) from None
    except MemoryError:
        raise RenderStopped(TOO_MUCH) from None
    except (SecurityError, UndefinedError) as exc:
        raise RenderStopped(f"{exc.message or exc}", line=_template_line(exc)) from None
    except Exception as exc:  # noqa: BLE001 - a template error (1/0, "a" - 1, ...) is the template's fault
        reason = f"The template failed while filling in a letter: {exc}"
        raise RenderStopped(reason, line=_template_line(exc)) from None
    finally:
        chunks.close()  # type: ignore[attr-defined]  # generate() returns a generator; jinja types it Iterator
        CURRENT_BUDGET.reset(token)


def render_source(source: str, context: LetterContext) -> str:
    """Check (without the trial render) and render in one go."""
    return render(_compile(source), context)


# --------------------------------------------------------------------------- stock templates

_HEADER_KEYS = ("title", "description", "subject")
_NO_HEADER = (
    "A stock template starts with a header: a line '{#', then 'title: ...', 'description: ...' "
    "and 'subject: ...' lines, then '#}'."
)
_BAD_HEADER_LINE = f"Header lines are 'key: value' with key one of: {', '.join(_HEADER_KEYS)}."


@dataclass(frozen=True)
class StockTemplate:
    name: str
    title: str
    description: str
    subject: str
    body: str
    subject_line: int = 1  # where the subject and body start in the file, for messages
    body_line: int = 1


def parse_stock_template(text: str, *, name: str = "") -> StockTemplate:
    """Split ``{#`` header ``#}`` (``key: value`` lines: title, description, subject) from the body."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "{#":
        raise TemplateRejected([TemplateProblem(1, _NO_HEADER)])
    header: dict[str, tuple[str, int]] = {}
    problems: list[TemplateProblem] = []
    end = None
    for number, line in enumerate(lines[1:], start=2):
        if line.strip() == "#}":
            end = number
            break
        key, colon, value = line.partition(":")
        key = key.strip().lower()
        if not line.strip():
            continue
        if not colon or key not in _HEADER_KEYS:
            problems.append(TemplateProblem(number, _BAD_HEADER_LINE))
        else:
            header[key] = (value.strip(), number)
    if end is None:
        problems.append(TemplateProblem(1, "The header never ends: add a line '#}' after it."))
        end = len(lines)
    for key in ("title", "subject"):
        if not header.get(key, ("", 0))[0]:
            problems.append(TemplateProblem(None, f"The header needs a '{key}: ...' line."))
    if problems:
        raise TemplateRejected(problems)
    return StockTemplate(
        name=name,
        title=header["title"][0],
        description=header.get("description", ("", 0))[0],
        subject=header["subject"][0],
        body="".join(lines[end:]),
        subject_line=header["subject"][1],
        body_line=end + 1,
    )


def stock_templates() -> list[StockTemplate]:
    return [parse_stock_template(p.read_text("utf-8"), name=p.stem) for p in sorted(STOCK_DIR.glob("*.j2"))]


# --------------------------------------------------------------------------- python -m campaigns templates check


def _file_problems(path: Path) -> list[TemplateProblem]:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [TemplateProblem(None, f"can't read the file: {exc}")]
    parts = [(text, 1)]
    if text.splitlines()[:1] == ["{#"]:
        try:
            stock = parse_stock_template(text, name=path.stem)
        except TemplateRejected as exc:
            return exc.problems
        parts = [(stock.subject, stock.subject_line), (stock.body, stock.body_line)]
    problems = []
    for source, first_line in parts:
        try:
            check_template(source)
        except TemplateRejected as exc:
            problems += [TemplateProblem(p.line and p.line + first_line - 1, p.message) for p in exc.problems]
    return problems


def check_files(paths: Iterable[str | Path]) -> int:
    """Check template files with the save-time rules; print ``FILE:LINE: reason`` or ``FILE: ok``."""
    failed = False
    for path in paths:
        problems = _file_problems(Path(path))
        for p in problems:
            print(f"{path}:{p.line}: {p.message}" if p.line else f"{path}: {p.message}")
        if not problems:
            print(f"{path}: ok")
        failed = failed or bool(problems)
    sys.stdout.flush()
    return 1 if failed else 0
