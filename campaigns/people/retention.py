"""Retention: a campaign's signers' personal data is anonymized a set time after the campaign closes.

``RALLY_RETENTION_DAYS`` (default 365; 0 or empty: keep until each supporter erases it) counts from the
campaign's close: ``closed_at`` for a closed or archived campaign, the deadline for a published one
whose deadline has passed (it closed itself). Signatures are anonymized exactly as a supporter's own
erasure does it (:func:`campaigns.people.supporter_erasure.anonymize_signatures`): counts stay, people go.

Runs in batches, one short transaction each, so a large campaign never holds a long lock and an
interrupted run simply continues next time. Already-anonymized signatures are skipped: running it
again changes nothing, so it is safe on a schedule. Spent "My data" links (used or expired, and
older than the hour the request limit looks at) are deleted too: they hold an email address. Members'
proposals published, declined or expired longer ago than the same period lose their proposer's and
co-sponsors' names and addresses and the proposer's messages (``proposals.privacy.anonymize_decided``),
as an erasure does: the proposal's text stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from campaigns.core import audit
from campaigns.core.db import read_session, run_write
from campaigns.core.models import Campaign, CampaignStatus, Signature, SupporterToken, utcnow
from campaigns.core.settings import get_settings
from campaigns.people.supporter_erasure import anonymize_signatures
from campaigns.proposals import privacy

BATCH = 1000
_TOKENS = SupporterToken.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it


@dataclass(frozen=True)
class CampaignDue:
    campaign_id: int
    slug: str
    closed_at: datetime
    signatures: int  # signatures still holding personal data


@dataclass(frozen=True)
class RetentionReport:
    days: int
    cutoff: datetime | None  # campaigns closed before this are due (None: retention is off)
    campaigns: tuple[CampaignDue, ...]
    spent_links: int
    applied: bool
    proposals: int = 0  # proposals decided or expired before the cutoff that still name someone

    @property
    def signatures(self) -> int:
        return sum(c.signatures for c in self.campaigns)


def _closed_before(session: Session, cutoff: datetime, now: datetime) -> list[tuple[int, str, datetime]]:
    """(id, slug, when it closed) of campaigns that closed before ``cutoff``."""
    rows = session.execute(
        select(
            col(Campaign.id), col(Campaign.slug), col(Campaign.status), col(Campaign.closed_at), col(Campaign.deadline)
        ).where(
            or_(
                and_(
                    col(Campaign.status).in_([CampaignStatus.closed.value, CampaignStatus.archived.value]),
                    col(Campaign.closed_at) <= cutoff,
                ),
                and_(col(Campaign.status) == CampaignStatus.published.value, col(Campaign.deadline) <= cutoff),
            )
        )
    ).all()
    due = []
    for campaign_id, slug, status, closed_at, deadline in rows:
        when = deadline if status == CampaignStatus.published.value else closed_at
        if when is not None and when <= min(cutoff, now):
            due.append((campaign_id, slug, when))
    return sorted(due, key=lambda row: (row[2], row[0]))


def _spent_links(now: datetime) -> ColumnElement[bool]:
    return and_(
        _TOKENS.c.created_at < now - timedelta(hours=1),
        or_(_TOKENS.c.used_at.is_not(None), _TOKENS.c.expires_at < now),
    )


def plan_retention(*, session: Session, days: int, now: datetime | None = None) -> RetentionReport:
    """What a run would do now, changing nothing."""
    now = now or utcnow()
    spent = int(session.execute(select(func.count()).select_from(_TOKENS).where(_spent_links(now))).scalar_one())
    if days <= 0:
        return RetentionReport(days, None, (), spent, applied=False)
    cutoff = now - timedelta(days=days)
    campaigns = []
    for campaign_id, slug, closed_at in _closed_before(session, cutoff, now):
        remaining = session.execute(
            select(func.count()).where(col(Signature.campaign_id) == campaign_id, col(Signature.erased_at).is_(None))
        ).scalar_one()
        if remaining:
            campaigns.append(CampaignDue(campaign_id, slug, closed_at, int(remaining)))
    proposals = privacy.count_decided(session=session, cutoff=cutoff)
    return RetentionReport(days, cutoff, tuple(campaigns), spent, applied=False, proposals=proposals)


def _anonymize_batch(session: Session, campaign_id: int, after_id: int, batch: int, now: datetime) -> int | None:
    """Anonymize the next ``batch`` signatures with an id above ``after_id``; returns the last id seen (None: done).

    Walking the ids (rather than asking for "not yet erased" each time) keeps every batch as cheap as the first.
    """
    ids = (
        session.execute(
            select(col(Signature.id))
            .where(col(Signature.campaign_id) == campaign_id, col(Signature.id) > after_id)
            .order_by(col(Signature.id))
            .limit(batch)
        )
        .scalars()
        .all()
    )
    if not ids:
        return None
    anonymize_signatures(session=session, signature_ids=[i for i in ids if i is not None], now=now)
    return max(i for i in ids if i is not None)


def _erased_at(session: Session, campaign_id: int, now: datetime) -> int:
    stmt = select(func.count()).where(col(Signature.campaign_id) == campaign_id, col(Signature.erased_at) == now)
    return int(session.execute(stmt).scalar_one())


def run_retention(
    *, engine: Engine, apply: bool, days: int | None = None, batch: int = BATCH, now: datetime | None = None
) -> RetentionReport:
    """Report (``apply=False``) or do (``apply=True``) what retention asks for now. Idempotent."""
    days = get_settings().retention_days if days is None else days
    now = now or utcnow()
    with read_session(engine) as session:
        report = plan_retention(session=session, days=days, now=now)
    if not apply:
        return report
    done = []
    for due in report.campaigns:
        last_id: int | None = 0
        while last_id is not None:
            last_id = run_write(
                engine,
                lambda s, cid=due.campaign_id, after=last_id: _anonymize_batch(s, cid, after, batch, now),  # type: ignore[misc]  # mypy can't type a lambda with a default
            )
        with read_session(engine) as session:  # how many this run erased (others may have erased some meanwhile)
            total = _erased_at(session, due.campaign_id, now)
        if total:
            run_write(
                engine,
                lambda s, cid=due.campaign_id, n=total: audit.record(  # type: ignore[misc]  # mypy can't type a lambda with a default
                    session=s, actor=audit.CLI, action="retention.anonymize", campaign_id=cid, signatures=n, days=days
                ),
            )
        done.append(CampaignDue(due.campaign_id, due.slug, due.closed_at, total))
    spent = run_write(engine, lambda s: s.execute(delete(_TOKENS).where(_spent_links(now))).rowcount)  # type: ignore[attr-defined]  # SQLModel types execute() as Result; DML gives a CursorResult
    cutoff = report.cutoff
    proposals = 0
    if cutoff is not None:
        proposals = run_write(engine, lambda s: privacy.anonymize_decided(session=s, cutoff=cutoff))
        if proposals:
            run_write(
                engine,
                lambda s: audit.record(
                    session=s, actor=audit.CLI, action="retention.proposals", proposals=proposals, days=days
                ),
            )
    return RetentionReport(days, cutoff, tuple(done), int(spent or 0), applied=True, proposals=proposals)
