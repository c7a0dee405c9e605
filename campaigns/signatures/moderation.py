"""Supporters' "why I signed" comments: shown publicly only once an organizer approves them.

A comment starts ``pending``; an organizer approves it or hides it, and may hide an approved
one later or approve a hidden one. Moderation never touches counts: the signature stays
counted whatever happens to its comment. Organizers see the signer's first name only (for
context), never an email; the public sees the text, the region and the day, never a name.

At scale, organizers work through a queue (``CommentFilter``: a status, words, a region), counted
(``count_comments_for_review``) and read a page at a time (``list_comment_page``), and approve or hide many
at once (``approve_comments``, ``hide_comments``): the chosen ones, or every one the filter matches once the
organizer has confirmed how many that is. Each is one ``UPDATE`` in the caller's transaction and one audit entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, literal, select, update
from sqlmodel import Session, col

from campaigns.core import audit
from campaigns.core.audit import Actor
from campaigns.core.errors import InvalidInput, NotFound, RallyError
from campaigns.core.models import Campaign, CommentStatus, Signature, SignatureStatus
from campaigns.regions.lookup import resolve_scheme

# Every status may move to approved or hidden; the same status again is a no-op (a double click), not an error.
_ACTIONS = {CommentStatus.approved: "comment.approve", CommentStatus.hidden: "comment.hide"}


@dataclass(frozen=True)
class CommentForReview:
    """One comment as an organizer reviews it: no email, and only the signer's first name."""

    signature_id: int
    comment: str
    first_name: str
    region_code: str
    region_name: str
    created_at: datetime
    status: str
    featured: bool = False  # at the top of the campaign's wall (campaigns.signatures.wall)


@dataclass(frozen=True)
class PublicComment:
    """What the public sees of an approved comment: no name, no email."""

    comment: str
    region_name: str
    created_on: date


def first_name(full_name: str) -> str:
    words = full_name.split()
    return words[0] if words else ""


def region_names(session: Session, scheme_id: str, codes: Iterable[str]) -> dict[str, str]:
    """Names of these region codes in a shipped or uploaded scheme; a code stands for itself if unknown."""
    wanted = set(codes)
    try:
        scheme = resolve_scheme(session=session, scheme_id=scheme_id) if wanted else None
    except RallyError:  # an uploaded scheme deleted since: the codes are still worth showing
        scheme = None
    return {code: scheme.get(code).name if scheme and scheme.has(code) else code for code in wanted}


def scheme_of(session: Session, campaign_id: int) -> str:
    scheme_id = session.execute(
        select(col(Campaign.region_scheme)).where(col(Campaign.id) == campaign_id)
    ).scalar_one_or_none()
    if scheme_id is None:
        raise NotFound("We couldn't find that campaign. It may have been deleted.")
    return scheme_id


def list_comments_for_review(
    *, session: Session, campaign_id: int, status: str = CommentStatus.pending.value, limit: int = 100
) -> list[CommentForReview]:
    """A campaign's comments in one moderation status, oldest first (the first page of its queue)."""
    page = list_comment_page(session=session, comment_filter=CommentFilter(campaign_id, status), per_page=limit)
    return page.comments


def _for_review(row: Any, region_name: str) -> CommentForReview:
    """From a Signature, or a query row with the same column names."""
    return CommentForReview(
        signature_id=row.id,
        comment=row.comment,
        first_name=first_name(row.full_name),
        region_code=row.region_code,
        region_name=region_name,
        created_at=row.created_at,
        status=row.comment_status,
        featured=row.comment_featured_at is not None,
    )


def _moderate(session: Session, signature_id: int, target: CommentStatus, actor: Actor) -> CommentForReview:
    signature = session.get(Signature, signature_id, with_for_update=True)
    if signature is None:
        raise NotFound("We couldn't find that comment. It may have been deleted; reload the list.")
    if not signature.comment or signature.comment_status is None:
        raise RallyError("This signature has no comment, so there is nothing to approve or hide.")
    current = CommentStatus(signature.comment_status)
    if current != target:
        signature.comment_status = target.value
        session.add(signature)
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action=_ACTIONS[target],
            campaign_id=signature.campaign_id,
            signature_id=signature.id,
            previous=current.value,
        )
    names = region_names(session, scheme_of(session, signature.campaign_id), [signature.region_code])
    return _for_review(signature, names[signature.region_code])


