"""The demo and the example files shipped beside it stay in step."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlalchemy import func, select

from campaigns.core.audit import CLI
from campaigns.core.db import read_session
from campaigns.core.models import Campaign, Signature, utcnow
from campaigns.demo import DEMO_CREATED, DEMO_DIR, load_demo
from campaigns.signatures import paper

EXAMPLE = DEMO_DIR / "paper-signatures-example.csv"


def test_the_example_paper_file_imports_into_the_demo_campaign_it_was_written_for(engine):
    load_demo(engine, signatures=40)
    report = paper.import_signatures(
        engine=engine,
        campaign_slug="save-our-libraries",
        data=EXAMPLE.read_bytes(),
        actor=CLI,
        file_name=EXAMPLE.name,
        now=utcnow(),  # the demo is dated from the real clock too
    )
    assert [r.message for r in report.rows if r.outcome != "imported"] == []
    assert (report.imported, report.duplicates, report.errors) == (5, 0, 0)
    with read_session(engine) as session:
        campaign = session.execute(select(Campaign).where(Campaign.slug == "save-our-libraries")).scalar_one()
        paper_rows = session.execute(
            select(func.count()).where(Signature.campaign_id == campaign.id, Signature.source == "paper")
        ).scalar_one()
    assert paper_rows == 5


def test_every_date_in_the_example_falls_after_the_demo_campaigns_were_created():
    rows = list(csv.DictReader(io.StringIO(EXAMPLE.read_text("utf-8"))))
    days = [datetime.fromisoformat(r["signed_date"]).date() for r in rows]
    assert days and min(days) >= DEMO_CREATED.date()
