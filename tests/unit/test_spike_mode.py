"""Spike mode: a campaign's share link may be the light sign page (/s/<slug>); every share link follows the
campaign's setting (buttons, QR code, poster, link previews, emails), and turning it on or off is audited."""

from __future__ import annotations

import pytest
from sqlmodel import select

from campaigns.catalog import lifecycle, listing
from campaigns.core.audit import Actor
from campaigns.core.db import read_session, run_write
from campaigns.core.errors import CampaignNotFound
from campaigns.core.models import AuditEntry, Campaign
from campaigns.fieldkit import kit, poster, qr
from campaigns.sharing import links, meta
from tests.support.factories import make_campaign

BASE = "https://rally.example.org"
ORGANIZER = Actor(user_id=None, email="organizer@example.org")


def test_share_url_points_at_the_campaign_page_or_with_light_at_the_light_page():
    assert links.share_url("libraries", base=BASE) == f"{BASE}/?campaign=libraries"
    assert links.share_url("libraries", light=True, base=BASE) == f"{BASE}/s/libraries"
    assert (
        links.share_url("libraries", light=True, base=BASE + "/", utm_source="qr", utm_medium="poster")
        == f"{BASE}/s/libraries?utm_source=qr&utm_medium=poster"
    )
    targets = links.share_targets("libraries", "Fund them", medium="supporter", light=True, base=BASE)
    copy = next(t for t in targets if t.channel == links.COPY)
    assert copy.url == f"{BASE}/s/libraries?utm_source=copy&utm_medium=supporter"
    whatsapp = next(t for t in targets if t.channel == "whatsapp")
    assert "%2Fs%2Flibraries%3Futm_source%3Dwhatsapp" in whatsapp.url
    assert qr.qr_url("libraries", medium="poster", light=True).endswith("/s/libraries?utm_source=qr&utm_medium=poster")


def test_spike_mode_is_off_until_an_organizer_turns_it_on_and_each_change_is_audited(engine):
    campaign = make_campaign(engine, slug="spike")
    with read_session(engine) as session:
        page = listing.get_campaign_page(session=session, slug="spike")
    assert page.light_share_link is False
    assert meta.meta_tags(page, base=BASE, site_name="Rally").count(f"{BASE}/?campaign=spike") == 2  # og:url, canonical

    def turn(on: bool):  # type: ignore[no-untyped-def]
        return lambda s: lifecycle.set_light_share_link(session=s, campaign_id=campaign.id, on=on, actor=ORGANIZER)

    run_write(engine, turn(True))
    run_write(engine, turn(True))  # already on: nothing changes, nothing more in the log
    with read_session(engine) as session:
        page = listing.get_campaign_page(session=session, slug="spike")
        found = kit.read_public_kit_campaign(session=session, slug="spike")
        entries = session.execute(select(AuditEntry).where(AuditEntry.action == "campaign.spike_mode")).scalars().all()
    assert page.light_share_link is True and found.light_share_link is True
    assert [(e.actor, e.campaign_id) for e in entries] == [("organizer@example.org", campaign.id)]
    tags = meta.meta_tags(page, base=BASE, site_name="Rally")
    assert f'content="{BASE}/s/spike"' in tags and f'href="{BASE}/s/spike"' in tags
    with links.answering(host="rally.example.org", scheme="https"):
        assert poster.printed_link("spike", light=found.light_share_link).endswith("/s/spike")
    run_write(engine, turn(False))
    with read_session(engine) as session:
        assert session.get(Campaign, campaign.id).light_share_link is False  # type: ignore[union-attr]  # it exists
    with pytest.raises(CampaignNotFound):
        run_write(
            engine, lambda s: lifecycle.set_light_share_link(session=s, campaign_id=10**6, on=True, actor=ORGANIZER)
        )
