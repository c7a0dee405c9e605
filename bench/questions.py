"""Reading a question's live results: the aggregate rows stay flat while a naive scan of the answers grows.

One campaign grows to each size in turn (bare-driver bulk load of signatures, then one ``INSERT ... SELECT``
giving every signature an answer to one four-option question), its answer counts are rebuilt with
``tally.rebuild_counts`` and spread over the count shards, and a few hundred real ``answering.answer`` calls
change answers on top (the counts move from shard to shard as they do live). Then, each in a fresh read session
as a page would open it, we time:

* ``results.read_results`` - overall per option and per region per option, from the ``answer_count`` rows;
* naive scan                - ``SELECT option_id, region_code, COUNT(*) FROM answer WHERE question_id = ?
                              GROUP BY option_id, region_code``, the baseline the aggregate rows replace.

Median and p95 of up to 200 calls after a warm-up (the naive scan stops early after ~6 s). Target: results
under 10 ms at 1,000,000 answers, flat as answers grow.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from bench.common import (
    Database,
    Options,
    SignerFactory,
    fmt_ms,
    for_each_database,
    make_published_campaign,
    median,
    percentile,
    print_table,
)
from bench.read_counts import bulk_load, time_calls
from campaigns.core.audit import CLI
from campaigns.core.db import read_session, run_write
from campaigns.core.models import utcnow
from campaigns.core.settings import get_settings
from campaigns.questions import answering, asking, results, tally

NAME = "questions"
NAIVE_BUDGET_S = 6.0
REAL_ANSWERS = 200  # real answer changes on top of each bulk load, so several shards hold counts
TARGET_MS = 10.0
NAIVE_SQL = "SELECT option_id, region_code, COUNT(*) FROM answer WHERE question_id = :q GROUP BY option_id, region_code"
ANSWER_ALL = (
    "INSERT INTO answer (question_id, signature_id, option_id, region_code, answered_at, updated_at) "
    "SELECT :q, id, CASE id % 4 WHEN 0 THEN :o0 WHEN 1 THEN :o1 WHEN 2 THEN :o2 ELSE :o3 END, region_code, "
    "created_at, created_at FROM signature WHERE campaign_id = :c AND id > :after"
)


def answer_all(db: Database, campaign_id: int, question: asking.QuestionView) -> None:
    """Every signature without an answer gets one (in one statement), then ANALYZE as autovacuum would."""

    def work(session: Any) -> None:
        after = session.execute(
            text("SELECT COALESCE(MAX(signature_id), 0) FROM answer WHERE question_id = :q"), {"q": question.id}
        ).scalar_one()
        params = {f"o{i}": oid for i, (oid, _) in enumerate(question.options)}
        session.execute(text(ANSWER_ALL), {"q": question.id, "c": campaign_id, "after": after, **params})

    run_write(db.engine, work)
    if db.kind == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE answer"))


def spread_over_shards(db: Database, question_id: int) -> None:
    """``rebuild_counts`` puts each key's count on shard 0; split it over all shards as live answers would."""
    shards = 1 if db.kind == "sqlite" else get_settings().count_shards

    def work(session: Any) -> None:
        rows = session.execute(
            text("SELECT option_id, region_code, count FROM answer_count WHERE question_id = :q"), {"q": question_id}
        ).all()
        session.execute(text("DELETE FROM answer_count WHERE question_id = :q"), {"q": question_id})
        new = [
            {"q": question_id, "o": option, "r": code, "s": shard, "n": count // shards + (shard < count % shards)}
            for option, code, count in rows
            for shard in range(shards)
        ]
        session.execute(
            text(
                "INSERT INTO answer_count (question_id, option_id, region_code, shard, count) "
                "VALUES (:q, :o, :r, :s, :n)"
            ),
            [row for row in new if row["n"]],
        )

    run_write(db.engine, work)


def bench_database(db: Database, sizes: list[int], factory: SignerFactory) -> list[list[Any]]:
    engine = db.engine
    campaign_id, _ = make_published_campaign(engine, "questions")
    question = run_write(
        engine,
        lambda s: asking.ask_question(
            session=s,
            campaign_id=campaign_id,
            prompt="Which action next?",
            options=["A march", "Letters", "A call-in day", "A town hall"],
            closes_at=utcnow() + timedelta(days=30),
            actor=CLI,
        ),
    )
    option_ids = [oid for oid, _ in question.options]
    rng = random.Random(5)
    loaded = 0
    rows = []
    for size in sizes:
        t0 = time.perf_counter()
        bulk_load(db, campaign_id, loaded, size, factory.region_codes)
        loaded = size
        answer_all(db, campaign_id, question)
        run_write(engine, lambda s: tally.rebuild_counts(session=s, question_id=question.id))
        spread_over_shards(db, question.id)
        for _ in range(REAL_ANSWERS):  # signers changing their minds, through the service
            sid, oid = rng.randint(1, loaded), rng.choice(option_ids)
            run_write(
                engine,
                lambda s, sid=sid, oid=oid: answering.answer(
                    session=s, question_id=question.id, signature_id=sid, option_id=oid
                ),
            )
        load_s = time.perf_counter() - t0

        def read() -> results.QuestionResults:
            with read_session(engine) as s:
                return results.read_results(session=s, question_id=question.id)

        def naive() -> list[Any]:
            with read_session(engine) as s:
                return s.execute(text(NAIVE_SQL), {"q": question.id}).all()

        found, naive_rows = read(), naive()
        expected = {(int(o), r): int(n) for o, r, n in naive_rows}
        kept = {(o, r): n for r, options in found.by_region.items() for o, n in options.items()}
        if not (found.total == loaded == sum(expected.values()) and kept == expected):
            raise AssertionError(f"answer counts disagree at {loaded:,} answers")
        with engine.connect() as conn:
            count_rows = conn.execute(
                text("SELECT count(*) FROM answer_count WHERE question_id = :q"), {"q": question.id}
            ).scalar_one()
        t_read, t_naive = time_calls(read), time_calls(naive, NAIVE_BUDGET_S)
        verdict = "PASS" if median(t_read) * 1000 < TARGET_MS else "MISS"
        rows.append(
            [
                db.kind,
                f"{loaded:,}",
                count_rows,
                fmt_ms(median(t_read)),
                fmt_ms(percentile(t_read, 0.95)),
                fmt_ms(median(t_naive)),
                fmt_ms(percentile(t_naive, 0.95)),
                len(t_naive),
                f"{median(t_naive) / median(t_read):,.1f}×",
                verdict,
            ]
        )
        print(
            f"  [{db.kind}] {loaded:>9,} answers (load {load_s:.1f} s, {count_rows} count rows): "
            f"results {fmt_ms(median(t_read))} ms, naive scan {fmt_ms(median(t_naive))} ms",
            flush=True,
        )
    return rows


def run(opts: Options) -> None:
    sizes = [1_000, 10_000] if opts.quick else [1_000, 100_000, 1_000_000]
    print(f"\n== {NAME}: reading a question's live results at {', '.join(f'{s:,}' for s in sizes)} answers ==")
    print("  fresh read session per call; median/p95 of up to 200 calls after 10 warm-up calls", flush=True)
    started = time.perf_counter()
    factory = SignerFactory(seed=13)
    rows, skipped = for_each_database(opts, lambda db: bench_database(db, sizes, factory))
    print_table(
        "Question results (ms per call, fresh read session each; naive = GROUP BY scan of the answers)",
        [
            "db",
            "answers",
            "count rows",
            "results p50",
            "results p95",
            "naive p50",
            "naive p95",
            "naive calls",
            "naive/results",
            f"< {TARGET_MS:.0f} ms",
        ],
        rows,
    )
    for line in skipped:
        print(line)
    print(f"  ({NAME} took {time.perf_counter() - started:.0f} s)")
