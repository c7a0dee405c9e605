"""Rally never calls out: starting the app reaches no address outside this machine.

Streamlit, when headless, looks up the machine's public IP at start-up to print an "External URL" (an HTTP
request to checkip.amazonaws.com; on an offline machine start-up waits for its time-out). The app here is
started with every outgoing HTTP request sent to a proxy that the test runs, so any call-out is seen.
"""

from __future__ import annotations

import socket
import threading

import pytest

from tests.support.servers import running_app

pytestmark = pytest.mark.xdist_group("live")


class Recorder:
    """A TCP listener that records the first line of every connection made to it (a stand-in proxy)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.requests: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    self.requests.append(conn.recv(4096).split(b"\r\n", 1)[0].decode("latin-1"))
                except OSError:
                    self.requests.append("(connected, sent nothing)")


def test_starting_the_app_calls_no_outside_address(tmp_path):
    proxy = Recorder()
    env = {"HTTP_PROXY": proxy.url, "HTTPS_PROXY": proxy.url, "http_proxy": proxy.url, "https_proxy": proxy.url}
    with running_app(f"sqlite:///{tmp_path / 'rally.db'}", tmp_path, extra_env=env) as server:
        log = server.log_path.read_text("utf-8", "replace")
    proxy.sock.close()
    assert proxy.requests == [], f"the app called out at start-up: {proxy.requests}"
    assert "External URL" not in log
    port = server.url.rsplit(":", 1)[1]
    assert f"URL: http://localhost:{port}" in log, log  # the one address it prints is this machine's
