"""Concurrent signing with real threads and processes against the real database."""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from campaigns.core.db import make_engine, read_session, run_write
from campaigns.core.models import RegionCount, Signature
from campaigns.signatures.counts import count_total
from campaigns.signatures.signing import sign
from tests.support.factories import make_campaign, signer

REGIONS = ["US-CA", "US-NY", "US-TX", "US-WA", "US-VT"]


def _sign_all_at_once(engine, slug, signers):
    barrier = threading.Barrier(len(signers))

    def one(s):
        barrier.wait()
        return run_write(engine, lambda session: sign(session=session, campaign_slug=slug, signer=s))

    with ThreadPoolExecutor(max_workers=len(signers)) as pool:
        return list(pool.map(one, signers))


def _counts_match_signatures(engine, campaign_id) -> tuple[int, dict, dict]:
    with read_session(engine) as session:
        stored = dict(
            session.execute(
                select(Signature.region_code, func.count())
                .where(Signature.campaign_id == campaign_id)
                .group_by(Signature.region_code)
            ).all()
        )
        counted = dict(
            session.execute(
                select(RegionCount.region_code, func.sum(RegionCount.count))
                .where(RegionCount.campaign_id == campaign_id)
                .group_by(RegionCount.region_code)
            ).all()
        )
        return count_total(session=session, campaign_id=campaign_id), stored, {k: int(v) for k, v in counted.items()}


def test_sixteen_simultaneous_submissions_of_one_email_make_one_signature(engine):
    campaign = make_campaign(engine)
    results = _sign_all_at_once(
        engine, campaign.slug, [signer(email=f"Same.Person+{i}@gmail.com", region_code="US-NY") for i in range(16)]
    )
    assert sum(r.created for r in results) == 1
    assert all(r.total == 1 for r in results)
    total, stored, counted = _counts_match_signatures(engine, campaign.id)
    assert total == 1 and stored == counted == {"US-NY": 1}


def test_sixteen_threads_of_fifty_distinct_signers_are_all_counted_exactly(engine):
    campaign = make_campaign(engine)
    barrier = threading.Barrier(16)

    def worker(t: int) -> int:
        barrier.wait()
        created = 0
        for i in range(50):
            s = signer(email=f"t{t}-s{i}@example.org", region_code=REGIONS[(t + i) % len(REGIONS)])
            created += run_write(
                engine, lambda session, s=s: sign(session=session, campaign_slug=campaign.slug, signer=s)
            ).created
        return created

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert sum(pool.map(worker, range(16))) == 800
    total, stored, counted = _counts_match_signatures(engine, campaign.id)
    assert total == 800 and sum(stored.values()) == 800 and stored == counted


def _process_worker(url: str, slug: str, n: int, results) -> None:  # runs in a child process
    engine = make_engine(url)
    created = 0
    for i in range(40):
        s = signer(email=f"proc{n}-{i}@example.org", region_code=REGIONS[i % len(REGIONS)])
        created += run_write(engine, lambda session, s=s: sign(session=session, campaign_slug=slug, signer=s)).created
    shared = signer(email="everyone@example.org")
    created += run_write(engine, lambda session: sign(session=session, campaign_slug=slug, signer=shared)).created
    results.put(created)
    engine.dispose()


def test_four_processes_writing_one_database_keep_exact_counts(engine):
    """Like several app processes (replicas) sharing one database file or server."""
    campaign = make_campaign(engine)
    url = engine.url.render_as_string(hide_password=False)
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    procs = [ctx.Process(target=_process_worker, args=(url, campaign.slug, n, results)) for n in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert sum(results.get(timeout=5) for _ in procs) == 4 * 40 + 1
    total, stored, counted = _counts_match_signatures(engine, campaign.id)
    assert total == 161 and stored == counted
