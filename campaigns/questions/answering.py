"""Answering: one answer per signature and question, replaced by a later one until the question closes.

``answer`` checks everything first (the question open, the option one of its own, the signature counted and
the question's campaign's), then writes with ``INSERT ... ON CONFLICT DO NOTHING`` on (question, signature);
an answer already there is updated instead, and the counts move from the old option to the new one exactly,
in the same transaction (``tally``). The signature's row is locked first (PostgreSQL), so two answers of one
signer at once, or an answer and a withdrawal, take turns; SQLite has one writer at a time already.

Callers prove who is answering (an emailed link, the receipt, the session that just signed): nothing here
takes an email address.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlmodel import Session, col

from campaigns.core.db import insert_for
from campaigns.core.errors import InvalidInput, NotFound, RallyError
from campaigns.core.models import Answer, FreeTextStatus, Question, QuestionOption, Signature, SignatureStatus, utcnow
from campaigns.core.validation import clean_text
from campaigns.questions import asking, tally

FREE_TEXT_MAX = 1000
_ANSWERS = Answer.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it
_SIGNATURES = Signature.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models but does not declare it


class AnswerRefused(RallyError):
    """This answer can't be taken (the question closed, the signature no longer counts); the message says why."""


@dataclass(frozen=True)
class AnswerResult:
    question_id: int
    option_id: int
    replaced: bool  # an earlier answer of this signature was replaced


@dataclass(frozen=True)
class MyAnswer:
    """What a signer who proved their mailbox sees of their own answer."""

    option_id: int
    free_text: str | None
    free_text_status: str | None
    updated_at: datetime


def clean_free_text(raw: str | None, *, allowed: bool) -> str | None:
    """A written answer, cleaned (None when blank); refused when the question takes none or it is too long."""
    value = clean_text(raw or "", field="free_text", limit=FREE_TEXT_MAX, newlines=True)
    if not value:
        return None
    if not allowed:
        raise InvalidInput({"free_text": "This question takes no written answer: choose an option only."})
    return value


_MAY_ANSWER = (SignatureStatus.counted.value, SignatureStatus.flagged.value)


def _refusal(status: str) -> AnswerRefused:
    if status == SignatureStatus.withdrawn.value:
        return AnswerRefused("This signature was withdrawn, so it can't answer. Sign again to have your say.")
    if status == SignatureStatus.pending.value:
        return AnswerRefused("Confirm your signature first (open the link we emailed you), then answer.")
    return AnswerRefused("This signature can't answer this question.")


def _lock_signature(session: Session, signature_id: int) -> tuple[int, str, str, bool] | None:
    row = session.execute(
        select(_SIGNATURES.c.campaign_id, _SIGNATURES.c.region_code, _SIGNATURES.c.status, _SIGNATURES.c.erased_at)
        .where(_SIGNATURES.c.id == signature_id)
        .with_for_update()
    ).first()
    if row is None:
        return None
    return int(row.campaign_id), str(row.region_code), str(row.status), row.erased_at is not None


