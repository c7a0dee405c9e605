"""A running app, started with the README's command (``make run``) or uvicorn, on a free port."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import Engine

from campaigns.core.db import make_engine

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, url: str, database_url: str, log_path: Path) -> None:
        self.url = url
        self.database_url = database_url
        self.log_path = log_path

    def engine(self) -> Engine:
        return make_engine(self.database_url)


UVICORN = [str(REPO / ".venv" / "bin" / "uvicorn"), "rally_app:app", "--host", "127.0.0.1", "--port", "{port}"]


@contextmanager
def running_app(
    database_url: str,
    folder: Path,
    extra_env: dict[str, str] | None = None,
    command: list[str] | None = None,
    *,
    make: bool = True,
) -> Iterator[LiveServer]:
    """`make run` (the README's command), or ``command`` ("{port}" filled in, e.g. ``UVICORN``), on a free
    port; the whole process group is stopped afterwards.

    ``make=False``: `streamlit run rally_app.py` (the README's command without make, which does not stop at a
    database that `python -m campaigns init` refuses), ready once /api/health answers at all, even 503.
    """
    import time

    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": database_url, "RALLY_PUBLIC_URL": url, **(extra_env or {})}
    log_path = folder / f"server-{port}.log"
    with open(log_path, "wb") as log:
        if command:
            argv = [a.format(port=port) for a in command]
        elif make:
            argv = ["make", "--no-print-directory", "run", f"PORT={port}"]
        else:
            argv = [str(REPO / ".venv" / "bin" / "streamlit"), "run", "rally_app.py", "--server.port", str(port)]
        proc = subprocess.Popen(
            argv,
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"`make run` exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code in ((200,) if make else (200, 503)):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the app did not answer within 90 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield LiveServer(url, database_url, log_path)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
