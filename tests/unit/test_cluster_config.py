"""The cluster launcher's pieces that need no running cluster: the HAProxy config it renders (checked by HAProxy
itself), the secrets every process shares, and its messages when the database can't be used."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from campaigns.ops import cluster as ops
from tests.support.servers import free_port


def rendered(tmp_path: Path, servers: int) -> str:
    return ops.render_config(
        ops.TEMPLATE.read_text(),
        bind="127.0.0.1:18000",
        servers=[(f"app{i}", 18000 + i) for i in range(1, servers + 1)],
        stats_socket=str(tmp_path / "haproxy.sock"),
    )


@pytest.mark.parametrize("servers", [1, 4])
def test_the_shipped_config_renders_one_sticky_checked_server_per_process(tmp_path, servers):
    text = rendered(tmp_path, servers)
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("server ")]
    assert lines == [f"server app{i} 127.0.0.1:{18000 + i} cookie app{i}" for i in range(1, servers + 1)]
    assert "{{" not in text
    assert "cookie RALLY_NODE insert indirect nocache httponly" in text
    assert "http-check send meth GET uri /api/health" in text and "default-server check" in text
    assert "option forwardfor" in text and "timeout tunnel" in text
    assert f"stats socket {tmp_path / 'haproxy.sock'} mode 600 level admin" in text
    if not Path(ops.HAPROXY).exists():
        pytest.skip("no HAProxy to check the config with")
    config = tmp_path / "haproxy.cfg"
    config.write_text(text)
    check = subprocess.run([ops.HAPROXY, "-c", "-f", str(config)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_template_without_its_server_markers_is_refused_with_a_message():
    with pytest.raises(ops.ClusterError, match="servers begin"):
        ops.render_config("backend rally\n", bind="x", servers=[("app1", 1)], stats_socket="s")


def test_every_process_gets_the_same_secrets_from_one_key():
    one, again, other = ops.shared_secrets("k1"), ops.shared_secrets("k1"), ops.shared_secrets("k2")
    assert one == again and one["RALLY_SECRET_KEY"] == "k1"
    assert one["STREAMLIT_SERVER_COOKIE_SECRET"] != other["STREAMLIT_SERVER_COOKIE_SECRET"]
    assert "k1" not in one["STREAMLIT_SERVER_COOKIE_SECRET"]


def test_sqlite_is_refused_with_what_to_use_instead(tmp_path):
    with pytest.raises(ops.ClusterError, match="need one PostgreSQL database") as refused:
        ops.check_database(f"sqlite:///{tmp_path / 'rally.db'}")
    assert ops.DEFAULT_DATABASE_URL in refused.value.user_message


def test_a_database_that_does_not_answer_is_named_without_its_password():
    url = f"postgresql+psycopg://rally:hunter2@127.0.0.1:{free_port()}/rally"
    with pytest.raises(ops.ClusterError) as refused:
        ops.check_database(url)
    message = refused.value.user_message
    assert "hunter2" not in message and "127.0.0.1" in message
    assert "PostgreSQL does not answer" in message and "or set DATABASE_URL" in message