def approve_comment(*, session: Session, signature_id: int, actor: Actor) -> CommentForReview:
    """Show a pending or hidden comment publicly (approving an approved one changes nothing)."""
    return _moderate(session, signature_id, CommentStatus.approved, actor)


def hide_comment(*, session: Session, signature_id: int, actor: Actor) -> CommentForReview:
    """Keep a pending or approved comment out of public view (hiding a hidden one changes nothing)."""
    return _moderate(session, signature_id, CommentStatus.hidden, actor)


def list_public_comments(*, session: Session, campaign_id: int, limit: int = 20) -> list[PublicComment]:
    """Approved comments of counted signatures, newest first: text, region name and day only."""
    scheme_id = scheme_of(session, campaign_id)
    rows = session.execute(
        select(col(Signature.comment), col(Signature.region_code), col(Signature.created_at))
        .where(
            col(Signature.campaign_id) == campaign_id,
            col(Signature.comment_status) == CommentStatus.approved.value,
            col(Signature.status) == SignatureStatus.counted.value,
            col(Signature.comment).is_not(None),
        )
        .order_by(col(Signature.created_at).desc(), col(Signature.id).desc())
        .limit(limit)
    ).all()
    names = region_names(session, scheme_id, (row.region_code for row in rows))
    return [
        PublicComment(comment=row.comment, region_name=names[row.region_code], created_on=row.created_at.date())
        for row in rows
    ]


# --- the queue: filtered, counted, paged, and decided in bulk ------------------------------------------

PER_PAGE = 50
PER_PAGE_MAX = 200
CHOSEN_MAX = 1_000  # comments chosen one by one for one action (a page shows at most PER_PAGE_MAX)
WORDS_MAX, WORD_MAX_CHARS = 10, 100
_S = Signature.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_STATUS_CHOICE = "Choose pending, approved or hidden comments."


@dataclass(frozen=True)
class CommentFilter:
    """Which of a campaign's comments the queue shows: those in one status, in one region (any when None),
    containing every word of ``words`` (in any letter case, anywhere in the text: "libr" finds "Library")."""

    campaign_id: int
    status: str = CommentStatus.pending.value
    words: str = ""
    region_code: str | None = None

    def describe(self) -> dict[str, Any]:
        """For the audit entry: what was chosen, in plain values."""
        return {"status": self.status, "words": " ".join(self.words.split()), "region_code": self.region_code}


@dataclass(frozen=True)
class CommentPage:
    total: int  # comments matching the filter
    page: int  # 1-based; a page past the end is read as the last one
    per_page: int
    comments: list[CommentForReview] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first(self) -> int:
        """The position of the page's first comment in the queue (1-based; 0 when empty)."""
        return (self.page - 1) * self.per_page + 1 if self.comments else 0


@dataclass(frozen=True)
class BulkOutcome:
    status: str  # what the comments are now: approved or hidden
    chosen: int  # comments chosen, or matching the filter
    changed: int  # those whose status changed (the others had it already)


def search_words(text: str) -> list[str]:
    """The words a comment must contain, lower-cased, each once."""
    words = text.replace("\x00", "").split()
    if len(words) > WORDS_MAX:
        raise InvalidInput({"words": f"Search for at most {WORDS_MAX} words at once."})
    if any(len(word) > WORD_MAX_CHARS for word in words):
        raise InvalidInput({"words": f"A word to search for can be at most {WORD_MAX_CHARS} characters long."})
    return list(dict.fromkeys(word.lower() for word in words))


