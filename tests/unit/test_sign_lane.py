"""The light page's sign-ons written a batch at a time (``web/sign_lane.py``): each is the service's own
``sign()``, in its own savepoint of one transaction, so a refused one is answered alone and the others count."""

from __future__ import annotations

import asyncio

from campaigns.core.db import read_session
from campaigns.core.errors import CampaignClosed, InvalidInput
from campaigns.signatures.counts import count_total
from campaigns.web.sign_lane import SignLane, SignOn, write_batch
from tests.support.apptest import point_app_at
from tests.support.factories import make_campaign, signer


def sign_on(slug: str, address: str = "192.0.2.1", **values: object) -> SignOn:
    return SignOn(slug, signer(**values), address, None, "rally.example.org", "https")


def test_one_refused_sign_on_is_answered_alone_and_the_others_count(engine, default_settings):
    point_app_at(engine, default_settings)
    campaign = make_campaign(engine, slug="lane")
    make_campaign(engine, slug="lane-closed", status="closed")
    batch = [
        sign_on("lane", email="one@example.org"),
        sign_on("lane", email="not an address"),
        sign_on("lane-closed"),
        sign_on("lane", email="two@example.org"),
        sign_on("lane", email="ONE@example.org"),  # the same person again: stored once
    ]
    answers = write_batch(batch)
    assert isinstance(answers[1], InvalidInput) and "email" in answers[1].errors
    assert isinstance(answers[2], CampaignClosed)
    first, second, repeat = answers[0], answers[3], answers[4]
    assert first.created and second.created and not repeat.created  # type: ignore[union-attr]
    assert first.receipt_token and repeat.receipt_token is None  # type: ignore[union-attr]
    assert (first.total, second.total, repeat.total) == (1, 2, 2)  # type: ignore[union-attr]
    with read_session(engine) as session:
        assert count_total(session=session, campaign_id=campaign.id or 0) == 2


def test_sign_ons_waiting_together_are_all_answered(engine, default_settings):
    point_app_at(engine, default_settings)
    campaign = make_campaign(engine, slug="lane-many")
    lane = SignLane(max_batch=8)

    async def spike() -> list[object]:
        items = [sign_on("lane-many", f"192.0.2.{n + 1}", email=f"s{n}@example.org") for n in range(30)]
        items.append(sign_on("lane-many", email="bad"))
        return await asyncio.gather(*(lane.sign(item) for item in items), return_exceptions=True)

    answers = asyncio.run(spike())
    assert sum(1 for a in answers if getattr(a, "created", False)) == 30  # each its own address: none flagged
    assert isinstance(answers[-1], InvalidInput)
    with read_session(engine) as session:
        assert count_total(session=session, campaign_id=campaign.id or 0) == 30
