"""Letter templates are untrusted code: hostile ones are refused at save or stopped at render, fast."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from campaigns.core.errors import InvalidInput, RallyError
from campaigns.letters.templates import (
    ALLOWED,
    OUTPUT_MAX,
    SOURCE_MAX,
    RenderStopped,
    TemplateRejected,
    check_template,
    parse_stock_template,
    render,
    render_source,
    sample_context,
    stock_templates,
)

ROOT = Path(__file__).resolve().parents[2]
SAFETY_SECONDS = 2.5  # a safety bound on "stops within about a second", not a benchmark
NORMAL = "Dear {{ target.title }} {{ target.name }},\n\nFrom {{ signer.full_name }}"


def _rejected(source: str) -> TemplateRejected:
    started = time.monotonic()
    with pytest.raises(TemplateRejected) as caught:
        check_template(source)
    assert time.monotonic() - started < SAFETY_SECONDS
    return caught.value


def _stopped(source: str) -> RenderStopped:
    started = time.monotonic()
    with pytest.raises(RenderStopped) as caught:
        render_source(source, sample_context())
    assert time.monotonic() - started < SAFETY_SECONDS
    return caught.value


def _assert_healthy() -> None:
    assert render_source(NORMAL, sample_context()) == "Dear Senator Jordan Ellis,\n\nFrom Amara Okafor"


# --------------------------------------------------------------------------- refused at save


@pytest.mark.parametrize(
    ("source", "line", "fragment"),
    [
        ("Hi\n{{ ''.__class__.__mro__ }}", 2, "'__class__' is not available"),
        ("{{ signer|attr('__class__') }}", 1, "filter 'attr' is not available"),
        ("\n\n{{ signer.first_name|attr('format') }}", 3, "filter 'attr' is not available"),
        ("{{ cycler.__init__.__globals__ }}", 1, "'cycler' is not available"),
        ("{{ lipsum.__globals__ }}", 1, "'lipsum' is not available"),
        ("{{ joiner() }}{{ namespace(a=1) }}{{ dict(a=1) }}", 1, "'joiner' is not available"),
        ("{% for i in range(100000) %}\n{% for j in range(100000) %}x{% endfor %}{% endfor %}", 1, "'range'"),
        ("a\n{% include 'other.j2' %}", 2, "can't include, import or extend"),
        ("{% extends 'base.j2' %}", 1, "can't include, import or extend"),
        ("{% import 'macros.j2' as m %}", 1, "can't include, import or extend"),
        ("{% from 'macros.j2' import m %}", 1, "can't include, import or extend"),
        ("{% block body %}x{% endblock %}", 1, "{% block %}"),
        ("{{ signer.first_name.upper() }}", 1, "use a filter"),
        ("{{ signer.first_name.format(x=1) }}", 1, "'.format' can't be used here"),
        ("{{ self }}", 1, "'self' is not available"),
        ("{{ signer[k] }}", 1, "with a fixed name"),
        ("{% set signer = target %}", 1, "'signer' is a name letters use already"),
        ("{% for x in [1] recursive %}{{ loop(x) }}{% endfor %}", 1, "Recursive loops"),
        ("{% set a = [1] %}{% set b = [a, a] %}", 1, "Lists in letters may only hold fixed text"),
        ("{% macro m() %}{{ varargs }}{% endmacro %}", 1, "'varargs' is not available"),
        ("{{ signer.first_name|format('x') }}", 1, "filter 'format'"),
        ("{% if signer.first_name is callable %}x{% endif %}", 1, "test 'callable'"),
        ("{% for x in [1] %}{% set y = 1 %}{% endfor %}\n{{ y }}", 2, "'y' is not available"),
        ("{{ loop.index }}", 1, "'loop' is not available"),
    ],
)
def test_hostile_template_is_refused_at_save_with_its_line(source, line, fragment):
    problems = _rejected(source).problems
    assert any(fragment in p.message and p.line == line for p in problems), problems


def test_unknown_variable_message_names_it_and_lists_every_allowed_one():
    error = _rejected("Dear {{ target.name }},\n\n\n{{ signer.email }}")
    assert isinstance(error, InvalidInput) and isinstance(error, RallyError)
    assert error.user_message.startswith("Line 4: 'signer.email' is not available in letters. Use one of: ")
    for root, names in ALLOWED.items():
        for name in sorted(names or [""]):
            assert (f"{root}.{name}" if name else root) in error.user_message
    assert "'email' is not available" in _rejected("{{ email }}").user_message


def test_syntax_error_is_refused_with_jinja_line_and_message():
    error = _rejected("Dear {{ target.name }},\n\n{% if signer.comment %}\nno end")
    assert error.problems[0].line == 4
    assert "endif" in error.problems[0].message


def test_template_over_the_source_limit_is_refused_stating_the_limit():
    error = _rejected("a" * 1_000_000)
    assert f"{SOURCE_MAX:,}" in error.user_message and "1,000,000" in error.user_message


def test_absurdly_nested_or_long_numbers_are_refused_not_crashing():
    assert "nested too deeply" in _rejected("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}").user_message
    assert "number too long" in _rejected("{{ 1" + "0" * 5000 + " }}").user_message


# --------------------------------------------------------------------------- stopped at render (and so at save)


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("{{ 'a' * 10**8 }}", "100,000,000 characters"),
        ("{{ [1] * 10**8 }}", "100,000,000 characters or items"),
        ("{{ 9**(9**9) }}", "Numbers this large"),
        ("{{ 9**9**9 }}", "Numbers this large"),  # Jinja reads this as (9**9)**9: refused all the same
        ("{{ 2**64 * 2**64 * 2**64 }}", "Numbers this large"),
        ("{% set s = 'x' * 20000 %}{{ s ~ s }}", "40,000 characters"),
        ("{% set s = 'x' * 20000 %}{{ s + s }}", "40,000 characters"),
        ("{{ '%999999999s' % 'a' }}", "Formatting text with %"),
        ("{{ 'a'|center(999999999) }}", "center width"),
        ("{{ 'a'|indent(999999999) }}", "indent width"),
        ("{{ 'a'|round(999999999) }}", "round precision"),
        ("{% set s = 'a' * 9000 %}{{ s|replace('a', s) }}", "81,000,000 characters"),
        ("{{ ('ab' * 10000)|replace('', 'xyz') }}", "characters"),
        ("{% set k = 'for' ~ 'mat' %}{% macro m(f) %}{{ f('{:>99999999}', 1) }}{% endmacro %}{{ m(''[k]) }}", "unsafe"),
        ("{{ signer }}", "not the whole signer"),
        ("{{ [1, 2] }}", "not a list"),
        ("{{ 1 / 0 }}", "division by zero"),
    ],
)
def test_expression_that_would_build_something_huge_is_stopped(source, fragment):
    assert fragment in _stopped(source).user_message
    assert fragment in _rejected(source).user_message
    _assert_healthy()


def test_nested_loops_over_big_sequences_stop_within_about_a_second():
    started = time.monotonic()
    error = _stopped("Hi\n{% for a in 'x' * 20000 %}{% for b in 'x' * 20000 %}{% endfor %}{% endfor %}")
    assert time.monotonic() - started >= 0.9  # it really ran to the budget, then stopped
    assert "longer than 1 second" in error.user_message and error.line == 2
    _assert_healthy()


def test_loops_that_print_too_much_are_stopped_even_inside_set_blocks():
    loud = "{% for a in 'x' * 20000 %}{{ 'y' * 100 }}{% endfor %}"
    assert "more than 20,000 characters" in _stopped(loud).user_message
    buffered = (
        "{% set s %}{% for a in 'x' * 20000 %}{% for b in 'x' * 20000 %}xxxxxxxx{% endfor %}{% endfor %}{% endset %}"
    )
    assert "more than 20,000 characters" in _stopped(buffered + "{{ s|length }}").user_message
    _assert_healthy()


def test_recursive_macros_are_stopped_and_the_process_stays_healthy():
    deep = _stopped("{% macro f(n) %}{{ f(n) }}{% endmacro %}\n{{ f(1) }}")
    assert "calls itself too deeply" in deep.user_message
    silent = "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}"
    assert "longer than 1 second" in _stopped(silent).user_message
    loud = "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% else %}xx{% endif %}{% endmacro %}{{ f(40) }}"
    assert "more than 20,000 characters" in _stopped(loud).user_message
    _assert_healthy()


def test_output_just_over_the_limit_is_stopped_and_at_the_limit_is_fine():
    assert len(render_source(f"{{{{ 'x' * {OUTPUT_MAX} }}}}", sample_context())) == OUTPUT_MAX
    assert "more than 20,000 characters" in _stopped(f"{{{{ 'x' * {OUTPUT_MAX} }}}}!").user_message


def test_template_that_fails_for_a_supporter_without_a_comment_is_refused_at_save():
    error = _rejected("{{ signer.comment|length }}")
    assert "left out their region, postal code and comment" in error.user_message


# --------------------------------------------------------------------------- what letters can do


def test_supporter_text_is_a_value_never_template_source():
    context = sample_context()
    context = replace(context, signer=replace(context.signer, comment="{{ 7*7 }} {% include 'x' %} <b>"))
    letter = render(check_template("{% if signer.comment %}{{ signer.comment }}{% endif %}"), context)
    assert letter == "{{ 7*7 }} {% include 'x' %} <b>"
    assert isinstance(letter, str)


def test_missing_optional_details_print_as_nothing():
    context = sample_context()
    context = replace(context, signer=replace(context.signer, postal_code=None, comment=None))
    assert render_source("[{{ signer.postal_code }}][{{ signer.comment }}]", context) == "[][]"


def test_ordinary_jinja_features_work():
    source = (
        "{% macro line(label, value) %}{{ label }}: {{ value }}{% endmacro %}"
        "{% for day in ['Mon', 'Tue'] %}{{ loop.index }}.{{ day|upper }}{% if not loop.last %}, {% endif %}{% endfor %}"
        "|{{ line('Name', signer.full_name) }}|{{ campaign.count|number }}|{{ ['a', 'b']|join('+') }}"
        "|{% filter upper %}{{ signer['first_name'] }}{% endfilter %}|{{ signer.first_name[0] }}"
        "|{{ campaign.goal - campaign.count }}|{{ (campaign.count / campaign.goal * 100)|round(1) }}%"
    )
    assert render(check_template(source), sample_context()) == (
        "1.MON, 2.TUE|Name: Amara Okafor|4,217|a+b|AMARA|A|5783|42.2%"
    )


@pytest.mark.parametrize("stock", stock_templates(), ids=lambda t: t.name)
def test_every_stock_template_passes_check_and_renders_with_the_sample(stock):
    context = sample_context()
    subject = render(check_template(stock.subject), context)
    body = render(check_template(stock.body), context)
    assert stock.title and stock.description and subject and "\n" not in subject
    assert "Amara Okafor" in body and "Jordan Ellis" in body and context.signer.comment in body
    assert "{" not in body and not any("  " in line for line in body.splitlines())


def test_there_are_stock_templates_for_legislator_company_and_council():
    assert {"legislator-bill", "company-executive", "local-council"} <= {t.name for t in stock_templates()}


def test_stock_template_header_is_parsed_and_bad_headers_are_refused():
    stock = parse_stock_template("{#\ntitle: T\ndescription: D\nsubject: S {{ today }}\n#}\nBody\n", name="x")
    assert (stock.name, stock.title, stock.description, stock.subject, stock.body) == (
        "x", "T", "D", "S {{ today }}", "Body\n"
    )  # fmt: skip
    assert (stock.subject_line, stock.body_line) == (4, 6)
    with pytest.raises(TemplateRejected, match="starts with a header"):
        parse_stock_template("Body only")
    with pytest.raises(TemplateRejected, match="needs a 'subject"):
        parse_stock_template("{#\ntitle: T\n#}\nBody")
    with pytest.raises(TemplateRejected, match="Line 3: Header lines"):
        parse_stock_template("{#\ntitle: T\nsender: me\nsubject: S\n#}\nBody")


# --------------------------------------------------------------------------- the command line


def _cli(*paths: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "campaigns", "templates", "check", *paths],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_passes_the_stock_templates_without_a_database():
    paths = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "letter_templates").glob("*.j2"))]
    run = _cli(*paths)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines() == [f"{p}: ok" for p in paths]


def test_cli_reports_file_line_reason_and_exits_1(tmp_path):
    bad = tmp_path / "bad.j2"
    bad.write_text(
        "{#\ntitle: Bad\nsubject: Hello {{ signer.nickname }}\n#}\nDear {{ target.name }},\n{{ 'a' * 10**8 }}\n"
    )
    good = tmp_path / "good.j2"
    good.write_text(NORMAL)
    run = _cli(str(bad), str(good))
    assert run.returncode == 1
    lines = run.stdout.splitlines()
    assert lines[0].startswith(f"{bad}:3: 'signer.nickname' is not available in letters")
    assert lines[1].startswith(f"{bad}:6: That would make 100,000,000 characters")
    assert lines[2] == f"{good}: ok"
