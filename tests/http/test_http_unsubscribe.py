"""The one-click unsubscribe route of a running app (`make run`), on SQLite and PostgreSQL: a GET shows a button
and changes nothing (mail scanners open links), the button's POST and an RFC 8058 one-click POST turn contact
consent off (recorded with its time), again and again the same answer, and a tampered link changes nothing."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from campaigns.core.db import read_session
from campaigns.core.models import AuditEntry, Signature
from campaigns.updates import unsubscribe
from tests.support.factories import make_campaign, sign_from

pytestmark = pytest.mark.xdist_group("live")


def consent(engine, signature_id: int) -> bool:
    with read_session(engine) as session:
        return session.get(Signature, signature_id).contact_consent


def consent_audits(engine) -> list[AuditEntry]:
    with read_session(engine) as session:
        return [e for e in session.execute(select(AuditEntry)).scalars() if e.action == "supporter.consent"]


def test_a_get_shows_a_button_and_the_post_unsubscribes_once(live_server):
    engine = live_server.engine()
    campaign = make_campaign(engine, title="Clean <rivers> & lakes")
    sid = sign_from(engine, campaign.slug, contact_consent=True, full_name="Grace Hopper").signature_id
    url = unsubscribe.unsubscribe_url(signature_id=sid, campaign_id=campaign.id, base=live_server.url)
    before = len(consent_audits(engine))

    shown = httpx.get(url)
    assert shown.status_code == 200 and "Stop these emails" in shown.text
    assert (
        "Clean &lt;rivers&gt; &amp; lakes" in shown.text and "Grace" not in shown.text
    )  # the campaign, never the signer
    assert shown.headers["cache-control"] == "no-store"
    assert "<h1>Unsubscribe</h1>" in shown.text and "← All campaigns" in shown.text
    assert consent(engine, sid) is True  # a GET changes nothing

    one_click = httpx.post(
        url, content=unsubscribe.ONE_CLICK, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert one_click.status_code == 200 and "no more updates" in one_click.text
    assert '<a href="/my-data">Your data</a> turns these emails back on' in one_click.text  # the way back
    assert consent(engine, sid) is False
    again = httpx.post(url, data={"List-Unsubscribe": "One-Click"})  # the page's button, a second time
    assert again.status_code == 200 and "no more updates" in again.text
    audits = consent_audits(engine)
    assert len(audits) == before + 1 and '"consent": false' in audits[-1].detail  # recorded once, with its time
    assert "no longer get" in httpx.get(url).text and "Changed your mind?" in httpx.get(url).text


def test_a_tampered_link_is_refused_and_changes_nothing(live_server):
    engine = live_server.engine()
    campaign = make_campaign(engine)
    sid = sign_from(engine, campaign.slug, contact_consent=True).signature_id
    other = sign_from(engine, campaign.slug, contact_consent=True).signature_id
    token = unsubscribe.make_token(signature_id=sid, campaign_id=campaign.id)
    tampered = token.replace(f"{sid}.", f"{other}.", 1)
    for bad in (tampered, token[:-2], "nonsense", ""):
        for method in ("GET", "POST"):
            response = httpx.request(
                method, f"{live_server.url}/unsubscribe", params={"t": bad}, content=unsubscribe.ONE_CLICK
            )
            assert response.status_code == 400, (bad, method, response.status_code)
            assert "not valid" in response.text
    assert consent(engine, sid) is True and consent(engine, other) is True


def test_the_api_lists_a_public_campaigns_updates_newest_first(live_server):
    from campaigns.core.audit import CLI
    from campaigns.core.db import run_write
    from campaigns.core.settings import override_settings
    from campaigns.updates import updates

    engine = live_server.engine()
    campaign = make_campaign(engine)
    sign_from(engine, campaign.slug, contact_consent=True)
    with override_settings(update_min_days=0):
        for n in range(2):
            update_id = run_write(
                engine,
                lambda s, n=n: updates.draft_update(
                    session=s, campaign_id=campaign.id, subject=f"News {n}", body="**Hi** <b>", actor=CLI
                ),
            )
            run_write(engine, lambda s, u=update_id: updates.start_sending(session=s, update_id=u, actor=CLI))
    run_write(
        engine, lambda s: updates.draft_update(session=s, campaign_id=campaign.id, subject="Draft", body="x", actor=CLI)
    )
    answer = httpx.get(f"{live_server.url}/api/campaigns/{campaign.slug}/updates")
    assert answer.status_code == 200
    assert [(u["subject"], u["body_markdown"]) for u in answer.json()] == [
        ("News 1", "**Hi** <b>"),
        ("News 0", "**Hi** <b>"),
    ]
    assert httpx.get(f"{live_server.url}/api/campaigns/no-such-campaign/updates").status_code == 404
    for odd in ("²", "9" * 25, "-1", "1e3"):  # not a plain, bounded number: the first page, never a 500
        paged = httpx.get(f"{live_server.url}/api/campaigns/{campaign.slug}/updates", params={"offset": odd})
        assert (paged.status_code, len(paged.json())) == (200, 2), odd
