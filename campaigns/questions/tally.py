"""Keeping the answers' aggregate rows (``answer_count``): every change to an answer changes them in the same
transaction, so results and answers never disagree.

A new answer adds 1 to its (question, option, region); a changed one adds -1 to the old option and +1 to the
new, a removed one -1. Each change is one ``INSERT ... ON CONFLICT DO UPDATE`` adding to a shard (one of
``count_shards`` on PostgreSQL, so answers arriving together rarely wait on one row; one row per key on SQLite).
A shard may hold a negative part; the sum of a key's shards is exact, and readers only ever read the sum.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from functools import cache

from sqlalchemy import delete, func, insert, select
from sqlmodel import Session, col

from campaigns.core.db import HotStatement, insert_for
from campaigns.core.models import Answer, AnswerCount
from campaigns.core.settings import get_settings

_COUNTS = AnswerCount.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_KEY = ["question_id", "option_id", "region_code", "shard"]


@cache
def _adding(dialect_name: str) -> HotStatement:
    stmt = insert_for(dialect_name, _COUNTS)
    upsert = stmt.on_conflict_do_update(index_elements=_KEY, set_={"count": _COUNTS.c.count + stmt.excluded.count})
    return HotStatement(upsert, (*_KEY, "count"))


def _shard(dialect_name: str) -> int:
    return 0 if dialect_name == "sqlite" else random.randrange(get_settings().count_shards)


def change_counts(*, session: Session, question_id: int, region_code: str, changes: Iterable[tuple[int, int]]) -> None:
    """Add each (option id, delta) of ``changes`` to the question's counts for ``region_code``, in the caller's
    transaction. Keys are taken in sorted order, so two transactions never wait on each other's rows in turn."""
    dialect = session.connection().dialect.name
    statement = _adding(dialect)
    keyed = sorted((option_id, _shard(dialect), delta) for option_id, delta in changes if delta)
    for option_id, shard, delta in keyed:
        statement.run(
            session,
            {
                "question_id": question_id,
                "option_id": option_id,
                "region_code": region_code,
                "shard": shard,
                "count": delta,
            },
        )


def add_many(*, session: Session, question_id: int, answers: Iterable[tuple[int, str]]) -> None:
    """Counts for many answers at once (a bulk load or a repair): ``answers`` holds each one's (option id,
    region code). One multi-row upsert, keys sorted."""
    tally = Counter(answers)
    if not tally:
        return
    dialect = session.connection().dialect.name
    stmt = insert_for(dialect, _COUNTS)
    upsert = stmt.on_conflict_do_update(index_elements=_KEY, set_={"count": _COUNTS.c.count + stmt.excluded.count})
    session.execute(
        upsert,
        [
            {"question_id": question_id, "option_id": o, "region_code": r, "shard": 0, "count": n}
            for (o, r), n in sorted(tally.items())
        ],
    )


def rebuild_counts(*, session: Session, question_id: int) -> int:
    """Recompute a question's aggregate rows from its answers (a repair); returns the number of answers."""
    session.execute(delete(AnswerCount).where(col(AnswerCount.question_id) == question_id))
    grouped = session.execute(
        select(col(Answer.option_id), col(Answer.region_code), func.count())
        .where(col(Answer.question_id) == question_id, col(Answer.counted))
        .group_by(col(Answer.option_id), col(Answer.region_code))
    ).all()
    if grouped:
        session.execute(
            insert(AnswerCount),
            [
                {"question_id": question_id, "option_id": int(o), "region_code": r, "shard": 0, "count": int(n)}
                for o, r, n in grouped
            ],
        )
    return sum(int(n) for *_, n in grouped)
