"""A question's results, overall and by region, read from the aggregate rows only (``answer_count``).

One statement reads the question with its options and sums the shards per (option, region): it reads at most
options x regions x shards count rows, whatever the number of answers, so a read costs the same for ten
answers or a million. Results carry nothing about any signer: safe to cache and share between viewers.

The public sees :func:`public_results`: a region with fewer than ``PUBLIC_MIN_REGION`` answers is not shown per
region (one or two answers from a small place would say how those neighbours answered); its answers still count
in the totals, and when the regions left out hold fewer than that together, the next smallest are left out too
(the totals minus the regions shown must not give a small region away). Organizers read the exact figures
(:func:`read_results`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import and_, bindparam, func, select
from sqlmodel import Session, col

from campaigns.core.models import AnswerCount, Campaign, Question, QuestionOption, utcnow
from campaigns.dashboard import live
from campaigns.questions import asking
from campaigns.regions.lookup import resolve_scheme

PUBLIC_MIN_REGION = 5  # fewer answers than this in a region: the public does not see that region's figures
_Q = Question.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_O = QuestionOption.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_C = AnswerCount.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
# Every viewer's refresh reads this (through a short cache): the question, its options and their counts per
# region, the shards summed, in one statement (one round trip).
_ONE_READ = (
    select(
        _Q.c.campaign_id,
        _Q.c.prompt,
        _Q.c.allow_free_text,
        _Q.c.show_results_public,
        _Q.c.status,
        _Q.c.closes_at,
        _Q.c.created_at,
        _O.c.id.label("option_id"),
        _O.c.label,
        _C.c.region_code,
        func.sum(_C.c.count).label("n"),
    )
    .select_from(
        _Q.join(_O, _O.c.question_id == _Q.c.id).outerjoin(
            _C, and_(_C.c.question_id == _Q.c.id, _C.c.option_id == _O.c.id)
        )
    )
    .where(_Q.c.id == bindparam("question_id"))
    .group_by(
        _Q.c.id,
        _Q.c.campaign_id,
        _Q.c.prompt,
        _Q.c.allow_free_text,
        _Q.c.show_results_public,
        _Q.c.status,
        _Q.c.closes_at,
        _Q.c.created_at,
        _O.c.id,
        _O.c.position,
        _O.c.label,
        _C.c.region_code,
    )
    .order_by(_O.c.position, _C.c.region_code)
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
    option (``by_region[region_code][option_id]``, regions with answers only; with ``min_region``, only regions
    with at least that many answers, and ``withheld_regions`` says how many were left out)."""

    question: asking.QuestionView
    total: int
    options: tuple[OptionResult, ...]
    by_region: dict[str, dict[int, int]]
    read_at: datetime
    min_region: int = 0  # 0: exact figures for every region (organizers)
    withheld_regions: int = 0  # regions with answers left out of by_region (fewer than min_region)


def read_results(
    *, session: Session, question_id: int, now: datetime | None = None, min_region: int = 0
) -> QuestionResults:
    """Overall per option and per region per option, from the aggregate rows only (one statement).

    ``min_region``: regions with fewer answers than this are left out of ``by_region`` (the totals keep them)."""
    now = now or utcnow()
    rows = session.execute(_ONE_READ, {"question_id": question_id}).all()
    if not rows:
        raise asking.QuestionNotFound()
    first = rows[0]
    options: dict[int, str] = {}
    overall: dict[int, int] = {}
    by_region: dict[str, dict[int, int]] = {}
    for row in rows:
        oid = int(row.option_id)
        options[oid] = str(row.label)
        n = int(row.n or 0)
        overall[oid] = overall.get(oid, 0) + n
        if n:
            by_region.setdefault(str(row.region_code), {})[oid] = n
    question = asking.QuestionView(
        id=question_id,
        campaign_id=int(first.campaign_id),
        prompt=str(first.prompt),
        options=tuple(options.items()),
        allow_free_text=bool(first.allow_free_text),
        show_results_public=bool(first.show_results_public),
        closes_at=first.closes_at,
        is_open=asking.is_open(first, now),
        created_at=first.created_at,
    )
    total = sum(overall.values())
    per_option = tuple(
        OptionResult(option_id=oid, label=label, count=overall[oid], share=overall[oid] / total if total else 0.0)
        for oid, label in options.items()
    )
    small = _too_small(by_region, min_region)
    for code in small:
        del by_region[code]
    return QuestionResults(
        question=question,
        total=total,
        options=per_option,
        by_region=by_region,
        read_at=now,
        min_region=min_region,
        withheld_regions=len(small),
    )


def _too_small(by_region: dict[str, dict[int, int]], min_region: int) -> list[str]:
    """The regions to leave out: those under ``min_region``, and then the smallest others until the left-out ones
    hold ``min_region`` answers together (else the totals minus the regions shown would give a small region away).
    """
    sizes = sorted((sum(counts.values()), code) for code, counts in by_region.items())
    out = [code for n, code in sizes if n < min_region]
    held = sum(n for n, code in sizes if n < min_region)
    for n, code in sizes:
        if not held or held >= min_region:
            break
        if n >= min_region:
            out.append(code)
            held += n
    return out


def public_results(*, session: Session, question_id: int, now: datetime | None = None) -> QuestionResults:
    """What the public page shows: the totals, and by region only where ``PUBLIC_MIN_REGION`` answers or more
    came from, so nobody's answer can be picked out of a small region."""
    return read_results(session=session, question_id=question_id, now=now, min_region=PUBLIC_MIN_REGION)


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
