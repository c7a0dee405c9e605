"""The dashboard's numbers: read from the aggregate rows, always equal to a brute-force count."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select, text

from campaigns.core.db import read_session, run_write, snapshot_session
from campaigns.core.errors import CampaignNotFound
from campaigns.core.models import Signature, SignatureStatus
from campaigns.dashboard import live, overview
from campaigns.regions.schemes import get_scheme
from campaigns.signatures import count_writes, counts
from campaigns.signatures.signing import sign
from tests.support.factories import make_campaign, signer

REGIONS = ["US-CA", "US-NY", "US-TX", "US-WA", "US-VT", "US-WY"]
START = datetime(2026, 11, 1, tzinfo=UTC)


def _brute_force(engine, campaign_id: int) -> tuple[dict[str, int], dict[datetime, int], dict[tuple, int]]:
    """Counted signatures by region, by UTC hour and by (region, UTC day), straight from the table."""
    with read_session(engine) as session:
        rows = session.execute(
            select(Signature.region_code, Signature.created_at).where(
                Signature.campaign_id == campaign_id, Signature.status == SignatureStatus.counted.value
            )
        ).all()
    regions: dict[str, int] = {}
    hours: dict[datetime, int] = {}
    days: dict[tuple, int] = {}
    for code, created in rows:
        regions[code] = regions.get(code, 0) + 1
        hours[counts.hour_of(created)] = hours.get(counts.hour_of(created), 0) + 1
        key = (code, counts.day_of(created))
        days[key] = days.get(key, 0) + 1
    return regions, hours, days


def test_aggregates_equal_a_brute_force_count_after_randomized_concurrent_signing(engine):
    campaign = make_campaign(engine, slug="dash-concurrent", goal=120)
    rng = random.Random(7)
    # 160 attempts by 8 threads: some people sign twice (same mailbox spelled differently), at random times
    people = [f"person{i}" for i in range(120)]
    attempts = [
        (
            signer(email=f"{rng.choice(people)}+{i}@gmail.com", region_code=rng.choice(REGIONS)),
            START + timedelta(minutes=rng.randrange(0, 60 * 24 * 5)),
        )
        for i in range(160)
    ]
    barrier = threading.Barrier(8)

    def worker(chunk):
        barrier.wait()
        for person, when in chunk:
            run_write(engine, lambda s, p=person, w=when: sign(session=s, campaign_slug=campaign.slug, signer=p, now=w))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(worker, [attempts[i::8] for i in range(8)]))

    regions, hours, days = _brute_force(engine, campaign.id)
    with snapshot_session(engine) as session:
        data = live.read_dashboard(session=session, slug=campaign.slug, now=START + timedelta(days=5))
        trends = {
            code: counts.count_region_by_day(session=session, campaign_id=campaign.id, region_code=code)
            for code in REGIONS
        }
    assert data.total == sum(regions.values()) == len({p.email.split("+")[0] for p, _ in attempts})
    assert {c: n for c, n in data.regions[["code", "count"]].itertuples(index=False) if n} == regions
    assert {h.to_pydatetime(): n for h, n in data.hourly.itertuples(index=False)} == hours
    assert {
        (code, d.to_pydatetime()): n for code, frame in trends.items() for d, n in frame.itertuples(index=False)
    } == days
    assert data.last_24h == sum(n for h, n in hours.items() if h >= counts.hour_of(START + timedelta(days=4, hours=1)))
    # a rebuild gives the same numbers
    run_write(engine, lambda s: count_writes.rebuild_counts(session=s, campaign_id=campaign.id))
    with snapshot_session(engine) as session:
        again = live.read_dashboard(session=session, slug=campaign.slug, now=START + timedelta(days=5))
    assert again.total == data.total and again.hourly.equals(data.hourly)


def test_milestones_carry_the_hour_the_running_count_crossed_them(engine):
    campaign = make_campaign(engine, slug="dash-milestones", goal=4)
    for i in range(3):
        moment = START + timedelta(hours=i * 5, minutes=30)
        run_write(engine, lambda s, w=moment: sign(session=s, campaign_slug=campaign.slug, signer=signer(), now=w))
    with read_session(engine) as session:
        data = live.read_dashboard(session=session, slug=campaign.slug, now=START + timedelta(days=1))
    reached = {m.percent: m.reached_at for m in data.milestones}
    assert reached == {25: START, 50: START + timedelta(hours=5), 75: START + timedelta(hours=10), 100: None}


def test_series_fills_quiet_hours_and_days_with_zeros_and_runs_a_cumulative_total():
    hourly = pd.DataFrame({"hour": pd.to_datetime([START, START + timedelta(hours=3)], utc=True), "count": [2, 5]})
    by_hour = live.series(hourly, daily=False, until=START + timedelta(hours=4, minutes=10))
    assert list(by_hour["count"]) == [2, 0, 0, 5, 0] and list(by_hour["cumulative"]) == [2, 2, 2, 7, 7]
    by_day = live.series(hourly, daily=True, until=START + timedelta(days=2))
    assert list(by_day["count"]) == [7, 0, 0] and list(by_day["cumulative"]) == [7, 7, 7]
    assert live.series(hourly.iloc[0:0], daily=True).empty


def test_drafts_are_not_on_the_public_dashboard_but_staff_see_them(engine):
    make_campaign(engine, slug="dash-draft", status="draft")
    with read_session(engine) as session:
        with pytest.raises(CampaignNotFound):
            live.read_dashboard(session=session, slug="dash-draft")
        assert live.read_dashboard(session=session, slug="dash-draft", staff=True).total == 0


@pytest.mark.parametrize("slug", ["dash-open\x00", "\x00", "dash open", "dash-\ud800"])
def test_a_slug_that_cannot_be_one_is_not_found_on_the_dashboard(engine, slug):
    make_campaign(engine, slug="dash-open")
    with read_session(engine) as session:
        with pytest.raises(CampaignNotFound, match="at that address"):
            live.read_dashboard(session=session, slug=slug, staff=True)
        with pytest.raises(CampaignNotFound):
            live.read_region_trend(session=session, slug=slug, region_code="US-CA")


def test_all_campaigns_view_sums_every_public_campaign_and_maps_one_scheme(engine):
    one = make_campaign(engine, slug="dash-all-1", goal=10)
    two = make_campaign(engine, slug="dash-all-2", goal=30)
    world = make_campaign(engine, slug="dash-all-world", region_scheme="world-countries", goal=5)
    make_campaign(engine, slug="dash-all-draft", status="draft")
    for slug, region in [(one.slug, "US-CA"), (two.slug, "US-CA"), (two.slug, "US-NY"), (world.slug, "FR")]:
        run_write(engine, lambda s, c=slug, r=region: sign(session=s, campaign_slug=c, signer=signer(region_code=r)))
    with read_session(engine) as session:
        assert live.list_schemes_in_use(session=session) == ["us-states", "world-countries"]
        data = live.read_all_campaigns(session=session, scheme_id="us-states")
        stored = session.execute(select(func.count()).select_from(Signature)).scalar_one()
    assert data.total == stored == 4 and data.goal == 45
    assert data.scheme == get_scheme("us-states").info  # resolved with the data: the page's map uses it as is
    assert set(data.campaigns["slug"]) == {one.slug, two.slug, world.slug}
    assert dict(data.regions[data.regions["count"] > 0][["code", "count"]].itertuples(index=False)) == {
        "US-CA": 2,
        "US-NY": 1,
    }


def test_folding_past_hours_keeps_every_count_and_leaves_one_row_per_past_hour(engine):
    """PostgreSQL spreads each hour over count shards; once the hour is past they are folded into one
    row, while people keep signing in other threads. SQLite has one row per hour already."""
    from campaigns.core.models import HourlyCount

    campaign = make_campaign(engine, slug="dash-fold", goal=500)
    now = datetime.now(UTC)
    this_hour = counts.hour_of(now)  # ten signatures in each of the five hours before this one
    earlier = [this_hour - timedelta(hours=h) + timedelta(minutes=m) for h in range(1, 6) for m in range(10)]

    def sign_at(moment):
        run_write(engine, lambda s: sign(session=s, campaign_slug=campaign.slug, signer=signer(), now=moment))

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(sign_at, earlier))
    with ThreadPoolExecutor(max_workers=4) as pool:  # folding while the current hour keeps signing
        signing = [pool.submit(sign_at, None) for _ in range(20)]
        folded = run_write(engine, lambda s: count_writes.fold_past_hours(session=s, now=now))
        for future in signing:
            future.result()
        run_write(engine, lambda s: count_writes.fold_past_hours(session=s, now=now))  # again: nothing left to fold
    regions, hours, _ = _brute_force(engine, campaign.id)
    with snapshot_session(engine) as session:
        data = live.read_dashboard(session=session, slug=campaign.slug)
        rows = session.execute(
            select(HourlyCount.hour, func.count())
            .where(HourlyCount.campaign_id == campaign.id)
            .group_by(HourlyCount.hour)
        ).all()
    assert {h.to_pydatetime(): n for h, n in data.hourly.itertuples(index=False)} == hours
    assert data.total == sum(regions.values()) == 70
    past = {hour: n for hour, n in rows if hour < counts.hour_of(now)}
    assert len(past) == 5 and set(past.values()) == {1}
    if engine.dialect.name == "sqlite":
        assert folded == 0


def test_letters_per_target_counts_only_rallys_emails_as_sent_and_the_rest_apart(engine):
    """Sent by Rally, downloaded, opened in a mail app: each letter once per column, never one for another."""
    from campaigns.core.models import Letter, Outreach, Target

    campaign = make_campaign(engine, slug="dash-letter-kinds")
    people = [
        run_write(engine, lambda s, n=n: sign(session=s, campaign_slug=campaign.slug, signer=signer())).signature_id
        for n in range(4)
    ]
    deliveries = {  # target: one list of (channel, status) rows per signer's letter
        "Senator A": [[("email", "sent"), ("pdf", "sent")], [("email", "sent")], [("email", "failed")]],
        "Senator B": [[("pdf", "sent"), ("text", "sent")], [("mailto", "sent")], [("email", "pending")]],
        "Senator C": [[("email", "uncertain")], [("text", "sent"), ("mailto", "sent")]],
        "Senator D": [],
    }

    def work(session):
        for name, letters in deliveries.items():
            target = Target(campaign_id=campaign.id, name=name, title="Senator", region_code=None)
            session.add(target)
            session.flush()
            for signature_id, rows in zip(people, letters, strict=False):
                letter = Letter(signature_id=signature_id, target_id=target.id, subject="Hi", body="Please.")
                session.add(letter)
                session.flush()
                for channel, status in rows:
                    session.add(Outreach(letter_id=letter.id, target_id=target.id, channel=channel, status=status))

    run_write(engine, work)
    with read_session(engine) as session:
        frame = live.read_dashboard(session=session, slug=campaign.slug).letters
    assert list(frame.columns) == live.LETTER_COLUMNS
    assert [tuple(r) for r in frame[["target", "sent", "downloaded", "opened"]].itertuples(index=False)] == [
        ("Senator A", 2, 1, 0),  # most sent first; the failed email is not sent
        ("Senator B", 0, 1, 1),  # a PDF and a text of one letter: one letter downloaded; pending is not sent
        ("Senator C", 0, 1, 1),  # maybe-sent (uncertain) is not sent either
        ("Senator D", 0, 0, 0),
    ]
    assert set(frame["region"]) == {"Everyone"}


def test_the_dashboard_and_overview_reads_write_nothing(engine):
    """The pages' cached reads run in a transaction that refuses writes: a read that folded hours (the
    upkeep's job), bumped a count or stored anything would fail here."""
    campaign = make_campaign(engine, slug="dash-read-only", goal=10)
    for hours_ago in (0, 1, 30):  # past hours keep their shards until the upkeep folds them
        moment = datetime.now(UTC) - timedelta(hours=hours_ago)
        run_write(engine, lambda s, w=moment: sign(session=s, campaign_slug=campaign.slug, signer=signer(), now=w))
    with snapshot_session(engine) as session:
        postgres = session.connection().dialect.name == "postgresql"
        session.execute(text("SET TRANSACTION READ ONLY" if postgres else "PRAGMA query_only = ON"))
        try:
            data = live.read_dashboard(session=session, slug=campaign.slug)
            everything = live.read_all_campaigns(session=session, scheme_id="us-states")
            trend = live.read_region_trend(session=session, slug=campaign.slug, region_code="US-CA")
            choices = live.list_campaign_choices(session=session), live.list_schemes_in_use(session=session)
            rows = overview.read_overview(session=session)
        finally:
            if not postgres:
                session.execute(text("PRAGMA query_only = OFF"))  # the connection goes back to the pool
    assert data.total == everything.total == rows[0].total == 3 and data.last_24h == rows[0].last_24h == 2
    assert int(trend["count"].sum()) == 3 and choices == ([(campaign.slug, campaign.title)], ["us-states"])
