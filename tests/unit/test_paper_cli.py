"""python -m campaigns import: the paper-signature import from the command line, run as a person would."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from campaigns.core.db import read_session
from campaigns.core.models import Signature
from tests.unit.test_cli import cli
from tests.unit.test_paper import HEADER, campaign_at
from tests.unit.test_supporters import assert_counts_match_signatures

ROWS = "Ada,ada@example.org,ca,2026-03-01,yes\nBob,bob@example.org,Texas,2026-03-02,no\nBad,,CA,2026-03-01,no\n"


def sources(engine, campaign_id: int) -> list[str]:
    with read_session(engine) as session:
        return list(session.execute(select(Signature.source).where(Signature.campaign_id == campaign_id)).scalars())


def test_import_counts_good_rows_writes_the_report_next_to_the_file_and_is_idempotent(engine, tmp_path):
    url = engine.url.render_as_string(hide_password=False)
    campaign = campaign_at(engine, "cli-paper")
    source = tmp_path / "paper.csv"
    source.write_text(HEADER + ROWS)
    first = cli("import", "--campaign", "cli-paper", str(source), database_url=url)
    assert first.returncode == 0, first.stderr
    assert f"Report: {tmp_path / 'paper-report.csv'}" in first.stdout
    assert "cli-paper: 3 rows: 2 imported, 0 duplicates, 1 error." in first.stdout
    report = list(csv.reader(io.StringIO((tmp_path / "paper-report.csv").read_text("utf-8-sig"))))
    assert [row[:2] for row in report] == [["line", "outcome"], ["2", "imported"], ["3", "imported"], ["4", "error"]]
    assert sources(engine, campaign.id) == ["import", "import"]
    again = cli("import", "--campaign", "cli-paper", str(source), database_url=url)
    assert again.returncode == 0 and "0 imported, 2 duplicates, 1 error." in again.stdout
    assert assert_counts_match_signatures(engine, campaign.id) == 2


def test_dry_run_reports_to_standard_output_and_writes_nothing(engine, tmp_path):
    url = engine.url.render_as_string(hide_password=False)
    campaign = campaign_at(engine, "cli-dry")
    source = tmp_path / "paper.csv"
    source.write_text(HEADER + ROWS)
    run = cli("import", "--campaign", "cli-dry", "--dry-run", "--report", "-", str(source), database_url=url)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[:3] == [
        "\ufeffline,outcome,message",
        "2,ready,Ready to import.",
        "3,ready,Ready to import.",
    ]
    assert "2 to import, 0 duplicates, 1 error. (dry run: nothing written)" in run.stderr
    assert sources(engine, campaign.id) == [] and not (tmp_path / "paper-report.csv").exists()


def test_nothing_importable_exits_1_with_a_clear_line(engine, tmp_path):
    url = engine.url.render_as_string(hide_password=False)
    campaign_at(engine, "cli-bad")
    all_bad = tmp_path / "bad.csv"
    all_bad.write_text(HEADER + "Bad,,CA,2026-03-01,no\nWorse,w@example.org,Narnia,2026-03-01,no\n")
    run = cli("import", "--campaign", "cli-bad", str(all_bad), database_url=url)
    assert run.returncode == 1 and "0 imported, 0 duplicates, 2 errors." in run.stdout
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("name|email\nA|a@example.org\n")
    run = cli("import", "--campaign", "cli-bad", str(wrong), database_url=url)
    assert run.returncode == 1 and run.stderr.startswith("error: file: The file has a single column")
    run = cli("import", "--campaign", "nope", str(wrong), database_url=url)
    assert run.returncode == 1 and "couldn't find a campaign" in run.stderr and "Traceback" not in run.stderr
    run = cli("import", "--campaign", "cli-bad", str(tmp_path / "missing.csv"), database_url=url)
    assert run.returncode == 1 and run.stderr.startswith("error: Cannot read") and "No such file" in run.stderr
