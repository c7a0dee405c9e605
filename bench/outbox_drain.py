"""Draining the mail outbox: messages per second through ``outbox.drain`` to a local SMTP server.

For each database kind, N queued confirmation emails (``--quick``: 300, else 5,000) are drained with
``campaigns.core.outbox.drain`` (claim a batch of 50 under a lease, hand each message to SMTP over one
connection per batch, mark it sent right after) to an aiosmtpd server the benchmark starts in its own
process. Baseline, in the same run, before and after the drain: the bare rate of sending the same
prebuilt messages (the stored text, as bytes) over one ``smtplib`` connection to the same server, with no
database. Afterwards the run checks that every message arrived exactly once (by Message-ID) and that the
outbox shows every one as sent.
"""

from __future__ import annotations

import smtplib
import time
from collections import Counter
from typing import Any

from sqlalchemy import text

from bench.common import (
    Database,
    Options,
    SignerFactory,
    SmtpSink,
    fmt_rate,
    for_each_database,
    make_published_campaign,
    print_table,
    smtp_sink,
)
from campaigns.core import outbox
from campaigns.core.db import run_write
from campaigns.core.mail import sender
from campaigns.core.settings import override_settings
from campaigns.signatures import confirmation

NAME = "outbox_drain"
RATE_TARGET = 200.0  # messages/s
QUEUE_BATCH = 500  # messages queued per transaction (setup, not timed)
MAIL_FROM = "Rally <petitions@rally.example.org>"


def _queue(db: Database, campaign_id: int, factory: SignerFactory, n: int) -> None:
    """N confirmation emails, as sign-ons on a confirming campaign queue them."""
    for lo in range(0, n, QUEUE_BATCH):
        signers = factory.make(min(QUEUE_BATCH, n - lo))

        def work(session: Any, signers: Any = signers, lo: int = lo) -> None:
            for k, g in enumerate(signers):
                outbox.enqueue(
                    session=session,
                    kind="confirmation",
                    mail=confirmation.compose_mail(
                        g.signer.email, g.signer.full_name, "Fund the libraries", f"t{lo + k:06d}"
                    ),
                    recipient_canonical=g.email_canonical,
                    campaign_id=campaign_id,
                    dedupe_key=f"bench:{campaign_id}:{lo + k}",
                )

        run_write(db.engine, work)


def _stored(db: Database, campaign_id: int) -> list[tuple[str, str, str]]:
    """(to address, message text, status) of the campaign's outbox messages, in id order."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT to_address, message, status FROM outbox WHERE campaign_id = :c ORDER BY id"),
            {"c": campaign_id},
        ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def _message_id(message: str) -> str:
    for line in message.splitlines():
        if line.lower().startswith("message-id:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("a stored message has no Message-ID")


def _bare_smtp(sink: SmtpSink, messages: list[tuple[str, bytes]]) -> float:
    """Seconds to send the prebuilt messages over one plain ``smtplib`` connection (no database)."""
    from_address = sender().addr_spec
    started = time.perf_counter()
    client = smtplib.SMTP("127.0.0.1", sink.port, timeout=15)
    try:
        for to, data in messages:
            client.sendmail(from_address, [to], data)
    finally:
        client.quit()
    return time.perf_counter() - started


def _check_once(what: str, received: list[str | None], expected: list[str]) -> None:
    counts = Counter(received)
    missing = [m for m in expected if counts[m] == 0]
    twice = [m for m, c in counts.items() if c > 1]
    strangers = set(counts) - set(expected)
    if missing or twice or strangers or len(received) != len(expected):
        raise AssertionError(
            f"{what}: {len(received)} messages arrived for {len(expected)} sent; {len(missing)} missing, "
            f"{len(twice)} more than once, {len(strangers)} unknown"
        )


def bench_database(db: Database, opts: Options, sink: SmtpSink, factory: SignerFactory) -> list[list[Any]]:
    n = 300 if opts.quick else 5000
    campaign_id, _ = make_published_campaign(db.engine, "outbox")
    _queue(db, campaign_id, factory, n)
    stored = _stored(db, campaign_id)
    ids = [_message_id(m) for _, m, _ in stored]
    prebuilt = [(to, m.encode("ascii")) for to, m, _ in stored]

    bare_before = n / _bare_smtp(sink, prebuilt)
    _check_once("bare smtplib (before)", sink.take(), ids)

    started = time.perf_counter()
    stats = outbox.drain(db.engine)
    elapsed = time.perf_counter() - started
    _check_once("outbox.drain", sink.take(), ids)
    statuses = Counter(status for _, _, status in _stored(db, campaign_id))
    if stats.sent != n or statuses != {"sent": n}:
        raise AssertionError(f"outbox.drain: stats {stats}, statuses {dict(statuses)}")

    bare_after = n / _bare_smtp(sink, prebuilt)
    _check_once("bare smtplib (after)", sink.take(), ids)

    rate = n / elapsed
    bare = (bare_before + bare_after) / 2
    print(
        f"  [{db.kind}] {n:,} messages: outbox.drain {rate:,.0f}/s ({elapsed:.1f} s), bare smtplib "
        f"{bare_before:,.0f}/s before and {bare_after:,.0f}/s after; each arrived exactly once",
        flush=True,
    )
    return [
        [
            db.kind,
            f"{n:,}",
            fmt_rate(rate),
            f"{elapsed:.1f}",
            fmt_rate(bare),
            f"{min(bare_before, bare_after):,.0f}–{max(bare_before, bare_after):,.0f}",
            f"{rate / bare:.0%}",
            f"{1000 / rate - 1000 / bare:.2f}",
            "exactly once",
            "PASS" if rate >= RATE_TARGET else "MISS",
        ]
    ]


def run(opts: Options) -> None:
    print(f"\n== {NAME}: draining the mail outbox to a local SMTP server, vs. bare smtplib ==")
    started = time.perf_counter()
    factory = SignerFactory(seed=23)
    with smtp_sink() as sink:
        settings = {
            "smtp_host": "127.0.0.1",
            "smtp_port": sink.port,
            "smtp_security": "none",
            "mail_from": MAIL_FROM,
            "mail_per_minute": 1_000_000,  # the rate limit is not what is measured
        }
        print(
            f"  aiosmtpd on 127.0.0.1:{sink.port} (its own process); outbox batch {outbox.BATCH}, "
            f"mail_per_minute raised to {settings['mail_per_minute']:,}",
            flush=True,
        )
        with override_settings(**settings):
            rows, skipped = for_each_database(opts, lambda db: bench_database(db, opts, sink, factory))
    print_table(
        f"Outbox drain (messages/s; target ≥ {RATE_TARGET:,.0f}/s)",
        [
            "db",
            "messages",
            "outbox/s",
            "drain s",
            "bare smtplib/s",
            "bare range",
            "outbox/bare",
            "ms added per message",
            "delivered",
            f"≥{RATE_TARGET:,.0f}/s",
        ],
        rows,
    )
    for line in skipped:
        print(line)
    if rows:
        rates = [float(r[2].replace(",", "")) for r in rows]
        ok = min(rates) >= RATE_TARGET
        print(
            f"  target ≥ {RATE_TARGET:,.0f} messages/s, every database: {'PASS' if ok else 'MISS'} "
            f"({min(rates):,.0f}–{max(rates):,.0f}/s)"
        )
    print(f"  ({NAME} took {time.perf_counter() - started:.0f} s)")
