"""Flood control for signing, modelled on e-petitions' rate limits: flag, never refuse, never tell.

A sign-on is **flagged** (stored, not counted, not exported by default; the signer sees the normal
thank-you) when its email or client address is on a blocklist (``campaigns.signatures.rules``), or when its
client address already signed this campaign ``RALLY_SIGN_LIMIT_PER_MINUTE`` times in the last minute or
``RALLY_SIGN_LIMIT_PER_HOUR`` times in the last hour (flagged ones included, so a flood stays flagged),
or when the whole campaign took ``RALLY_SIGN_BURST_PER_MINUTE`` signatures in the last minute (off by
default: a real national day looks like that too; under concurrent sign-ons it may let a few more through).
Allowlisted addresses (an office, a university's NAT) have no per-address limit. Each check reads a bounded
number of index rows, whatever the flood's size; on PostgreSQL sign-ons from one address to one campaign
take turns (an advisory lock until commit), so the per-address limits hold under any concurrency.

**Trending**: an address, an email domain or a postal code that signed far above the campaign's rate
in the last hour is reported to organizers (:func:`find_trends`): at least :data:`TREND_MIN` signatures and
:data:`TREND_FACTOR` times the mean of the other keys. Free mail providers are left out of the domain trend (they are
always far above the mean).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, TypeGuard

from sqlalchemy import BigInteger, bindparam, func, select
from sqlmodel import Session

from campaigns.core.client_address import limits_apply
from campaigns.core.db import HotStatement
from campaigns.core.models import Signature
from campaigns.core.settings import Settings, get_settings
from campaigns.signatures.rules import load_rules

TREND_MIN = 10
TREND_FACTOR = 5
TREND_KINDS = {"client_address": "Address", "email_domain": "Email domain", "postal_code": "Postal code"}
FREE_MAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.ru",
        "yandex.ru",
        "qq.com",
        "163.com",
        "orange.fr",
        "free.fr",
        "libero.it",
    }
)

_S = Signature.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it


@cache
def _recent_from_address() -> HotStatement:
    """The newest sign-on times of one address on one campaign since a moment, at most ``n`` of them (index only)."""
    stmt = (
        select(_S.c.created_at)
        .where(
            _S.c.campaign_id == bindparam("campaign_id"),
            _S.c.client_address == bindparam("client_address"),
            _S.c.created_at > bindparam("since"),
        )
        .order_by(_S.c.created_at.desc())
        .limit(bindparam("n"))
    )
    return HotStatement(stmt, ("campaign_id", "client_address", "since", "n"))


@cache
def _recent_on_campaign() -> HotStatement:
    inner = (
        select(_S.c.id)
        .where(_S.c.campaign_id == bindparam("campaign_id"), _S.c.created_at > bindparam("since"))
        .limit(bindparam("n"))
        .subquery()
    )
    return HotStatement(select(func.count()).select_from(inner), ("campaign_id", "since", "n"))


def find_flag_reason(
    *,
    session: Session,
    campaign_id: int,
    email_canonical: str,
    client_address: str | None,
    now: datetime,
    settings: Settings | None = None,
) -> str | None:
    """Why this sign-on is held for review ("blocklist:email", "rate:minute", ...), or None when it counts."""
    settings = settings or get_settings()
    rules = load_rules(session=session)
    blocked = rules.blocked(email_canonical, client_address)
    if blocked:
        return blocked
    if _limited(client_address) and not rules.allowed(client_address):
        per_hour, per_minute = settings.sign_limit_per_hour, settings.sign_limit_per_minute
        if per_hour or per_minute:
            _lock_address(session, campaign_id, client_address)
            window = timedelta(hours=1) if per_hour else timedelta(minutes=1)
            n = max(per_hour, per_minute)
            params = {"campaign_id": campaign_id, "client_address": client_address, "since": now - window, "n": n}
            times = [row[0] for row in _recent_from_address().fetchall(session, params)]
            if per_hour and len(times) >= per_hour:
                return "rate:hour"
            if per_minute:
                # rows come back as the driver stores them (SQLite: text): compare through the same conversion
                minute_ago = _as_stored(session, now - timedelta(minutes=1))
                if sum(1 for t in times if t > minute_ago) >= per_minute:
                    return "rate:minute"
    burst = settings.sign_burst_per_minute
    if burst:
        params = {"campaign_id": campaign_id, "since": now - timedelta(minutes=1), "n": burst}
        if _recent_on_campaign().scalar(session, params) >= burst:
            return "rate:campaign"
    return None


@cache
def _address_lock() -> HotStatement:
    return HotStatement(select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger))), ("key",))


def _lock_address(session: Session, campaign_id: int, address: str) -> None:
    """PostgreSQL: sign-ons from one address to one campaign take turns until commit, so the limit holds under
    any concurrency (other addresses never wait). SQLite has one writer at a time already."""
    if session.connection().dialect.name == "postgresql":
        digest = hashlib.sha256(f"rally-sign:{campaign_id}:{address}".encode()).digest()
        _address_lock().fetchall(session, {"key": int.from_bytes(digest[:8], "big", signed=True)})


def _limited(address: str | None) -> TypeGuard[str]:
    """Per-address limits apply to real client addresses (``client_address.limits_apply``: not "unknown", not
    loopback)."""
    return limits_apply(address)


def _as_stored(session: Session, moment: datetime) -> object:
    """A moment as the driver returns stored timestamps (SQLite: naive UTC text; PostgreSQL: aware datetimes)."""
    processor = _time_processor(session.connection().dialect)
    return processor(moment) if processor is not None else moment


@cache
def _time_processor(dialect: Any) -> Any:
    return _S.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)


@dataclass(frozen=True)
class Trend:
    kind: str  # client_address | email_domain | postal_code
    value: str
    count: int
    share: float  # of the campaign's signatures in the last hour


def find_trends(*, session: Session, campaign_id: int, now: datetime, hours: int = 1) -> list[Trend]:
    """Keys signing far above the campaign's rate in the last ``hours``, largest first."""
    since = now - timedelta(hours=hours)
    recent = (_S.c.campaign_id == campaign_id, _S.c.created_at > since)
    total = int(session.execute(select(func.count()).where(*recent)).scalar_one())
    if total < TREND_MIN:
        return []
    found: list[Trend] = []
    for kind in TREND_KINDS:
        column = _S.c[kind]
        keys = int(
            session.execute(select(func.count(func.distinct(column))).where(*recent, column.is_not(None))).scalar_one()
        )
        if keys == 0:
            continue
        rows = session.execute(
            select(column, func.count())
            .where(*recent, column.is_not(None))
            .group_by(column)
            .having(func.count() >= TREND_MIN)
            .order_by(func.count().desc())
            .limit(20)
        ).all()
        for value, n in rows:
            others = (total - int(n)) / max(1, keys - 1)  # the rate of everyone else, so a flood can't hide itself
            if int(n) >= TREND_FACTOR * max(1.0, others) and not (kind == "email_domain" and value in FREE_MAIL):
                found.append(Trend(kind, value, int(n), int(n) / total))
    return sorted(found, key=lambda t: -t.count)
