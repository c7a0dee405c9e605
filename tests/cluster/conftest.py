"""Several app processes behind HAProxy on a PostgreSQL database of their own (tests/cluster/)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cluster import free_block
from campaigns.core.db import make_engine
from campaigns.ops import cluster as ops
from tests.support.storage import NO_PG_REASON, TEST_DATABASE_URL, drop_pg_database, fresh_pg_database, run_id

# Heavy: processes, a balancer, load. One xdist worker runs them all (pytest --dist loadgroup).
CLUSTER = [
    pytest.mark.postgres,
    pytest.mark.xdist_group("cluster"),
    pytest.mark.skipif(
        not os.path.exists(ops.HAPROXY) and not os.environ.get("RALLY_REQUIRE_BROWSER"),
        reason=f"no HAProxy at {ops.HAPROXY} (apt-get install haproxy)",
    ),
]
# Every sign-on of the load comes through the balancer from 127.0.0.1: no flood limit per address.
NO_LIMITS = {"RALLY_SIGN_LIMIT_PER_MINUTE": "0", "RALLY_SIGN_LIMIT_PER_HOUR": "0"}


@pytest.fixture
def cluster_db() -> Iterator[str]:
    """A fresh PostgreSQL database on the shared test server, dropped afterwards."""
    if not TEST_DATABASE_URL:
        pytest.skip(NO_PG_REASON)
    name = f"rally_cluster_{run_id()}_{os.getpid()}"
    url = fresh_pg_database(name)
    yield url
    drop_pg_database(name)


@pytest.fixture
def two_apps(cluster_db: str, tmp_path: Path) -> Iterator[ops.Cluster]:
    with ops.running_cluster(
        database_url=cluster_db, workers=2, port=free_block(2), folder=tmp_path / "cluster", extra_env=NO_LIMITS
    ) as running:
        yield running


@pytest.fixture
def cluster_engine(cluster_db: str):  # type: ignore[no-untyped-def]
    engine = make_engine(cluster_db)
    yield engine
    engine.dispose()
