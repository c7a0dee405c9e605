"""Several app processes behind HAProxy on one PostgreSQL database, for trying the topology on one machine.

``python -m campaigns cluster --workers N --port P`` (``make cluster WORKERS=N``) checks the database (PostgreSQL
only: SQLite is one process's), upgrades its schema once, starts N ``streamlit run rally_app.py`` processes on
consecutive ports after P, one mail worker (``python -m campaigns worker``; the apps run none), renders
``deploy/haproxy.cfg`` for the N servers and runs HAProxy in the foreground on P. Ctrl+C stops everything.

Every app process gets the same secrets: ``RALLY_SECRET_KEY`` (log-in cookies, signed links; generated for this
run when unset) and Streamlit's cookie secret derived from it, so a browser moved to another process keeps its
log-in. The tests (tests/cluster/) start the same :class:`Cluster`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from campaigns.core.db import make_engine, normalize_url
from campaigns.core.errors import RallyError
from campaigns.core.migrate import upgrade
from campaigns.core.settings import PROJECT_ROOT

TEMPLATE = PROJECT_ROOT / "deploy" / "haproxy.cfg"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/rally"
HAPROXY = "/usr/sbin/haproxy"
_SERVERS = re.compile(r"(?P<indent>[ \t]*)# servers begin\n.*?# servers end\n", re.S)
READY_SECONDS = 90


class ClusterError(RallyError):
    """The cluster cannot start: the message says what to change."""


@dataclass
class App:
    """One app process: its name in HAProxy (and in the sticky cookie), port and process."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """``kill -9`` of the process (and its children): what a crash looks like to the others."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


