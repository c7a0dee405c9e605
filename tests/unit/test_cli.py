"""The command line, run as a person would: python -m campaigns ..."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from campaigns.catalog.listing import get_campaign_by_slug, list_public_campaigns
from campaigns.core.db import read_session
from campaigns.demo import DEMO_CAMPAIGNS
from campaigns.letters.targets import list_targets
from campaigns.regions.schemes import get_scheme

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "campaigns", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_init_then_demo_twice_loads_each_signer_once(engine):
    url = engine.url.render_as_string(hide_password=False)
    first = cli("init", database_url=url)
    assert first.returncode == 0 and "Database ready" in first.stdout
    for _ in range(2):
        run = cli("demo", "--signatures", "400", database_url=url)
        assert run.returncode == 0, run.stderr
        assert "save-our-libraries: 400 signatures" in run.stdout
    with read_session(engine) as session:
        totals = {c.slug: c.total for c in list_public_campaigns(session=session)}
    assert totals == {d.slug: round(400 * d.share) for d in DEMO_CAMPAIGNS}
    with read_session(engine) as session:  # targets imported once (one per region), a letter to send them
        for demo in DEMO_CAMPAIGNS:
            campaign = get_campaign_by_slug(session=session, slug=demo.slug)
            assert len(list_targets(session=session, campaign_id=campaign.id)) == len(
                get_scheme(demo.region_scheme).regions
            )
            assert campaign.letter_template and campaign.letter_subject


def test_unusable_database_gives_one_clear_line_and_exit_1(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    run = cli("init", database_url=f"sqlite:///{blocker}/sub/rally.db")
    assert run.returncode == 1
    assert run.stderr.startswith("error: Cannot create the folder") and "Traceback" not in run.stderr


def test_bad_arguments_are_refused_with_usage():
    run = cli("demo", "--signatures", "-5", database_url="sqlite:///unused.db")
    assert run.returncode == 2 and "choose a number" in run.stderr


def cli_with_input(*args: str, database_url: str, stdin: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "campaigns", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_users_set_password_reads_stdin_and_ends_that_persons_log_ins(engine):
    from campaigns.core.db import run_write
    from campaigns.people import logins
    from tests.support.factories import PASSWORD, make_user

    url = engine.url.render_as_string(hide_password=False)
    make_user(engine, email="ada@example.org", roles=["organizer"])
    cookie = logins.log_in(engine=engine, email="ada@example.org", password=PASSWORD, client_address="t")
    reset = ("users", "set-password", "--email")
    weak = cli_with_input(*reset, "ada@example.org", database_url=url, stdin="qwerty123456\n")
    assert weak.returncode == 1 and "most common passwords" in weak.stderr
    unknown = cli_with_input(*reset, "x@example.org", database_url=url, stdin="a" * 20)
    assert unknown.returncode == 1 and "no account for x@example.org" in unknown.stderr
    done = cli_with_input(*reset, "ADA@example.org", database_url=url, stdin="a brand new staff passphrase\n")
    assert done.returncode == 0, done.stderr
    assert "log-ins have ended" in done.stdout
    assert run_write(engine, lambda s: logins.identify(session=s, cookie_value=cookie)) is None
    logins.log_in(engine=engine, email="ada@example.org", password="a brand new staff passphrase", client_address="t")


def test_first_run_hint_is_the_readme_command_with_every_role(tmp_path):
    run = cli("init", database_url=f"sqlite:///{tmp_path}/rally.db")
    assert run.returncode == 0, run.stderr
    command = next(line.strip() for line in run.stdout.splitlines() if "users add" in line)
    assert command in (ROOT / "README.md").read_text("utf-8")
    assert all(f"--role {role}" in command for role in ("admin", "organizer", "coordinator"))
