"""Blocklists and allowlists for signing, edited by organizers and admins.

- **Email patterns** (block): a glob over the whole canonical address, ``*`` for any run of characters and
  ``?`` for one: ``*@mailinator.com`` (a domain), ``*@*.spam.example`` (its subdomains), ``bot?*@example.org``.
  Matched case-insensitively in time proportional to the address times the pattern (no regular expressions,
  so no pattern can make a match slow).
- **Client address ranges** (block or allow), CIDR: ``203.0.113.0/24``, ``2001:db8::/48``, or one address.
  *Allow* is for known shared addresses (a campaign office, a university's NAT): no per-address rate limit.
  A range wider than /8 (IPv4) or /16 (IPv6) is refused: it would reach a large part of the internet.

A blocked signature is stored as flagged (not counted, not exported by default); the signer sees the normal
thank-you. Rules are read once per :data:`CACHE_SECONDS` per process (a change here applies at once here).
"""

from __future__ import annotations

import ipaddress
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlmodel import Session

from campaigns.core import audit
from campaigns.core.audit import Actor
from campaigns.core.db import dialect_insert
from campaigns.core.errors import InvalidInput, NotFound
from campaigns.core.models import SignRule, SignRuleAction, SignRuleKind, utcnow

PATTERN_MAX = 200
WILDCARDS_MAX = 8
RULES_MAX = 5000
CACHE_SECONDS = 10.0
NARROWEST_V4, NARROWEST_V6 = 8, 16
_EMAIL_PATTERN = re.compile(r"^[a-z0-9.@_+*?'-]+$")
_T = SignRule.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it

AddressNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def glob_match(pattern: str, text: str) -> bool:
    """``*`` and ``?`` globbing, in O(len(pattern) x len(text)) at worst (the classic greedy two-pointer walk)."""
    p = t = 0
    star, mark = -1, 0
    while t < len(text):
        if p < len(pattern) and pattern[p] == "*":  # first: an address may itself contain a "*"
            star, mark, p = p, t, p + 1
        elif p < len(pattern) and pattern[p] in ("?", text[t]):
            p, t = p + 1, t + 1
        elif star >= 0:
            p, mark = star + 1, mark + 1
            t = mark
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def check_pattern(kind: str, action: str, pattern: str) -> str:
    """The pattern as stored (normalized), or InvalidInput saying what to change."""
    raw = (pattern or "").strip().lower()
    if kind not in {k.value for k in SignRuleKind} or action not in {a.value for a in SignRuleAction}:
        raise InvalidInput({"kind": "Choose an email pattern or an address range, and block or allow."})
    if not raw:
        raise InvalidInput({"pattern": "Type a pattern: it is empty."})
    if len(raw) > PATTERN_MAX:
        raise InvalidInput({"pattern": f"Patterns are at most {PATTERN_MAX} characters (this one has {len(raw):,})."})
    if kind == SignRuleKind.email:
        if action != SignRuleAction.block:
            raise InvalidInput({"action": "Email patterns can only block; allow lists are for client addresses."})
        if not _EMAIL_PATTERN.match(raw):
            raise InvalidInput(
                {"pattern": "Use letters, digits, . @ _ + - ' and the wildcards * (any run) and ? (one character)."}
            )
        collapsed = re.sub(r"\*+", "*", raw)
        if collapsed.count("*") + collapsed.count("?") > WILDCARDS_MAX:
            raise InvalidInput({"pattern": f"Use at most {WILDCARDS_MAX} wildcards in one pattern."})
        if "@" not in collapsed or collapsed.replace("*", "").replace("?", "") in ("", "@"):
            raise InvalidInput({"pattern": "A pattern must name a domain or an address, for example *@mailinator.com."})
        return collapsed
    try:
        network = ipaddress.ip_network(raw, strict=False)
    except ValueError:
        raise InvalidInput(
            {"pattern": f"“{raw[:60]}” is not an address or a range (for example 203.0.113.0/24)."}
        ) from None
    narrowest = NARROWEST_V4 if network.version == 4 else NARROWEST_V6
    if network.prefixlen < narrowest:
        raise InvalidInput(
            {
                "pattern": f"/{network.prefixlen} is too wide: it reaches a large part of the internet "
                f"(use /{narrowest} or narrower)."
            }
        )
    return str(network)


