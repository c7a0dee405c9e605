"""Supporters' "why I signed" comments: shown publicly only once an organizer approves them.

A comment starts ``pending``; an organizer approves it or hides it, and may hide an approved
one later or approve a hidden one. Moderation never touches counts: the signature stays
counted whatever happens to its comment. Organizers see the signer's first name only (for
context), never an email; the public sees the text, the region and the day, never a name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from campaigns.core import audit
from campaigns.core.audit import Actor
from campaigns.core.errors import NotFound, RallyError
from campaigns.core.models import Campaign, CommentStatus, Signature, SignatureStatus
from campaigns.regions.custom import resolve_scheme

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


@dataclass(frozen=True)
class PublicComment:
    """What the public sees of an approved comment: no name, no email."""

    comment: str
    region_name: str
    created_on: date


def first_name(full_name: str) -> str:
    words = full_name.split()
    return words[0] if words else ""


def _region_names(session: Session, scheme_id: str, codes: Iterable[str]) -> dict[str, str]:
    """Names of these region codes in a shipped or uploaded scheme; a code stands for itself if unknown."""
    wanted = set(codes)
    try:
        scheme = resolve_scheme(session, scheme_id) if wanted else None
    except RallyError:  # an uploaded scheme deleted since: the codes are still worth showing
        scheme = None
    return {code: scheme.get(code).name if scheme and scheme.has(code) else code for code in wanted}


def _scheme_of(session: Session, campaign_id: int) -> str:
    scheme_id = session.execute(
        select(col(Campaign.region_scheme)).where(col(Campaign.id) == campaign_id)
    ).scalar_one_or_none()
    if scheme_id is None:
        raise NotFound("We couldn't find that campaign. It may have been deleted.")
    return scheme_id


def list_comments_for_review(
    *, session: Session, campaign_id: int, status: str = CommentStatus.pending.value, limit: int = 100
) -> list[CommentForReview]:
    """A campaign's comments in one moderation status, oldest first."""
    status = CommentStatus(status).value
    scheme_id = _scheme_of(session, campaign_id)
    rows = session.execute(
        select(
            col(Signature.id),
            col(Signature.comment),
            col(Signature.full_name),
            col(Signature.region_code),
            col(Signature.created_at),
            col(Signature.comment_status),
        )
        .where(
            col(Signature.campaign_id) == campaign_id,
            col(Signature.comment_status) == status,
            col(Signature.comment).is_not(None),
        )
        .order_by(col(Signature.created_at), col(Signature.id))
        .limit(limit)
    ).all()
    names = _region_names(session, scheme_id, (row.region_code for row in rows))
    return [_for_review(row, names[row.region_code]) for row in rows]


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
            session,
            actor=actor,
            action=_ACTIONS[target],
            campaign_id=signature.campaign_id,
            signature_id=signature.id,
            previous=current.value,
        )
    names = _region_names(session, _scheme_of(session, signature.campaign_id), [signature.region_code])
    return _for_review(signature, names[signature.region_code])


def approve_comment(*, session: Session, signature_id: int, actor: Actor) -> CommentForReview:
    """Show a pending or hidden comment publicly (approving an approved one changes nothing)."""
    return _moderate(session, signature_id, CommentStatus.approved, actor)


def hide_comment(*, session: Session, signature_id: int, actor: Actor) -> CommentForReview:
    """Keep a pending or approved comment out of public view (hiding a hidden one changes nothing)."""
    return _moderate(session, signature_id, CommentStatus.hidden, actor)


def list_public_comments(*, session: Session, campaign_id: int, limit: int = 20) -> list[PublicComment]:
    """Approved comments of counted signatures, newest first: text, region name and day only."""
    scheme_id = _scheme_of(session, campaign_id)
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
    names = _region_names(session, scheme_id, (row.region_code for row in rows))
    return [
        PublicComment(comment=row.comment, region_name=names[row.region_code], created_on=row.created_at.date())
        for row in rows
    ]