def answer(
    *,
    session: Session,
    question_id: int,
    signature_id: int,
    option_id: int | None,
    free_text: str | None = None,
    now: datetime | None = None,
) -> AnswerResult:
    """Store this signature's answer (or replace its earlier one) and move the counts, in one transaction."""
    now = now or utcnow()
    question = session.get(Question, question_id)
    if question is None:
        raise asking.QuestionNotFound()
    if not asking.is_open(question, now):
        raise AnswerRefused(
            f"This question closed on {question.closes_at:%-d %b %Y at %H:%M} UTC: answers are no longer taken."
        )
    text = clean_free_text(free_text, allowed=question.allow_free_text)
    if option_id is None:
        raise InvalidInput({"option": "Choose one of the options."})
    owner = session.execute(
        select(col(QuestionOption.question_id)).where(col(QuestionOption.id) == option_id)
    ).scalar_one_or_none()
    if owner != question_id:
        raise InvalidInput({"option": "That option belongs to another question: choose one of this question's."})
    signature = _lock_signature(session, signature_id)
    if signature is None or signature[0] != question.campaign_id:
        raise NotFound("We couldn't find your signature on this question's campaign. Check the link.")
    _, region_code, status, erased = signature
    if erased or status not in _MAY_ANSWER:
        raise _refusal(status)
    counts = status == SignatureStatus.counted.value  # a held one's answer is kept, uncounted, and it is told nothing
    text_status = FreeTextStatus.pending.value if text else None
    inserted = session.execute(
        insert_for(session.connection().dialect.name, _ANSWERS)
        .values(
            question_id=question_id,
            signature_id=signature_id,
            option_id=option_id,
            region_code=region_code,
            free_text=text,
            free_text_status=text_status,
            counted=counts,
            answered_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["question_id", "signature_id"])
        .returning(_ANSWERS.c.id)
    ).first()
    if inserted is not None:
        if counts:
            tally.change_counts(
                session=session, question_id=question_id, region_code=region_code, changes=[(option_id, 1)]
            )
        return AnswerResult(question_id=question_id, option_id=option_id, replaced=False)
    before = session.execute(
        select(
            _ANSWERS.c.id,
            _ANSWERS.c.option_id,
            _ANSWERS.c.region_code,
            _ANSWERS.c.free_text,
            _ANSWERS.c.free_text_status,
            _ANSWERS.c.counted,
        )
        .where(_ANSWERS.c.question_id == question_id, _ANSWERS.c.signature_id == signature_id)
        .with_for_update()
    ).one()
    if text == before.free_text:
        text_status = before.free_text_status  # the same words keep their moderation
    session.execute(
        update(_ANSWERS)
        .where(_ANSWERS.c.id == before.id)
        .values(option_id=option_id, free_text=text, free_text_status=text_status, updated_at=now)
    )
    if before.counted and before.option_id != option_id:
        tally.change_counts(
            session=session,
            question_id=question_id,
            region_code=str(before.region_code),
            changes=[(int(before.option_id), -1), (option_id, 1)],
        )
    return AnswerResult(question_id=question_id, option_id=option_id, replaced=True)


def get_my_answer(*, session: Session, question_id: int, signature_id: int) -> MyAnswer | None:
    """This signature's answer to the question, if it gave one (for the signer only: they proved the mailbox).

    None for an erased signature: its chosen option stays counted, anonymously, but is nobody's answer any more."""
    row = session.execute(
        select(_ANSWERS.c.option_id, _ANSWERS.c.free_text, _ANSWERS.c.free_text_status, _ANSWERS.c.updated_at)
        .join(_SIGNATURES, _SIGNATURES.c.id == _ANSWERS.c.signature_id)
        .where(
            _ANSWERS.c.question_id == question_id,
            _ANSWERS.c.signature_id == signature_id,
            _SIGNATURES.c.erased_at.is_(None),
        )
    ).first()
    if row is None:
        return None
    return MyAnswer(
        option_id=int(row.option_id),
        free_text=row.free_text,
        free_text_status=row.free_text_status,
        updated_at=row.updated_at,
    )


@dataclass(frozen=True)
class HeldAnswer:
    """One answer as its signer's data shows it: the question, the option chosen, the written answer."""

    signature_id: int
    question: str
    option: str
    free_text: str | None
    free_text_status: str | None
    answered_at: datetime
    updated_at: datetime


