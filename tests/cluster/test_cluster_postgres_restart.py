"""PostgreSQL restarted in the middle of sign-on load, behind the balancer (a private server: never the shared one).

During the outage sign-ons fail with a message a person understands and nothing is half-written; once the
server is back they succeed again, and the counts are exact.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.cluster import free_block
from bench.st_sign import SignClient
from campaigns.core.db import make_engine
from campaigns.core.errors import StorageError
from campaigns.ops import cluster as ops
from tests.cluster.conftest import CLUSTER, NO_LIMITS
from tests.cluster.test_cluster_crash import Load, public_total, stored_emails
from tests.support import private_pg
from tests.support.factories import make_campaign

pytestmark = [
    *CLUSTER,
    pytest.mark.skipif(not private_pg.AVAILABLE, reason=f"no PostgreSQL 15 binaries in {private_pg.BIN}"),
]
SLUG = "cluster-restart"
UNSAVED = "Nothing was saved"  # what the page says when a write cannot reach the database


@pytest.fixture
def private(tmp_path: Path) -> Iterator[private_pg.PrivatePostgres]:
    with private_pg.private_postgres() as server:
        yield server


def test_postgres_restart_in_the_middle_of_sign_on_load(private, tmp_path: Path) -> None:
    with ops.running_cluster(
        database_url=private.url, workers=2, port=free_block(2), folder=tmp_path / "cluster", extra_env=NO_LIMITS
    ) as running:
        engine = make_engine(private.url)
        campaign = make_campaign(engine, slug=SLUG, goal=1000)
        tabs = []
        for _ in range(2):  # visitors with the form open when the database goes
            tab = SignClient(running.url, SLUG, http=httpx.Client(timeout=20), timeout=20)
            tab.open()
            tabs.append(tab)
        load = Load(running.url, SLUG).start()
        try:
            load.wait_for(20)
            private.stop()
            stopped_at = time.monotonic()
            during = [tab.sign(f"Tab {i}", f"tab{i}@example.org") for i, tab in enumerate(tabs)]
            deadline = time.monotonic() + 60
            while sum(1 for *_, when in load.failed if when > stopped_at) < 3:
                assert time.monotonic() < deadline, "new visitors meet the outage too"
                time.sleep(0.05)
            # the health checks (/api/health asks the database) take every process out: HAProxy's own page
            while set(running.server_states().values()) != {"DOWN"}:
                assert time.monotonic() < deadline, running.server_states()
                time.sleep(0.1)
            balancer = httpx.get(f"{running.url}/?campaign={SLUG}", timeout=20)
            assert balancer.status_code == 503 and "Nothing you typed was saved" in balancer.text
            private.start()
            restarted_at = time.monotonic()
            deadline = time.monotonic() + 120
            while sum(1 for _, when in load.acknowledged if when > restarted_at) < 20:
                assert time.monotonic() < deadline, f"sign-ons resume after the restart: {load.failed[-3:]}"
                time.sleep(0.05)
        finally:
            load.stop()

        for outcome in during:  # the write's apology, or the page's read's when its cached read had expired
            assert not outcome.signed
            assert UNSAVED in outcome.message or StorageError.APOLOGY in outcome.message, outcome.message
        new_visitor_messages = {message for _, message, when in load.failed if when > stopped_at}
        # the page's apologies; the balancer's page (as the sign client meets it: on the page, or on the websocket)
        clear = (UNSAVED, StorageError.APOLOGY, "Nothing you typed was saved", "HTTP 503")
        for message in new_visitor_messages:
            assert "Traceback" not in message
            assert any(words in message for words in clear), message
        # the first tab presses the button again, on the same page, now that the database is back
        again = tabs[0].sign("Tab 0", "tab0@example.org")
        assert again.signed, again.message
        for tab in tabs:
            tab.close()
            tab.http.close()

        stored = stored_emails(engine, SLUG)
        assert len(stored) == len(set(stored)), "no sign-on is stored twice"
        assert not {email for email, _ in load.acknowledged} - set(stored), "every acknowledged sign-on is stored"
        assert "tab1@example.org" not in stored, "a sign-on refused during the outage left nothing behind"
        assert "tab0@example.org" in stored
        assert public_total(engine, campaign.id) == len(stored), "the total is the rows"
        engine.dispose()
