"""Letters: sandboxed render throughput against plain Jinja, in the same run.

One stock template (``legislator-bill``) is compiled once by each engine, then filled in for a
rotating set of realistic supporters and decision-makers:

* sandboxed  - ``campaigns.letters.templates.render``: the locked-down sandbox, instrumented tree, render budget;
* plain      - the same body in a plain ``jinja2.Environment`` (same options, same variables): the baseline.

Best of three rounds. Targets: at least 10,000 letters/s sandboxed, and at most 2x the plain time.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import jinja2

from bench.common import COMMENTS, FIRST, LAST, Options, fmt_rate, print_table
from campaigns.letters.templates import (
    CampaignView,
    LetterContext,
    SignerView,
    TargetView,
    check_template,
    render,
    stock_templates,
)

NAME = "letters"
TEMPLATE = "legislator-bill"
TARGET_RATE = 10_000  # letters per second, sandboxed
TARGET_OVERHEAD = 2.0  # sandboxed time / plain time
ROUNDS = 3
REGIONS = ("Ohio", "Texas", "Vermont", "Oregon", None)
TARGETS = (("Jordan Ellis", "Senator"), ("Maria Santos", "Representative"), ("Chen Wei", ""))


def contexts(n: int, seed: int = 11) -> list[LetterContext]:
    rng = random.Random(seed)
    out = []
    for k in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name, title = rng.choice(TARGETS)
        out.append(
            LetterContext(
                signer=SignerView(
                    first_name=first,
                    full_name=f"{first} {last}",
                    region_name=rng.choice(REGIONS),
                    postal_code=f"{rng.randrange(10_000, 99_999)}" if rng.random() < 0.4 else None,
                    comment=rng.choice(COMMENTS) if rng.random() < 0.3 else None,
                ),
                target=TargetView(name=name, title=title, postal_address="1 Capitol Square"),
                campaign=CampaignView(
                    title="Fund the libraries", purpose="Keep every branch open.", goal=10_000, count=k
                ),
                today="22 November 2026",
            )
        )
    return out


def _rate(fill: Callable[[LetterContext], str], batch: list[LetterContext]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for ctx in batch:
            fill(ctx)
        best = min(best, time.perf_counter() - start)
    return len(batch) / best


def run(opts: Options) -> None:
    stock = next(t for t in stock_templates() if t.name == TEMPLATE)
    compiled = check_template(stock.body)
    plain = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        finalize=lambda value: "" if value is None else value,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    plain.filters["number"] = lambda value: f"{value:,}"
    plain_template = plain.from_string(stock.body)
    batch = contexts(2_000 if opts.quick else 20_000)
    for ctx in batch[:50]:  # warm up, and check both engines write the same letter
        assert render(compiled, ctx) == plain_template.render(ctx.variables())

    sandboxed = _rate(lambda ctx: render(compiled, ctx), batch)
    baseline = _rate(lambda ctx: plain_template.render(ctx.variables()), batch)
    overhead = baseline / sandboxed
    print_table(
        f"Letters: fill in `{TEMPLATE}` for {len(batch):,} supporters (best of {ROUNDS})",
        ["engine", "letters/s", "µs/letter", "target", "result"],
        [
            ["sandboxed", fmt_rate(sandboxed), f"{1e6 / sandboxed:.1f}", f">= {TARGET_RATE:,}/s",
             "PASS" if sandboxed >= TARGET_RATE else "MISS"],
            ["plain Jinja", fmt_rate(baseline), f"{1e6 / baseline:.1f}", "baseline", ""],
            ["overhead", f"{overhead:.2f}x", "", f"<= {TARGET_OVERHEAD:g}x",
             "PASS" if overhead <= TARGET_OVERHEAD else "MISS"],
        ],
    )  # fmt: skip
