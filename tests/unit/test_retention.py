"""Retention: signers of campaigns closed longer than RALLY_RETENTION_DAYS are anonymized; dry run, apply, again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from campaigns.catalog.lifecycle import close_campaign
from campaigns.core.db import read_session, run_write
from campaigns.core.models import AuditEntry, Campaign, Signature, SupporterToken, utcnow
from campaigns.core.settings import override_settings
from campaigns.people import supporter_links
from campaigns.people.retention import run_retention
from campaigns.signatures.signing import sign
from tests.support.factories import make_campaign, past, signer
from tests.unit.test_supporters import assert_counts_match_signatures

ROOT = Path(__file__).resolve().parents[2]


def _signed(engine, slug, n, *, closed_days_ago=None):
    campaign = make_campaign(engine, slug=slug)
    for i in range(n):
        run_write(
            engine,
            lambda s, i=i: sign(
                session=s,
                campaign_slug=slug,
                signer=signer(full_name=f"Signer {slug} {i}", email=f"{slug}-{i}@example.org", comment=f"{slug} {i}"),
            ),
        )
    if closed_days_ago is not None:
        run_write(engine, lambda s: close_campaign(session=s, campaign_id=campaign.id, now=past(closed_days_ago)))
    return campaign


def _named(engine, campaign_id) -> int:
    with read_session(engine) as session:
        return session.execute(
            select(func.count()).where(Signature.campaign_id == campaign_id, Signature.full_name != "")
        ).scalar_one()


def _world(engine):
    old = _signed(engine, "old", 5, closed_days_ago=400)
    recent = _signed(engine, "recent", 3, closed_days_ago=10)
    live = _signed(engine, "live", 2)
    lapsed = _signed(engine, "lapsed", 2)  # published, but its deadline passed long ago: it closed itself
    run_write(engine, lambda s: s.execute(update(Campaign).where(Campaign.id == lapsed.id).values(deadline=past(500))))
    return old, recent, live, lapsed


def test_dry_run_reports_and_changes_nothing_then_apply_anonymizes_and_a_second_run_does_nothing(engine):
    old, recent, live, lapsed = _world(engine)
    totals = {c.slug: assert_counts_match_signatures(engine, c.id) for c in (old, recent, live, lapsed)}
    with override_settings(retention_days=365):
        report = run_retention(engine=engine, apply=False)
        assert not report.applied and report.days == 365
        assert [(c.slug, c.signatures) for c in report.campaigns] == [("lapsed", 2), ("old", 5)]
        assert _named(engine, old.id) == 5 and _named(engine, lapsed.id) == 2  # a dry run changes nothing

        applied = run_retention(engine=engine, apply=True, batch=2)  # batches smaller than a campaign
        assert applied.applied and applied.signatures == 7
        assert _named(engine, old.id) == 0 and _named(engine, lapsed.id) == 0
        assert _named(engine, recent.id) == 3 and _named(engine, live.id) == 2
        again = run_retention(engine=engine, apply=True)
        assert again.campaigns == () and again.signatures == 0
    for campaign in (old, recent, live, lapsed):  # counts stay as they were, anonymously
        assert assert_counts_match_signatures(engine, campaign.id) == totals[campaign.slug]
    with read_session(engine) as session:
        rows = session.execute(select(Signature).where(Signature.campaign_id == old.id)).scalars().all()
        entries = session.execute(select(AuditEntry).where(AuditEntry.action == "retention.anonymize")).scalars()
        logged = sorted((e.campaign_id, json.loads(e.detail)["signatures"]) for e in entries)
    assert all(r.erased_at and r.comment is None and r.email_canonical.startswith("erased:") for r in rows)
    assert len({r.email_canonical for r in rows}) == 5
    assert logged == sorted([(old.id, 5), (lapsed.id, 2)])


def test_a_longer_period_or_zero_keeps_everyone(engine):
    old, *_ = _world(engine)
    assert run_retention(engine=engine, apply=True, days=600).campaigns == ()
    off = run_retention(engine=engine, apply=True, days=0)
    assert off.cutoff is None and off.campaigns == ()
    assert _named(engine, old.id) == 5


def test_spent_links_are_deleted_and_live_ones_kept(engine):
    now = utcnow()
    with override_settings(my_data_link_minutes=60):
        for when in (now - timedelta(hours=3), now - timedelta(hours=2), now - timedelta(minutes=5)):
            run_write(
                engine, lambda s, when=when: supporter_links.issue_link(session=s, email="ada@example.org", now=when)
            )
    with override_settings(my_data_link_minutes=24 * 60):  # a long-lived link, unused, still valid
        run_write(
            engine,
            lambda s: supporter_links.issue_link(session=s, email="bob@example.org", now=now - timedelta(hours=5)),
        )
    assert run_retention(engine=engine, apply=False).spent_links == 2
    assert run_retention(engine=engine, apply=True).spent_links == 2
    with read_session(engine) as session:
        left = session.execute(select(SupporterToken.email_canonical, SupporterToken.created_at)).all()
    assert sorted(email for email, _ in left) == ["ada@example.org", "bob@example.org"]


def test_the_command_line_reports_then_applies(engine):
    old, *_ = _world(engine)
    env = {
        **os.environ,
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "RALLY_RETENTION_DAYS": "365",
    }

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "campaigns", "retention", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    dry = cli("--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "old  closed" in dry.stdout and "5 signers to anonymize" in dry.stdout
    assert "7 signers in 2 campaigns to anonymize" in dry.stdout and "Dry run: nothing was changed" in dry.stdout
    assert _named(engine, old.id) == 5
    done = cli("--apply")
    assert done.returncode == 0 and "7 signers in 2 campaigns anonymized" in done.stdout
    assert "0 signers in 0 campaigns anonymized" in cli("--apply").stdout
    off = cli("--dry-run", "--days", "0")
    assert "Retention is off" in off.stdout
    neither = cli()
    assert neither.returncode == 2 and "one of the arguments --dry-run --apply is required" in neither.stderr
