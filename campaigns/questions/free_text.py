"""Written answers: never public until an organizer approves them.

A written answer starts ``pending``; an organizer approves or hides it (and may change their mind). A signer
who rewrites their answer sends it back to ``pending``. Organizers see the text, the region and the day, never
a name or an email; the public sees approved texts with their region and day, and only when the organizer
chose to show the question's results. Decisions are audited, one entry per batch.

An organizer decides on the text they read: each decision carries the version they saw (a hash of the text,
``FreeTextForReview.version``) and applies only while the answer still says that. A signer who rewrote their
answer meanwhile gets it back to the queue; the organizer is told to review it again (:class:`AnswerChanged`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from campaigns.core import audit
from campaigns.core.audit import Actor
from campaigns.core.errors import InvalidInput, RallyError
from campaigns.core.models import Answer, Campaign, FreeTextStatus, Question
from campaigns.questions import asking
from campaigns.regions.lookup import resolve_scheme

PAGE_SIZE = 50
PUBLIC_LIMIT = 30
_ACTIONS = {FreeTextStatus.approved: "answer_text.approve", FreeTextStatus.hidden: "answer_text.hide"}


class AnswerChanged(RallyError):
    """A written answer changed (or went) since the organizer read it: nothing was decided."""

    def __init__(self) -> None:
        super().__init__("This answer changed since you read it: review it again.")


def text_version(text: str) -> str:
    """What identifies the words an organizer read (the answer's id stays the same when a signer rewrites it)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class FreeTextForReview:
    answer_id: int
    text: str
    region_name: str
    answered_at: datetime
    status: str

    @property
    def version(self) -> str:
        """Pass it back with a decision (``seen={answer_id: version}``): the decision applies to these words only."""
        return text_version(self.text)


@dataclass(frozen=True)
class PublicFreeText:
    text: str
    region_name: str
    answered_on: date


def _names(session: Session, question_id: int) -> dict[str, str]:
    scheme_id = session.execute(
        select(col(Campaign.region_scheme))
        .join(Question, col(Question.campaign_id) == Campaign.id)
        .where(col(Question.id) == question_id)
    ).scalar_one_or_none()
    if scheme_id is None:
        raise asking.QuestionNotFound()
    try:
        scheme = resolve_scheme(session=session, scheme_id=scheme_id)
    except RallyError:  # an uploaded scheme deleted since: the codes still say where
        return {}
    return {r.code: r.name for r in scheme.regions}


def count_free_text(*, session: Session, question_id: int, status: str = FreeTextStatus.pending.value) -> int:
    return int(
        session.execute(
            select(func.count()).where(
                col(Answer.question_id) == question_id,
                col(Answer.free_text).is_not(None),
                col(Answer.counted),  # a held signature's words wait with it
                col(Answer.free_text_status) == status,
            )
        ).scalar_one()
    )


def list_free_text(
    *, session: Session, question_id: int, status: str = FreeTextStatus.pending.value, limit: int = PAGE_SIZE
) -> list[FreeTextForReview]:
    """Written answers of one status (pending: the queue), oldest first, a page at a time."""
    names = _names(session, question_id)
    rows = session.execute(
        select(col(Answer.id), col(Answer.free_text), col(Answer.region_code), col(Answer.updated_at))
        .where(
            col(Answer.question_id) == question_id,
            col(Answer.free_text).is_not(None),
            col(Answer.counted),  # a held signature's words wait with it
            col(Answer.free_text_status) == status,
        )
        .order_by(col(Answer.answered_at), col(Answer.id))
        .limit(limit)
    ).all()
    return [
        FreeTextForReview(
            answer_id=int(aid), text=str(text), region_name=names.get(code, code), answered_at=at, status=status
        )
        for aid, text, code, at in rows
    ]


def _decide(session: Session, question_id: int, seen: Mapping[int, str], status: FreeTextStatus, actor: Actor) -> int:
    ids = sorted({int(i) for i in seen})
    if not ids:
        raise InvalidInput({"answers": "Choose at least one written answer first."})
    question = session.get(Question, question_id)
    if question is None:
        raise asking.QuestionNotFound()
    rows = session.execute(
        select(col(Answer.id), col(Answer.free_text), col(Answer.free_text_status))
        .where(col(Answer.question_id) == question_id, col(Answer.id).in_(ids))
        .with_for_update()
    ).all()
    current = {int(aid): (text, state) for aid, text, state in rows}
    for aid in ids:  # rewritten, erased or withdrawn since the organizer read it: they decide nothing unseen
        text = current.get(aid, (None, None))[0]
        if text is None or text_version(text) != seen[aid]:
            raise AnswerChanged()
    due = [aid for aid in ids if current[aid][1] != status.value]
    if not due:
        return 0
    changed = session.execute(  # type: ignore[attr-defined]  # SQLModel types execute() as Result; DML gives a CursorResult
        update(Answer)
        .where(col(Answer.question_id) == question_id, col(Answer.id).in_(due))
        .values(free_text_status=status.value)
    ).rowcount
    if changed:
        audit.record(
            session=session,
            actor=actor,
            action=_ACTIONS[status],
            campaign_id=question.campaign_id,
            question=question_id,
            answers=int(changed),
        )
    return int(changed or 0)


def approve_free_text(*, session: Session, question_id: int, seen: Mapping[int, str], actor: Actor) -> int:
    """Make these written answers public (with the results, when shown); returns how many changed.

    ``seen``: answer id -> the version the organizer read (``FreeTextForReview.version``); if any answer says
    something else now, nothing changes and :class:`AnswerChanged` says to review it again."""
    return _decide(session, question_id, seen, FreeTextStatus.approved, actor)


def hide_free_text(*, session: Session, question_id: int, seen: Mapping[int, str], actor: Actor) -> int:
    """Keep these written answers off the public page; returns how many changed (``seen``: as for approving)."""
    return _decide(session, question_id, seen, FreeTextStatus.hidden, actor)


def public_free_text(*, session: Session, question_id: int, limit: int = PUBLIC_LIMIT) -> list[PublicFreeText]:
    """Approved written answers, newest first, when the question's results are public (else none)."""
    question = session.get(Question, question_id)
    if question is None or not question.show_results_public:
        return []
    names = _names(session, question_id)
    rows = session.execute(
        select(col(Answer.free_text), col(Answer.region_code), col(Answer.updated_at))
        .where(
            col(Answer.question_id) == question_id,
            col(Answer.free_text).is_not(None),
            col(Answer.counted),  # a held signature's words wait with it
            col(Answer.free_text_status) == FreeTextStatus.approved.value,
        )
        .order_by(col(Answer.updated_at).desc(), col(Answer.id).desc())
        .limit(limit)
    ).all()
    return [PublicFreeText(text=str(t), region_name=names.get(c, c), answered_on=at.date()) for t, c, at in rows]
