"""Bulk review of a campaign's signatures: find them by status, client address (or range), email domain,
postal code and time window, then validate or invalidate all of them in one audited action.

**Validate** takes flagged or invalidated signatures back: they count (or, on a campaign that counts
confirmed signatures only, wait for their confirmation as pending), and their held letters go out.
**Invalidate** takes counted, flagged or pending ones out: they no longer count, their held letters are
dropped. Counts move exactly, in the same transaction as the statuses (``count_writes.add_counts`` and
``count_writes.subtract_counts``), and each signature changes once however many reviewers press at once: every
change is an ``UPDATE ... WHERE status IN (...)`` that a second press finds nothing left to change.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import Session

from campaigns.core import audit, outbox
from campaigns.core.audit import Actor
from campaigns.core.errors import CampaignNotFound, InvalidInput
from campaigns.core.models import Campaign, Signature, SignatureStatus, utcnow
from campaigns.questions import answering
from campaigns.signatures.count_writes import add_counts, subtract_counts

SHOWN = 200
CHUNK = 500
MATCH_MAX = 200_000  # one action reaches at most this many signatures (narrow the filter for more)
_S = Signature.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
REVIEWABLE = (
    SignatureStatus.flagged.value,
    SignatureStatus.counted.value,
    SignatureStatus.pending.value,
    SignatureStatus.invalidated.value,
)


@dataclass(frozen=True)
class ReviewFilter:
    campaign_id: int
    statuses: tuple[str, ...] = (SignatureStatus.flagged.value,)
    client_address: str | None = None  # one address, or a range in CIDR notation
    email_domain: str | None = None
    postal_code: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def describe(self) -> dict[str, Any]:
        """For the audit entry: what was chosen, in plain values."""
        return {
            "statuses": list(self.statuses),
            "client_address": self.client_address,
            "email_domain": self.email_domain,
            "postal_code": self.postal_code,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


@dataclass(frozen=True)
class ReviewRow:
    id: int
    created_at: datetime
    full_name: str
    email: str
    client_address: str | None
    postal_code: str | None
    region_code: str
    status: str
    flag_reason: str | None


@dataclass(frozen=True)
class ReviewPage:
    total: int  # signatures matching
    by_status: dict[str, int]
    rows: list[ReviewRow] = field(default_factory=list)  # the newest SHOWN of them


def _network(value: str | None) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not value or not value.strip():
        return None
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise InvalidInput(
            {"client_address": f"“{value.strip()[:60]}” is not an address or a range (e.g. 203.0.113.0/24)."}
        ) from None


def _conditions(review: ReviewFilter) -> tuple[list[Any], Any]:
    """SQL conditions, and the address range to check in Python (SQLite has no address type)."""
    statuses = [s for s in review.statuses if s in REVIEWABLE]
    if not statuses:
        raise InvalidInput({"statuses": "Choose at least one kind of signature to review."})
    if review.since and review.until and review.since >= review.until:
        raise InvalidInput({"until": "The end of the time window must come after its start."})
    where: list[Any] = [_S.c.campaign_id == review.campaign_id, _S.c.status.in_(statuses)]
    network = _network(review.client_address)
    if network is not None:
        if network.num_addresses == 1:
            where.append(_S.c.client_address == str(network.network_address))
            network = None
        else:
            where.append(_S.c.client_address.is_not(None))
    if review.email_domain and review.email_domain.strip():
        where.append(_S.c.email_domain == review.email_domain.strip().lower().lstrip("@"))
    if review.postal_code and review.postal_code.strip():
        where.append(func.upper(_S.c.postal_code) == review.postal_code.strip().upper())
    if review.since:
        where.append(_S.c.created_at >= review.since)
    if review.until:
        where.append(_S.c.created_at < review.until)
    return where, network


def _in_network(address: str | None, network: Any) -> bool:
    if network is None:
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return ip.version == network.version and ip in network


def _matching_ids(session: Session, review: ReviewFilter, *, lock: bool = False) -> list[int]:
    where, network = _conditions(review)
    stmt = select(_S.c.id, _S.c.client_address).where(*where).order_by(_S.c.id).limit(MATCH_MAX + 1)
    if lock:
        stmt = stmt.with_for_update()
    ids = [int(i) for i, address in session.execute(stmt) if _in_network(address, network)]
    if len(ids) > MATCH_MAX:
        raise InvalidInput({"statuses": f"More than {MATCH_MAX:,} signatures match: narrow the filter."})
    return ids


def find(*, session: Session, review: ReviewFilter) -> ReviewPage:
    """How many signatures match (by status), and the newest of them."""
    ids = _matching_ids(session, review)
    if not ids:
        return ReviewPage(0, {})
    by_status: dict[str, int] = {}
    rows: list[ReviewRow] = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for status, n in session.execute(
            select(_S.c.status, func.count()).where(_S.c.id.in_(chunk)).group_by(_S.c.status)
        ):
            by_status[status] = by_status.get(status, 0) + int(n)
    newest = ids[-SHOWN:]
    for row in session.execute(
        select(
            _S.c.id,
            _S.c.created_at,
            _S.c.full_name,
            _S.c.email,
            _S.c.client_address,
            _S.c.postal_code,
            _S.c.region_code,
            _S.c.status,
            _S.c.flag_reason,
        )
        .where(_S.c.id.in_(newest))
        .order_by(_S.c.created_at.desc(), _S.c.id.desc())
    ):
        rows.append(ReviewRow(*row))
    return ReviewPage(len(ids), by_status, rows)


@dataclass(frozen=True)
class ReviewOutcome:
    matched: int
    now_counted: int  # validated: they count now
    now_pending: int  # validated on a campaign that counts confirmed signatures only: waiting for the signer
    no_longer_counted: int  # invalidated signatures that counted until now
    invalidated: int  # every signature invalidated now (counted, flagged or pending before)


def _invalidate(session: Session, campaign: Campaign, chunk: list[int], now: datetime) -> tuple[int, int]:
    """Returns (invalidated, of which counted until now)."""
    were_counted = session.execute(
        update(_S)
        .where(_S.c.id.in_(chunk), _S.c.status == SignatureStatus.counted.value)
        .values(status=SignatureStatus.invalidated.value)
        .returning(_S.c.id, _S.c.region_code, _S.c.created_at)
    ).all()
    others = session.execute(
        update(_S)
        .where(_S.c.id.in_(chunk), _S.c.status.in_([SignatureStatus.flagged.value, SignatureStatus.pending.value]))
        .values(status=SignatureStatus.invalidated.value)
        .returning(_S.c.id)
    ).all()
    subtract_counts(
        session=session,
        campaign_id=campaign.id or 0,
        signed=[(r.region_code, r.created_at) for r in were_counted],
        now=now,
    )
    outbox.drop_held(session=session, signature_ids=[r.id for r in [*were_counted, *others]])
    outbox.drop_queued(session=session, signature_ids=[r.id for r in [*were_counted, *others]], kind=outbox.UPDATE_KIND)
    # out of the results (a held one's answer, never counted, is dropped alike)
    answering.withdraw_answers(session=session, signature_ids=[r.id for r in [*were_counted, *others]])
    return len(were_counted) + len(others), len(were_counted)


def _validate(session: Session, campaign: Campaign, chunk: list[int], now: datetime) -> tuple[int, int]:
    """Returns (counted now, pending now)."""
    held = _S.c.status.in_([SignatureStatus.flagged.value, SignatureStatus.invalidated.value])
    conditions = [_S.c.id.in_(chunk), held]
    if campaign.require_confirmation:
        conditions.append(_S.c.confirmed_at.is_not(None))
    counted = session.execute(
        update(_S)
        .where(*conditions)
        .values(status=SignatureStatus.counted.value)
        .returning(_S.c.id, _S.c.region_code, _S.c.created_at)
    ).all()
    pending = 0
    if campaign.require_confirmation:  # not confirmed yet: they count once their signer confirms
        pending = len(
            session.execute(
                update(_S)
                .where(_S.c.id.in_(chunk), held, _S.c.confirmed_at.is_(None))
                .values(status=SignatureStatus.pending.value)
                .returning(_S.c.id)
            ).all()
        )
    add_counts(
        session=session, campaign_id=campaign.id or 0, signed=[(r.region_code, r.created_at) for r in counted], now=now
    )
    outbox.release_held(session=session, signature_ids=[r.id for r in counted], now=now)
    answering.count_held_answers(session=session, signature_ids=[r.id for r in counted])  # into the results
    return len(counted), pending


def apply(
    *, session: Session, review: ReviewFilter, action: str, actor: Actor, now: datetime | None = None
) -> ReviewOutcome:
    """Validate or invalidate every signature the filter matches, in this transaction; audited."""
    if action not in ("validate", "invalidate"):
        raise InvalidInput({"action": "Choose validate or invalidate."})
    now = now or utcnow()
    campaign = session.get(Campaign, review.campaign_id)
    if campaign is None:
        raise CampaignNotFound(str(review.campaign_id))
    ids = _matching_ids(session, review, lock=True)
    counted = pending = invalidated = uncounted = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        if action == "invalidate":
            done, was_counted = _invalidate(session, campaign, chunk, now)
            invalidated, uncounted = invalidated + done, uncounted + was_counted
        else:
            now_counted, now_pending = _validate(session, campaign, chunk, now)
            counted, pending = counted + now_counted, pending + now_pending
    outcome = ReviewOutcome(len(ids), counted, pending, uncounted, invalidated)
    audit.record(
        session=session,
        actor=actor,
        action=f"review.{action}",
        campaign_id=campaign.id,
        at=now,
        filter=review.describe(),
        matched=outcome.matched,
        now_counted=counted,
        now_pending=pending,
        invalidated=invalidated,
        no_longer_counted=uncounted,
    )
    return outcome
