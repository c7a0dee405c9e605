"""Signatures per hour: kept by each sign-on in the hourly rows, and rebuilt to the same numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from campaigns.core.db import read_session, run_write
from campaigns.core.models import HourlyCount
from campaigns.signatures import count_writes, counts
from campaigns.signatures.signing import sign
from tests.support.factories import make_campaign, signer

NOW = datetime(2026, 11, 30, 15, 20, tzinfo=UTC)


def _sign_at(engine, slug: str, n: int, when: datetime) -> None:
    run_write(engine, lambda s: sign(session=s, campaign_slug=slug, signer=signer(), now=when))


def test_each_signature_lands_in_its_utc_hour_and_rebuilding_gives_the_same_rows(engine):
    campaign = make_campaign(engine, slug="hourly")
    moments = [NOW - timedelta(hours=h, minutes=m) for h, m in [(0, 0), (0, 10), (1, 5), (30, 0), (30, 1)]]
    for i, moment in enumerate(moments):
        _sign_at(engine, campaign.slug, i, moment)
    with read_session(engine) as session:
        series = counts.count_by_hour(session=session, campaign_id=campaign.id)
        last_day = counts.count_last_24_hours(session=session, campaign_ids=[campaign.id], now=NOW)
    assert list(series["count"]) == [2, 1, 2]
    assert [h.to_pydatetime() for h in series["hour"]] == [
        datetime(2026, 11, 29, 9, tzinfo=UTC),
        datetime(2026, 11, 30, 14, tzinfo=UTC),
        datetime(2026, 11, 30, 15, tzinfo=UTC),
    ]
    assert last_day == {campaign.id: 3}  # this hour's two and the one an hour before; not 30 hours ago
    run_write(engine, lambda s: count_writes.rebuild_counts(session=s, campaign_id=campaign.id))
    with read_session(engine) as session:
        rebuilt = counts.count_by_hour(session=session, campaign_id=campaign.id)
        rows = session.execute(select(func.count()).select_from(HourlyCount)).scalar_one()
    assert rebuilt.equals(series) and rows == 3


def test_the_last_24_hours_are_the_current_utc_hour_and_the_23_whole_hours_before_it(engine):
    campaign = make_campaign(engine, slug="hourly-window")
    first = datetime(2026, 11, 29, 16, tzinfo=UTC)  # NOW's hour (15:00) and the 23 before it start here
    inside = [first, NOW, datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC)]
    outside = [first - timedelta(microseconds=1), datetime(2026, 11, 30, 16, tzinfo=UTC)]
    for i, moment in enumerate(inside + outside):
        _sign_at(engine, campaign.slug, i, moment)
    with read_session(engine) as session:
        assert counts.count_last_24_hours(session=session, campaign_ids=[campaign.id], now=NOW) == {campaign.id: 3}


def test_a_campaign_without_signatures_has_an_empty_series(engine):
    campaign = make_campaign(engine, slug="hourly-empty")
    with read_session(engine) as session:
        assert counts.count_by_hour(session=session, campaign_id=campaign.id).empty
        assert counts.count_last_24_hours(session=session, campaign_ids=[campaign.id]) == {campaign.id: 0}
