"""The campaign page's wall of "why I signed" comments: approved comments of counted signatures, the few an
organizer featured first, then the others newest first, a page at a time.

Pages are read by keyset on (created_at, id), backwards along ``ix_signature_comment_queue``: the hundredth page
costs what the first does. Each comment shows its text and day; the signer's first name and region only when they
ticked "Show my first name and region with my comment" (``comment_credit``), featured or not. Featuring is an
organizer's choice (audited), for approved comments only, at most ``FEATURED_MAX`` a campaign.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlmodel import Session

from campaigns.core import audit
from campaigns.core.audit import Actor
from campaigns.core.errors import InvalidInput, NotFound, RallyError
from campaigns.core.models import Campaign, CommentStatus, Signature, SignatureStatus, utcnow
from campaigns.signatures.moderation import first_name, region_names, scheme_of

PER_PAGE = 10
PER_PAGE_MAX = 50
FEATURED_MAX = 3
_S = Signature.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it


@dataclass(frozen=True)
class WallComment:
    """One comment on the wall: text and day; ``first_name`` and ``region_name`` only when the signer agreed."""

    comment: str
    created_on: date
    first_name: str | None
    region_name: str | None
    featured: bool

    @property
    def credit(self) -> str:
        """ "Ada · Berlin" when the signer agreed to be named, else "" (the page then shows the day alone)."""
        return " · ".join(part for part in (self.first_name, self.region_name) if part)


@dataclass(frozen=True)
class WallCursor:
    """Where the next (older) page starts: after the comment written at ``created_at`` with ``signature_id``."""

    created_at: datetime
    signature_id: int


@dataclass(frozen=True)
class WallPage:
    featured: list[WallComment]  # on the first page only
    comments: list[WallComment]  # newest first, the featured ones left out (on every page)
    older: WallCursor | None  # None: this is the last page


def _shown() -> list[Any]:
    """What the wall shows: approved comments of counted signatures."""
    return [
        _S.c.comment.is_not(None),  # with campaign_id and created_at: the queue's index
        _S.c.comment_status == CommentStatus.approved.value,
        _S.c.status == SignatureStatus.counted.value,
    ]


_COLUMNS = (_S.c.id, _S.c.comment, _S.c.full_name, _S.c.region_code, _S.c.created_at, _S.c.comment_credit)


def _items(session: Session, campaign_id: int, rows: list[Any], featured: bool) -> list[WallComment]:
    credited = [row.region_code for row in rows if row.comment_credit]
    names = region_names(session, scheme_of(session, campaign_id), credited) if credited else {}
    return [
        WallComment(
            comment=row.comment,
            created_on=row.created_at.date(),
            first_name=(first_name(row.full_name) or None) if row.comment_credit else None,
            region_name=names.get(row.region_code) if row.comment_credit else None,
            featured=featured,
        )
        for row in rows
    ]


def read_wall(
    *, session: Session, campaign_id: int, older_than: WallCursor | None = None, per_page: int = PER_PAGE
) -> WallPage:
    """One page of the wall: the featured comments (first page only), then ``per_page`` others newest first,
    starting after ``older_than`` (the previous page's ``older``)."""
    if not 1 <= per_page <= PER_PAGE_MAX:
        raise InvalidInput({"per_page": f"Show between 1 and {PER_PAGE_MAX} comments a page."})
    scheme_of(session, campaign_id)  # an unknown campaign: NotFound
    featured_rows = list(  # left out of every page below, so a featured comment shows once
        session.execute(
            select(*_COLUMNS)
            .where(_S.c.campaign_id == campaign_id, _S.c.comment_featured_at.is_not(None), *_shown())
            .order_by(_S.c.comment_featured_at.desc(), _S.c.id.desc())
            .limit(FEATURED_MAX)
        ).all()
    )
    where = [_S.c.campaign_id == campaign_id, *_shown()]
    if featured_rows:
        where.append(_S.c.id.not_in([row.id for row in featured_rows]))
    if older_than is not None:
        # a row-value comparison, so the index on (campaign, created_at, id) bounds the scan (an OR of the two
        # conditions is only a filter on PostgreSQL: each older page read and dropped every newer row)
        where.append(tuple_(_S.c.created_at, _S.c.id) < tuple_(older_than.created_at, older_than.signature_id))
    rows = list(
        session.execute(
            select(*_COLUMNS).where(*where).order_by(_S.c.created_at.desc(), _S.c.id.desc()).limit(per_page + 1)
        ).all()
    )
    more = len(rows) > per_page
    rows = rows[:per_page]
    older = WallCursor(rows[-1].created_at, rows[-1].id) if more else None
    return WallPage(
        featured=_items(session, campaign_id, featured_rows, True) if older_than is None else [],
        comments=_items(session, campaign_id, rows, False),
        older=older,
    )


def count_featured(*, session: Session, campaign_id: int) -> int:
    """How many of the campaign's comments are featured and shown (approved, counted)."""
    where = [_S.c.campaign_id == campaign_id, _S.c.comment_featured_at.is_not(None), *_shown()]
    return int(session.execute(select(func.count()).select_from(_S).where(*where)).scalar_one())


def _signature(session: Session, signature_id: int) -> Signature:
    signature = session.get(Signature, signature_id, with_for_update=True)
    if signature is None or not signature.comment:
        raise NotFound("We couldn't find that comment. It may have been deleted; reload the list.")
    return signature


def feature_comment(*, session: Session, signature_id: int, actor: Actor, now: datetime | None = None) -> Signature:
    """Put an approved comment at the top of its campaign's wall (at most ``FEATURED_MAX``: unfeature one first)."""
    now = now or utcnow()
    signature = _signature(session, signature_id)
    if signature.comment_status != CommentStatus.approved.value:
        raise RallyError("Only approved comments can be featured: approve this one first.")
    if signature.comment_featured_at is not None:
        return signature
    # one featuring at a time per campaign (PostgreSQL), so two organizers can't pass the limit together
    session.get(Campaign, signature.campaign_id, with_for_update=True)
    if count_featured(session=session, campaign_id=signature.campaign_id) >= FEATURED_MAX:
        raise RallyError(
            f"The wall already features {FEATURED_MAX} comments, the most it shows: unfeature one, then feature this."
        )
    signature.comment_featured_at = now
    session.add(signature)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="comment.feature",
        campaign_id=signature.campaign_id,
        at=now,
        signature_id=signature.id,
    )
    return signature


def unfeature_comment(*, session: Session, signature_id: int, actor: Actor) -> Signature:
    """Take a comment off the top of the wall (it stays on the wall, in its place by date, while approved)."""
    signature = _signature(session, signature_id)
    if signature.comment_featured_at is None:
        return signature
    signature.comment_featured_at = None
    session.add(signature)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="comment.unfeature",
        campaign_id=signature.campaign_id,
        signature_id=signature.id,
    )
    return signature
