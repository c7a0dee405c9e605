"""Two app processes behind HAProxy on one PostgreSQL: sign-on load over Streamlit's websocket, ``kill -9`` of
one process in the middle, draining one through the stats socket.

Acknowledged means the visitor saw the thank-you. Every acknowledged sign-on must be in the database exactly
once, the public total must equal the rows, and sign-ons must go on through the surviving process.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import text

from bench.st_sign import SignClient, SignError, sign_once
from campaigns.core.db import read_session
from campaigns.ops.cluster import Cluster
from campaigns.signatures.counts import count_total
from tests.cluster.conftest import CLUSTER
from tests.support.factories import make_campaign

pytestmark = CLUSTER
SLUG = "cluster-crash"


@dataclass
class Load:
    """Visitors signing from a few threads until stopped: each a new cookie jar and websocket."""

    url: str
    slug: str
    threads: int = 3

    def __post_init__(self) -> None:
        self.acknowledged: list[tuple[str, float]] = []  # (email, when)
        self.failed: list[tuple[str, str, float]] = []  # (email, what the visitor read, when)
        self._stop = threading.Event()
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._workers = [threading.Thread(target=self._visitor, daemon=True) for _ in range(self.threads)]

    def _visitor(self) -> None:
        while not self._stop.is_set():
            n = next(self._numbers)
            email = f"signer{n}@example.org"
            outcome = sign_once(self.url, self.slug, f"Signer {n}", email, timeout=20)
            with self._lock:
                if outcome.signed:
                    self.acknowledged.append((email, time.monotonic()))
                else:
                    self.failed.append((email, outcome.message, time.monotonic()))

    def start(self) -> Load:
        for worker in self._workers:
            worker.start()
        return self

    def wait_for(self, count: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < count:
            assert time.monotonic() < deadline, f"only {len(self.acknowledged)} sign-ons; failures: {self.failed[:3]}"
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(60)


def stored_emails(engine, slug: str) -> list[str]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT s.email FROM signature s JOIN campaign c ON c.id = s.campaign_id WHERE c.slug = :slug"),
            {"slug": slug},
        )
        return [row[0] for row in rows]


def public_total(engine, campaign_id: int) -> int:  # type: ignore[no-untyped-def]
    with read_session(engine) as session:
        return count_total(session=session, campaign_id=campaign_id)


def node_of(http: httpx.Client) -> str:
    return http.cookies.get("RALLY_NODE") or ""


def test_kill_9_of_one_process_loses_nothing_acknowledged_and_signing_goes_on(
    two_apps: Cluster, cluster_engine
) -> None:
    campaign = make_campaign(cluster_engine, slug=SLUG, goal=1000)
    # a visitor with the page open on app1 when it dies
    tab_http = httpx.Client(timeout=20)
    tab: SignClient | None = None
    for _ in range(10):  # round robin: a new jar lands on app1 within two tries
        tab_http.cookies.clear()
        tab = SignClient(two_apps.url, SLUG, http=tab_http, timeout=20)
        tab.open()
        if node_of(tab_http) == "app1":
            break
        tab.close()
    assert tab is not None and node_of(tab_http) == "app1"

    load = Load(two_apps.url, SLUG).start()
    try:
        load.wait_for(30)
        two_apps.apps[0].kill()
        killed_at = time.monotonic()
        before = len(load.acknowledged)
        load.wait_for(before + 30)
    finally:
        load.stop()

    after_kill = [email for email, when in load.acknowledged if when > killed_at]
    assert len(after_kill) >= 30, "sign-ons go on through the other process"
    stored = stored_emails(cluster_engine, SLUG)
    assert len(stored) == len(set(stored)), "no sign-on is stored twice"
    missing = {email for email, _ in load.acknowledged} - set(stored)
    assert not missing, f"acknowledged but not stored: {sorted(missing)[:5]}"
    assert public_total(cluster_engine, campaign.id) == len(stored), "the total is the rows"
    # a failure is only a visitor whose sign-on met the dying process; none was left half-written
    for _, message, _ in load.failed:
        assert "Traceback" not in message

    # the open tab's socket died with app1; its reconnect (same cookie jar, so RALLY_NODE=app1) reaches app2
    with pytest.raises(SignError):
        tab.sign("Tab Person", "tab@example.org")
    tab.close()
    again = SignClient(two_apps.url, SLUG, http=tab_http, timeout=20)
    again.open()
    assert node_of(tab_http) == "app2"
    outcome = again.sign("Tab Person", "tab@example.org")
    again.close()
    tab_http.close()
    assert outcome.signed, outcome.message
    assert "tab@example.org" in stored_emails(cluster_engine, SLUG)
    deadline = time.monotonic() + 30
    while two_apps.server_states().get("app1") != "DOWN":
        assert time.monotonic() < deadline, two_apps.server_states()
        time.sleep(0.2)


def test_a_drained_process_takes_no_new_visitors_and_keeps_its_own(two_apps: Cluster, cluster_engine) -> None:
    make_campaign(cluster_engine, slug=SLUG, goal=1000)
    kept = httpx.Client(timeout=20)
    while node_of(kept) != "app1":
        kept.cookies.clear()
        kept.get(f"{two_apps.url}/_stcore/health").raise_for_status()

    two_apps.admin("set server rally/app1 state drain")
    assert two_apps.server_states()["app1"] == "DRAIN"
    for _ in range(6):
        with httpx.Client(timeout=20) as visitor:
            visitor.get(f"{two_apps.url}/_stcore/health").raise_for_status()
            assert node_of(visitor) == "app2"
    tab = SignClient(two_apps.url, SLUG, http=kept, timeout=20)
    tab.open()
    outcome = tab.sign("Kept Person", "kept@example.org")
    tab.close()
    assert outcome.signed, outcome.message
    assert node_of(kept) == "app1", "a drained process still serves the sessions it has"
    two_apps.admin("set server rally/app1 state ready")
    assert two_apps.server_states()["app1"] == "UP"
    outcome = sign_once(two_apps.url, SLUG, "After Drain", "after@example.org")
    assert outcome.signed, outcome.message