@dataclass
class Cluster:
    url: str
    apps: list[App]
    stats_socket: Path
    folder: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def admin(self, command: str) -> str:
        """One command on HAProxy's stats socket, e.g. ``set server rally/app1 state drain``."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.stats_socket))
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def server_states(self) -> dict[str, str]:
        """Each app's state as HAProxy sees it (``UP``, ``DOWN``, ``DRAIN``, ...), from ``show stat``."""
        lines = self.admin("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("pxname") == "rally" and row.get("svname") not in ("FRONTEND", "BACKEND"):
                out[row["svname"]] = row["status"]
        return out


def render_config(template: str, *, bind: str, servers: list[tuple[str, int]], stats_socket: str) -> str:
    """The shipped config with its example servers replaced by ``servers`` (name, port on 127.0.0.1)."""
    match = _SERVERS.search(template)
    if match is None:
        raise ClusterError("deploy/haproxy.cfg has lost its “# servers begin” … “# servers end” lines.")
    indent = match.group("indent")
    lines = "".join(f"{indent}server {name} 127.0.0.1:{port} cookie {name}\n" for name, port in servers)
    text = template[: match.start()] + f"{indent}# servers begin\n{lines}{indent}# servers end\n"
    text += template[match.end() :]
    text = text.replace("{{bind}}", bind).replace("{{stats_socket}}", stats_socket)
    return text.replace("{{deploy}}", str(TEMPLATE.parent))


def shared_secrets(secret_key: str) -> dict[str, str]:
    """The environment every app process must share: Rally's secret and Streamlit's cookie secret (from it)."""
    cookie = hmac.new(secret_key.encode(), b"streamlit cookie secret", hashlib.sha256).hexdigest()
    return {"RALLY_SECRET_KEY": secret_key, "STREAMLIT_SERVER_COOKIE_SECRET": cookie}


def check_database(url: str) -> str:
    """The URL, normalized, once the database answers and its schema is upgraded; ClusterError otherwise."""
    url = normalize_url(url)
    if not url.startswith("postgresql"):
        raise ClusterError(
            "Several app processes need one PostgreSQL database (SQLite is one process's). Set DATABASE_URL, "
            f"e.g. {DEFAULT_DATABASE_URL} (createdb rally first)."
        )
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
        raise ClusterError(
            f"PostgreSQL does not answer at {_safe(url)} ({reason}): start it (and `createdb rally` for the default "
            "database), or set DATABASE_URL."
        ) from None
    try:
        upgrade(engine)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
        raise ClusterError(f"Cannot upgrade the database at {_safe(url)}: {reason}") from None
    finally:
        engine.dispose()
    return url


def _safe(url: str) -> str:
    return re.sub(r"//([^:@/]+):[^@/]*@", r"//\1:***@", url)


def _start(argv: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(  # noqa: S603 - our own fixed commands (streamlit, python, haproxy), no shell
            argv, cwd=PROJECT_ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_ready(app: App) -> None:
    import httpx

    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            raise ClusterError(f"{app.name} exited with {app.process.returncode}: see {app.log}")
        try:
            if httpx.get(f"{app.url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise ClusterError(f"{app.name} did not answer on port {app.port} within {READY_SECONDS} s: see {app.log}")


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for proc in processes:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in processes:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@contextmanager
def running_cluster(
    *,
    database_url: str,
    workers: int,
    port: int,
    folder: Path,
    secret_key: str = "",
    extra_env: Mapping[str, str] | None = None,
    mail_worker: bool = True,
) -> Iterator[Cluster]:
    """Start the cluster (HAProxy on ``port``, apps on the ports after it), yield it, stop everything."""
    if not 1 <= workers <= 16:
        raise ClusterError("Choose from 1 to 16 app processes.")
    if not Path(HAPROXY).exists():
        raise ClusterError(f"HAProxy is not installed ({HAPROXY}): apt-get install haproxy")
    url = check_database(database_url)
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    base = os.environ.copy()
    base.update(
        {
            "DATABASE_URL": url,
            "RALLY_OUTBOX_WORKER": "off",  # one worker for all (below), not one per process
            "RALLY_TRUSTED_PROXIES": "127.0.0.1, ::1",  # HAProxy's X-Forwarded-For is believed
            "RALLY_PUBLIC_URL": base.get("RALLY_PUBLIC_URL") or f"http://localhost:{port}",
            **shared_secrets(secret_key or secrets.token_urlsafe(32)),
            **(extra_env or {}),
        }
    )
    streamlit = str(Path(sys.executable).with_name("streamlit"))
    processes: list[subprocess.Popen[bytes]] = []
    apps: list[App] = []
    try:
        for i in range(1, workers + 1):
            app_port = port + i
            argv = [streamlit, "run", "rally_app.py", "--server.port", str(app_port), "--server.headless", "true"]
            log = folder / f"app{i}.log"
            proc = _start(argv, base, log)
            processes.append(proc)
            apps.append(App(f"app{i}", app_port, proc, log))
        if mail_worker:
            processes.append(_start([sys.executable, "-m", "campaigns", "worker"], base, folder / "worker.log"))
        for app in apps:
            _wait_ready(app)
        stats_socket = folder / "haproxy.sock"
        config = render_config(
            TEMPLATE.read_text(),
            bind=f"127.0.0.1:{port}",
            servers=[(a.name, a.port) for a in apps],
            stats_socket=str(stats_socket),
        )
        (folder / "haproxy.cfg").write_text(config)
        haproxy = _start([HAPROXY, "-db", "-f", str(folder / "haproxy.cfg")], base, folder / "haproxy.log")
        processes.append(haproxy)
        cluster = Cluster(f"http://127.0.0.1:{port}", apps, stats_socket, folder, processes)
        _wait_balancer(cluster, haproxy)
        yield cluster
    finally:
        _stop(processes)


def _wait_balancer(cluster: Cluster, haproxy: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if haproxy.poll() is not None:
            raise ClusterError(f"HAProxy exited with {haproxy.returncode}: see {cluster.folder / 'haproxy.log'}")
        try:
            states = cluster.server_states()
            if states and all(s == "UP" for s in states.values()):
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise ClusterError(f"HAProxy did not see every app process up within 30 s: see {cluster.folder}")


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def run(*, database_url: str, workers: int, port: int, folder: Path, secret_key: str = "") -> None:
    """The CLI's foreground run: print the address, wait for Ctrl+C (or SIGTERM), stop everything."""
    if not shutil.which(HAPROXY):
        raise ClusterError(f"HAProxy is not installed ({HAPROXY}): apt-get install haproxy")
    signal.signal(signal.SIGTERM, _interrupt)
    with running_cluster(
        database_url=database_url, workers=workers, port=port, folder=folder, secret_key=secret_key
    ) as cluster:
        print(f"Rally is running at {cluster.url.replace('127.0.0.1', 'localhost')}  (Ctrl+C to stop)", flush=True)
        for app in cluster.apps:
            print(f"  {app.name}: {app.url}  (log: {app.log})", flush=True)
        print(f"  stats socket: {cluster.stats_socket}  (e.g. set server rally/app1 state drain)", flush=True)
        try:
            while all(p.poll() is None for p in cluster.processes):
                time.sleep(0.5)
            print("A process of the cluster exited: stopping the others.", file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            print("Stopping…", flush=True)
