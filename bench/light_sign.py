"""The light sign page under a spike: new visitors signing through ``/s/<slug>`` on one app process (SQLite).

The app is started as production runs it (``streamlit run rally_app.py``) on a free port over a fresh SQLite
file, with flood limits off (``RALLY_SIGN_LIMIT_PER_*=0``: every visitor comes from 127.0.0.1 here). The load
generator is this file's own: processes each holding many keep-alive connections (a small asyncio HTTP/1.1
client: httpx's own cost per request would make the client the bottleneck on a 2-core machine), each sign-on a
new visitor: ``GET /s/<slug>`` (no cookie: the page sets a fresh ``rally_csrf`` cookie and its token), then
``POST`` of a distinct signer with that cookie and token. A sign-on is acknowledged by a 200 thank-you.

Beside it, in the same run: the service layer's own rate (``run_write(engine, lambda s: sign(...))`` in this
process, one thread, flood control and confirmation off, as ``sign_write`` measures it), and how much of a core
the server and the load generator each used (so one can see which of them was the bottleneck). At the end
nothing may be lost: rows stored == acknowledged 200s == the campaign's count. Target: >= 500 sign-ons/s.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from sqlalchemy import text

from bench.common import (
    Options,
    SignerFactory,
    fmt_ms,
    make_published_campaign,
    percentile,
    print_table,
    streamlit_server,
)
from campaigns.core.db import make_engine, run_write
from campaigns.core.migrate import upgrade
from campaigns.core.settings import override_settings
from campaigns.signatures.counts import count_total
from campaigns.signatures.signing import sign

NAME = "light_sign"
TARGET_RATE = 500.0
FLAGS_OFF = {"sign_limit_per_minute": 0, "sign_limit_per_hour": 0, "sign_burst_per_minute": 0}
FLAGS_ENV = {"RALLY_SIGN_LIMIT_PER_MINUTE": "0", "RALLY_SIGN_LIMIT_PER_HOUR": "0", "RALLY_SIGN_BURST_PER_MINUTE": "0"}
THANKED = b"Your name is on it."
WARM_UP = 200
_TOKEN = re.compile(rb'name="rally_form" value="([^"]+)"')
_COOKIE = re.compile(rb"^set-cookie: rally_csrf=([^;]+)", re.I | re.M)


# --------------------------------------------------------------------------- the load generator


class Connection:
    """One keep-alive HTTP/1.1 connection: enough of the protocol for Rally's answers (Content-Length bodies)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        if body:
            head += f"Content-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        raw_head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(raw_head[9:12])
        found = re.search(rb"^content-length:\s*(\d+)", raw_head, re.I | re.M)
        content = await self.reader.readexactly(int(found.group(1))) if found else b""
        return status, raw_head, content


async def _visitor_loop(conn: Connection, path: str, forms: list[bytes], out: dict[str, Any]) -> None:
    while forms:
        form = forms.pop()
        started = time.perf_counter()
        status, head, page = await conn.request("GET", path, {})
        cookie, token = _COOKIE.search(head), _TOKEN.search(page)
        if status != 200 or cookie is None or token is None:
            out["failed"] += 1
            continue
        body = form + b"&rally_form=" + token.group(1)
        status, _, thanks = await conn.request(
            "POST",
            path,
            {
                "Cookie": f"rally_csrf={cookie.group(1).decode()}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": f"http://{conn.host}:{conn.port}",
            },
            body,
        )
        if status == 200 and THANKED in thanks:
            out["acked"] += 1
            out["latencies"].append(time.perf_counter() - started)
        else:
            out["failed"] += 1
            out.setdefault("statuses", []).append(status)


async def _load(base: str, path: str, forms: list[bytes], connections: int) -> dict[str, Any]:
    url = urlsplit(base)
    out: dict[str, Any] = {"acked": 0, "failed": 0, "latencies": []}
    conns = [Connection(url.hostname or "127.0.0.1", url.port or 80) for _ in range(connections)]
    await asyncio.gather(*(_visitor_loop(c, path, forms, out) for c in conns))
    for c in conns:
        if c.writer is not None:
            c.writer.close()
    return out


def _client_process(base: str, path: str, forms: list[bytes], connections: int, start: Any, queue: Any) -> None:
    start.wait()
    began = time.perf_counter()
    out = asyncio.run(_load(base, path, forms, connections))
    used = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu"] = used.ru_utime + used.ru_stime
    out["wall"] = time.perf_counter() - began
    queue.put(out)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _form(signer: Any) -> bytes:
    values = {"full_name": signer.full_name, "email": signer.email, "region_code": signer.region_code or ""}
    if signer.postal_code:
        values["postal_code"] = signer.postal_code
    if signer.comment:
        values["comment"] = signer.comment
    if signer.contact_consent:
        values["contact_consent"] = "1"
    if signer.utm_source:
        values["utm_source"] = signer.utm_source
    return urlencode(values).encode()


