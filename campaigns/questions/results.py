"""A question's results, overall and by region, read from the aggregate rows only (``answer_count``).

One statement sums the shards per (option, region): at most options x regions x shards rows, whatever the
number of answers, so a read costs the same for ten answers or a million. Results carry nothing about any
signer: safe to cache and share between viewers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import bindparam, func, select
from sqlmodel import Session, col

from campaigns.core.db import HotStatement
from campaigns.core.models import AnswerCount, Campaign, utcnow
from campaigns.dashboard import live
from campaigns.questions import asking
from campaigns.regions.lookup import resolve_scheme

# Every viewer's refresh reads this (through a short cache): run on the DBAPI cursor (a db.HotStatement).
_SUMS = HotStatement(
    select(col(AnswerCount.option_id), col(AnswerCount.region_code), func.sum(AnswerCount.count))
    .where(col(AnswerCount.question_id) == bindparam("question_id"))
    .group_by(col(AnswerCount.option_id), col(AnswerCount.region_code)),
    ("question_id",),
)


@dataclass(frozen=True)
class OptionResult:
    option_id: int
    label: str
    count: int
    share: float  # of all answers, 0..1


@dataclass(frozen=True)
class QuestionResults:
    """Plain values: the question, its options' totals (in the organizer's order), and answers per region per
    option (``by_region[region_code][option_id]``, regions with answers only)."""

    question: asking.QuestionView
    total: int
    options: tuple[OptionResult, ...]
    by_region: dict[str, dict[int, int]]
    read_at: datetime


def read_results(*, session: Session, question_id: int, now: datetime | None = None) -> QuestionResults:
    """Overall per option and per region per option, from the aggregate rows only."""
    now = now or utcnow()
    question = asking.get_question(session=session, question_id=question_id, now=now)
    known = {oid for oid, _ in question.options}
    by_region: dict[str, dict[int, int]] = {}
    overall = dict.fromkeys(known, 0)
    for option_id, region_code, n in _SUMS.fetchall(session, {"question_id": question_id}):
        n = int(n or 0)
        if not n or option_id not in known:
            continue
        by_region.setdefault(str(region_code), {})[int(option_id)] = n
        overall[int(option_id)] += n
    total = sum(overall.values())
    options = tuple(
        OptionResult(option_id=oid, label=label, count=overall[oid], share=overall[oid] / total if total else 0.0)
        for oid, label in question.options
    )
    return QuestionResults(question=question, total=total, options=options, by_region=by_region, read_at=now)


def region_frame(*, session: Session, results: QuestionResults, option_id: int | None = None) -> pd.DataFrame:
    """Every region of the campaign's scheme with its answers (to ``option_id``, or all answers), in the live
    dashboard's frame (code, name, count, population, shape_id, per_100k, rank): its map and bars draw it."""
    scheme_id = session.execute(
        select(col(Campaign.region_scheme)).where(col(Campaign.id) == results.question.campaign_id)
    ).scalar_one()
    scheme = resolve_scheme(session=session, scheme_id=scheme_id)
    counts = {
        code: (options.get(option_id, 0) if option_id is not None else sum(options.values()))
        for code, options in results.by_region.items()
    }
    return live.region_table(counts={c: n for c, n in counts.items() if n}, scheme=scheme)


def leading_by_region(results: QuestionResults) -> dict[str, int]:
    """Each region's most chosen option (ties: the earlier option), for regions with answers."""
    order = {oid: i for i, (oid, _) in enumerate(results.question.options)}
    return {
        code: min(options, key=lambda oid: (-options[oid], order.get(oid, 99)))
        for code, options in results.by_region.items()
        if options
    }