@dataclass(frozen=True)
class RuleView:
    id: int
    kind: str
    action: str
    pattern: str
    note: str
    created_at: datetime


def list_rules(*, session: Session) -> list[RuleView]:
    rows = session.execute(
        select(_T.c.id, _T.c.kind, _T.c.action, _T.c.pattern, _T.c.note, _T.c.created_at).order_by(
            _T.c.kind, _T.c.action, _T.c.pattern
        )
    ).all()
    return [RuleView(*row) for row in rows]


def add_rule(*, session: Session, kind: str, action: str, pattern: str, note: str = "", actor: Actor) -> int | None:
    """Store a rule (None if the same rule exists already); audited."""
    stored = check_pattern(kind, action, pattern)
    count = len(session.execute(select(_T.c.id).limit(RULES_MAX)).all())
    if count >= RULES_MAX:
        raise InvalidInput({"pattern": f"There are {RULES_MAX:,} rules already: remove some first."})
    row = session.execute(
        dialect_insert(session, _T)
        .values(
            kind=kind,
            action=action,
            pattern=stored,
            note=(note or "").strip()[:200],
            created_by=actor.user_id,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["kind", "action", "pattern"])
        .returning(_T.c.id)
    ).first()
    if row is not None:
        audit.record(session, actor=actor, action="sign_rule.add", kind=kind, rule=action, pattern=stored)
    forget_cached_rules()
    return int(row[0]) if row else None


def remove_rule(*, session: Session, rule_id: int, actor: Actor) -> None:
    row = session.execute(select(_T.c.kind, _T.c.action, _T.c.pattern).where(_T.c.id == rule_id)).first()
    if row is None:
        raise NotFound("That rule is gone already. Reload the page to see the rules as they are now.")
    session.execute(delete(_T).where(_T.c.id == rule_id))
    audit.record(session, actor=actor, action="sign_rule.remove", kind=row.kind, rule=row.action, pattern=row.pattern)
    forget_cached_rules()


@dataclass(frozen=True)
class RuleSet:
    blocked_emails: tuple[str, ...]
    blocked_networks: tuple[AddressNetwork, ...]
    allowed_networks: tuple[AddressNetwork, ...]

    @staticmethod
    def _within(address: str | None, networks: tuple[AddressNetwork, ...]) -> bool:
        if not address or not networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip.version == net.version and ip in net for net in networks)

    def blocked(self, email_canonical: str, client_address: str | None) -> str | None:
        """Why this sign-on is blocked ("blocklist:email" / "blocklist:address"), or None."""
        if any(glob_match(pattern, email_canonical) for pattern in self.blocked_emails):
            return "blocklist:email"
        if self._within(client_address, self.blocked_networks):
            return "blocklist:address"
        return None

    def allowed(self, client_address: str | None) -> bool:
        return self._within(client_address, self.allowed_networks)


EMPTY = RuleSet((), (), ())
_cache: dict[object, tuple[float, RuleSet]] = {}
_cache_lock = threading.Lock()


def forget_cached_rules() -> None:
    with _cache_lock:
        _cache.clear()


def load_rules(*, session: Session) -> RuleSet:
    """Every rule, compiled; read from the database at most once per CACHE_SECONDS per database and process."""
    key = session.get_bind().engine.url  # hashable, and cheaper than rendering it on every sign-on
    hit = _cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    emails: list[str] = []
    blocked: list[AddressNetwork] = []
    allowed: list[AddressNetwork] = []
    for kind, action, pattern in session.execute(select(_T.c.kind, _T.c.action, _T.c.pattern)):
        if kind == SignRuleKind.email:
            emails.append(pattern)
        else:
            (blocked if action == SignRuleAction.block else allowed).append(ipaddress.ip_network(pattern))
    rules = RuleSet(tuple(emails), tuple(blocked), tuple(allowed)) if emails or blocked or allowed else EMPTY
    with _cache_lock:
        _cache[key] = (time.monotonic(), rules)
    return rules