def _contains(dialect: str, word: str) -> Any:
    """The comment contains ``word`` in any letter case; ``%``, ``_`` and ``\\`` in it are literal.

    PostgreSQL's ILIKE folds Unicode; on SQLite, whose LIKE folds ASCII only, ``rally_lower`` (a Python function
    ``core/db.py`` registers on each connection) folds the text. Either scans only the rows the queue's index
    gives (one campaign's comments): no text index is needed for a queue of tens of thousands."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if dialect == "postgresql":
        return _S.c.comment.ilike(f"%{escaped}%", escape="\\")
    return func.rally_lower(_S.c.comment).like(literal(f"%{escaped}%"), escape="\\")


def filter_conditions(session: Session, comment_filter: CommentFilter) -> list[Any]:
    try:
        status = CommentStatus(comment_filter.status).value
    except ValueError:
        raise InvalidInput({"status": _STATUS_CHOICE}) from None
    where = [
        _S.c.campaign_id == comment_filter.campaign_id,
        _S.c.comment_status == status,
        _S.c.comment.is_not(None),  # the queue's index holds these rows only (ix_signature_comment_queue)
    ]
    if comment_filter.region_code:
        where.append(_S.c.region_code == comment_filter.region_code)
    dialect = session.get_bind().dialect.name
    return where + [_contains(dialect, word) for word in search_words(comment_filter.words)]


def count_comments_for_review(*, session: Session, comment_filter: CommentFilter) -> int:
    """How many comments the filter matches."""
    where = filter_conditions(session, comment_filter)
    return int(session.execute(select(func.count()).select_from(_S).where(*where)).scalar_one())


def count_comments_by_region(
    *, session: Session, campaign_id: int, status: str, keep: str | None = None
) -> list[tuple[str, str, int]]:
    """(code, name, comments) of each region with comments in this status, most comments first; the region
    ``keep`` too, with 0 if it has none (a filter the organizer chose stays on the list once it is done)."""
    where = filter_conditions(session, CommentFilter(campaign_id, status))
    counts = {
        code: int(n)
        for code, n in session.execute(select(_S.c.region_code, func.count()).where(*where).group_by(_S.c.region_code))
    }
    if keep:
        counts.setdefault(keep, 0)
    names = region_names(session, scheme_of(session, campaign_id), counts)
    return sorted(((code, names[code], n) for code, n in counts.items()), key=lambda r: (-r[2], r[1]))


QUEUE_INDEX = "ix_signature_comment_queue"  # (campaign_id, created_at, id) WHERE comment IS NOT NULL


def page_statement(comment_filter_where: list[Any], offset: int, limit: int) -> Select[Any]:
    """One page of the queue, oldest first: the statement the page runs (its plan is checked in the tests)."""
    return (
        select(
            _S.c.id,
            _S.c.comment,
            _S.c.full_name,
            _S.c.region_code,
            _S.c.created_at,
            _S.c.comment_status,
            _S.c.comment_featured_at,
        )
        .where(*comment_filter_where)
        .order_by(_S.c.created_at, _S.c.id)  # oldest first; the id breaks ties, so pages never overlap
        .offset(offset)
        .limit(limit)
    )


def _page_rows(session: Session, where: list[Any], offset: int, limit: int) -> list[Any]:
    return list(session.execute(page_statement(where, offset, limit)).all())


def list_comment_page(
    *, session: Session, comment_filter: CommentFilter, page: int = 1, per_page: int = PER_PAGE
) -> CommentPage:
    """One page of the comments the filter matches, oldest first, with how many match in all."""
    if not 1 <= per_page <= PER_PAGE_MAX:
        raise InvalidInput({"per_page": f"Show between 1 and {PER_PAGE_MAX} comments a page."})
    scheme_id = scheme_of(session, comment_filter.campaign_id)
    where = filter_conditions(session, comment_filter)
    total = int(session.execute(select(func.count()).select_from(_S).where(*where)).scalar_one())
    page = min(max(1, page), max(1, -(-total // per_page)))
    rows = _page_rows(session, where, (page - 1) * per_page, per_page) if total else []
    names = region_names(session, scheme_id, (row.region_code for row in rows))
    return CommentPage(total, page, per_page, [_for_review(row, names[row.region_code]) for row in rows])


def _decide(
    session: Session,
    campaign_id: int,
    target: CommentStatus,
    actor: Actor,
    signature_ids: Sequence[int] | None,
    matching: CommentFilter | None,
    expected: int | None,
) -> BulkOutcome:
    if (signature_ids is None) == (matching is None):
        raise InvalidInput({"comments": "Choose some comments, or every comment the filter matches."})
    if matching is not None:
        if matching.campaign_id != campaign_id:
            raise InvalidInput({"comments": "That filter is another campaign's: reload the list."})
        if expected is None:
            raise InvalidInput({"expected": "Confirm how many comments this changes."})
        where = filter_conditions(session, matching)
        if matching.status == target.value:  # approving approved ones: nothing to change, as one at a time
            matched = int(session.execute(select(func.count()).select_from(_S).where(*where)).scalar_one())
            changed = 0
        else:
            changed = matched = int(
                session.execute(update(_S).where(*where).values(comment_status=target.value)).rowcount or 0  # type: ignore[attr-defined]  # SQLModel types execute() as Result; DML gives a CursorResult
            )
        if matched != expected:  # raising undoes the UPDATE: the transaction rolls back
            raise RallyError(
                f"The list changed since you looked: {matched:,} comments match now, not {expected:,}. "
                "Look at them again, then confirm."
            )
        detail: dict[str, Any] = {"filter": matching.describe(), "matched": matched}
        chosen = matched
    else:
        ids = sorted({int(i) for i in signature_ids or ()})
        if not ids:
            raise InvalidInput({"comments": "Choose at least one comment."})
        if len(ids) > CHOSEN_MAX:
            raise InvalidInput({"comments": f"Choose at most {CHOSEN_MAX:,} comments at once, or all that match."})
        found = session.execute(
            select(func.count())
            .select_from(_S)
            .where(_S.c.id.in_(ids), _S.c.campaign_id == campaign_id, _S.c.comment_status.is_not(None))
        ).scalar_one()
        if found != len(ids):
            raise NotFound(
                f"{len(ids) - found:,} of the {len(ids):,} chosen comments are not this campaign's, or are gone. "
                "Reload the list and choose again."
            )
        changed = int(
            session.execute(
                update(_S)
                .where(_S.c.id.in_(ids), _S.c.campaign_id == campaign_id, _S.c.comment_status != target.value)
                .values(comment_status=target.value)
            ).rowcount  # type: ignore[attr-defined]  # SQLModel types execute() as Result; DML gives a CursorResult
            or 0
        )
        detail = {"signature_ids": ids}
        chosen = len(ids)
    if changed:
        audit.record(
            session=session, actor=actor, action=_ACTIONS[target], campaign_id=campaign_id, changed=changed, **detail
        )
    return BulkOutcome(target.value, chosen, changed)


def approve_comments(
    *,
    session: Session,
    campaign_id: int,
    actor: Actor,
    signature_ids: Sequence[int] | None = None,
    matching: CommentFilter | None = None,
    expected: int | None = None,
) -> BulkOutcome:
    """Show many comments publicly in one statement: the chosen ``signature_ids`` (all of this campaign's), or
    every comment ``matching`` matches when that is still ``expected`` many (else nothing changes)."""
    return _decide(session, campaign_id, CommentStatus.approved, actor, signature_ids, matching, expected)


def hide_comments(
    *,
    session: Session,
    campaign_id: int,
    actor: Actor,
    signature_ids: Sequence[int] | None = None,
    matching: CommentFilter | None = None,
    expected: int | None = None,
) -> BulkOutcome:
    """Keep many comments out of public view in one statement (chosen as for ``approve_comments``)."""
    return _decide(session, campaign_id, CommentStatus.hidden, actor, signature_ids, matching, expected)