def answers_of(*, session: Session, signature_ids: Sequence[int]) -> list[HeldAnswer]:
    """These signatures' answers, oldest question first (for "your data": the caller proved the signatures)."""
    if not signature_ids:
        return []
    rows = session.execute(
        select(
            _ANSWERS.c.signature_id,
            col(Question.prompt),
            col(QuestionOption.label),
            _ANSWERS.c.free_text,
            _ANSWERS.c.free_text_status,
            _ANSWERS.c.answered_at,
            _ANSWERS.c.updated_at,
        )
        .join(Question, col(Question.id) == _ANSWERS.c.question_id)
        .join(QuestionOption, col(QuestionOption.id) == _ANSWERS.c.option_id)
        .where(_ANSWERS.c.signature_id.in_(list(signature_ids)))
        .order_by(col(Question.created_at), col(Question.id))
    ).all()
    return [
        HeldAnswer(
            signature_id=int(sid),
            question=str(prompt),
            option=str(label),
            free_text=text,
            free_text_status=status,
            answered_at=answered,
            updated_at=updated,
        )
        for sid, prompt, label, text, status, answered, updated in rows
    ]


def answerable_question(
    *, session: Session, signature_id: int, now: datetime | None = None
) -> asking.QuestionView | None:
    """The open question a signature may answer now: its campaign's newest open one, when the signature counts or
    is held by flood control (offered alike, so a held signer is told nothing; its answer waits, uncounted)."""
    row = session.execute(
        select(_SIGNATURES.c.campaign_id, _SIGNATURES.c.status, _SIGNATURES.c.erased_at).where(
            _SIGNATURES.c.id == signature_id
        )
    ).first()
    if row is None or row.erased_at is not None or row.status not in _MAY_ANSWER:
        return None
    return asking.open_question(session=session, campaign_id=int(row.campaign_id), now=now)


def withdraw_answers(*, session: Session, signature_ids: list[int]) -> int:
    """Take these signatures' answers out of the results and delete them (a withdrawal, an invalidation), in the
    caller's transaction; returns how many there were. For the lead to call where signatures stop counting."""
    if not signature_ids:
        return 0
    rows = session.execute(
        select(_ANSWERS.c.id, _ANSWERS.c.question_id, _ANSWERS.c.option_id, _ANSWERS.c.region_code, _ANSWERS.c.counted)
        .where(_ANSWERS.c.signature_id.in_(signature_ids))
        .order_by(_ANSWERS.c.question_id, _ANSWERS.c.id)
        .with_for_update()
    ).all()
    for row in (r for r in rows if r.counted):  # a held answer was in no count
        tally.change_counts(
            session=session,
            question_id=int(row.question_id),
            region_code=str(row.region_code),
            changes=[(int(row.option_id), -1)],
        )
    if rows:
        session.execute(delete(_ANSWERS).where(_ANSWERS.c.id.in_([r.id for r in rows])))
    return len(rows)


def count_held_answers(*, session: Session, signature_ids: Sequence[int]) -> int:
    """These signatures now count (a review validated them, or one confirmed): their held answers join the
    results, in the caller's transaction; returns how many did."""
    if not signature_ids:
        return 0
    rows = session.execute(
        update(_ANSWERS)
        .where(_ANSWERS.c.signature_id.in_(list(signature_ids)), _ANSWERS.c.counted.is_(False))
        .values(counted=True)
        .returning(_ANSWERS.c.question_id, _ANSWERS.c.option_id, _ANSWERS.c.region_code)
    ).all()
    for row in sorted(rows, key=lambda r: (int(r.question_id), str(r.region_code), int(r.option_id))):
        tally.change_counts(
            session=session,
            question_id=int(row.question_id),
            region_code=str(row.region_code),
            changes=[(int(row.option_id), 1)],
        )
    return len(rows)


def erase_free_text(*, session: Session, signature_ids: list[int]) -> int:
    """Erase these signatures' written answers (personal data); their chosen options stay counted, anonymous."""
    if not signature_ids:
        return 0
    done = session.execute(  # type: ignore[attr-defined]  # SQLModel types execute() as Result; DML gives a CursorResult
        update(_ANSWERS)
        .where(_ANSWERS.c.signature_id.in_(signature_ids), _ANSWERS.c.free_text.is_not(None))
        .values(free_text=None, free_text_status=None)
    ).rowcount
    return int(done or 0)
