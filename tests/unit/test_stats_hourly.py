"""Signatures per hour: kept by each sign-on in the hourly rows, and rebuilt to the same numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from campaigns.core.db import read_session, run_write
from campaigns.core.models import HourlyCount
from campaigns.signatures import counts
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
        last_day = counts.recent_count(session=session, campaign_id=campaign.id, hours=24, now=NOW)
    assert list(series["count"]) == [2, 1, 2]
    assert [h.to_pydatetime() for h in series["hour"]] == [
        datetime(2026, 11, 29, 9, tzinfo=UTC),
        datetime(2026, 11, 30, 14, tzinfo=UTC),
        datetime(2026, 11, 30, 15, tzinfo=UTC),
    ]
    assert last_day == 3
    run_write(engine, lambda s: counts.rebuild_counts(session=s, campaign_id=campaign.id))
    with read_session(engine) as session:
        rebuilt = counts.count_by_hour(session=session, campaign_id=campaign.id)
        rows = session.execute(select(func.count()).select_from(HourlyCount)).scalar_one()
    assert rebuilt.equals(series) and rows == 3


def test_a_campaign_without_signatures_has_an_empty_series(engine):
    campaign = make_campaign(engine, slug="hourly-empty")
    with read_session(engine) as session:
        assert counts.count_by_hour(session=session, campaign_id=campaign.id).empty
        assert counts.recent_count(session=session, campaign_id=campaign.id) == 0