def spike(base: str, pid: int, slug: str, forms: list[bytes], processes: int, connections: int) -> dict[str, Any]:
    """A new visitor signing through ``/s/<slug>`` for each of ``forms``: ``processes`` clients x ``connections``
    each."""
    context = multiprocessing.get_context("fork")
    start, queue = context.Event(), context.Queue()
    clients = [
        context.Process(
            target=_client_process, args=(base, f"/s/{slug}", forms[i::processes], connections, start, queue)
        )
        for i in range(processes)
    ]
    for client in clients:
        client.start()
    time.sleep(0.5)  # every client is waiting on the event
    server_cpu = _cpu_seconds(pid)
    began = time.perf_counter()
    start.set()
    results = [queue.get() for _ in clients]
    wall = time.perf_counter() - began
    server_cpu = _cpu_seconds(pid) - server_cpu
    for client in clients:
        client.join()
    latencies = [x for r in results for x in r["latencies"]]
    acked = sum(r["acked"] for r in results)
    return {
        "acked": acked,
        "failed": sum(r["failed"] for r in results),
        "statuses": sorted({s for r in results for s in r.get("statuses", [])}),
        "wall": wall,
        "rate": acked / wall if wall else 0.0,
        "server_core": server_cpu / wall,
        "client_core": sum(r["cpu"] for r in results) / wall,
        "server_ms": 1000 * server_cpu / max(1, acked),
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
    }


# --------------------------------------------------------------------------- the service's own rate


def service_rate(folder: Path, n: int) -> float:
    """Sign-ons/s through ``sign()`` in this process (one thread, flood control and confirmation off)."""
    engine = make_engine(f"sqlite:///{folder / 'service.db'}")
    try:
        upgrade(engine)
        _, slug = make_published_campaign(engine, "light-service")
        signers = SignerFactory(seed=41).make(n)
        with override_settings(**FLAGS_OFF):
            began = time.perf_counter()
            for g in signers:
                run_write(engine, lambda s, g=g: sign(session=s, campaign_slug=slug, signer=g.signer))
            return n / (time.perf_counter() - began)
    finally:
        engine.dispose()


def run(opts: Options) -> None:
    print(f"== {NAME}: new visitors signing through /s/<slug>, one app process, SQLite ==", flush=True)
    n = 600 if opts.quick else 20_000
    processes, connections = (1, 16) if opts.quick else (1, 64)
    root = Path(__file__).resolve().parent.parent
    folder = Path(tempfile.mkdtemp(prefix="rally-bench-light-"))
    try:
        url = f"sqlite:///{folder / 'rally.db'}"
        engine = make_engine(url)
        upgrade(engine)
        campaign_id, slug = make_published_campaign(engine, "light")
        env = {**os.environ, "DATABASE_URL": url, **FLAGS_ENV}
        with streamlit_server(root, "rally_app.py", env, "/api/health") as (base, pid):
            forms = [_form(g.signer) for g in SignerFactory(seed=14).make(WARM_UP + n)]
            warm = spike(base, pid, slug, forms[:WARM_UP], 1, 8)  # imports, the page's cache, the pool
            result = spike(base, pid, slug, forms[WARM_UP:], processes, connections)
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT count(*) FROM signature WHERE campaign_id = :c"), {"c": campaign_id}
            ).scalar_one()
        with engine.connect() as conn:
            from sqlmodel import Session

            counted = count_total(session=Session(bind=conn), campaign_id=campaign_id)
        engine.dispose()
        expected = result["acked"] + warm["acked"]  # the warm-up's sign-ons count too
        service = service_rate(folder, 500 if opts.quick else 5_000)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    exact = stored == counted == expected and result["failed"] == warm["failed"] == 0
    verdict = "PASS" if result["rate"] >= TARGET_RATE and exact else "MISS"
    per_core = 1000 / result["server_ms"] if result["server_ms"] else 0.0
    print_table(
        f"{n:,} new visitors (GET the form, POST a distinct signer), {processes} client process(es) x "
        f"{connections} connections",
        ["path", "sign-ons/s", "p50", "p99", "server core used", "server CPU a sign-on", "client cores", "target"],
        [
            [
                "/s/<slug> (HTTP, one process)",
                f"{result['rate']:,.0f}",
                fmt_ms(result["p50"]) + " ms",
                fmt_ms(result["p99"]) + " ms",
                f"{result['server_core']:.2f}",
                f"{result['server_ms']:.2f} ms ({per_core:,.0f}/s a full core)",
                f"{result['client_core']:.2f}",
                f">= {TARGET_RATE:,.0f}/s {verdict}",
            ],
            ["sign() in-process (baseline, one thread)", f"{service:,.0f}", "", "", "", "", "", ""],
        ],
    )
    print(
        f"  nothing lost: acknowledged {expected:,} (warm-up included), rows stored {stored:,}, count {counted:,}, "
        f"failed {result['failed']:,} {result['statuses'] or ''} -> {'exact' if exact else 'NOT EXACT'}",
        flush=True,
    )
    if result["server_core"] < 0.9:
        print(
            f"  the server used {result['server_core']:.2f} of a core: neither it nor the client "
            f"({result['client_core']:.2f}) was saturated: it waited (for a core other processes held, or on "
            "the database) rather than computing, and the rate a full core gives is the column beside it",
            flush=True,
        )
