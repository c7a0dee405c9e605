"""Asking a question: an organizer gives a prompt, two to six distinct options, whether a free-text answer is
welcome, a closing time in the future and whether the results are public; and may close it early.

Each question is checked whole before anything is stored, and each problem has its own message under its own
field (``prompt``, ``options``, ``closes_at``). Asking and closing are audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select, update
from sqlmodel import Session, col

from campaigns.catalog import listing
from campaigns.core import audit
from campaigns.core.audit import Actor
from campaigns.core.errors import InvalidInput, NotFound, RallyError
from campaigns.core.models import Campaign, Question, QuestionOption, QuestionStatus, utcnow
from campaigns.core.validation import clean_text

MIN_OPTIONS = 2
MAX_OPTIONS = 6
PROMPT_MAX = 300
OPTION_MAX = 120


class QuestionNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("We couldn't find that question. It may have been deleted with its campaign.")


@dataclass(frozen=True)
class QuestionView:
    """A question as pages show it: plain values, its options in order as (id, label)."""

    id: int
    campaign_id: int
    prompt: str
    options: tuple[tuple[int, str], ...]
    allow_free_text: bool
    show_results_public: bool
    closes_at: datetime
    is_open: bool
    created_at: datetime

    def label_of(self, option_id: int) -> str:
        return dict(self.options).get(option_id, "")


class HasClosing(Protocol):
    status: str
    closes_at: datetime


def is_open(question: HasClosing, now: datetime | None = None) -> bool:
    """The one rule: a question takes answers while it is open and its closing time has not come."""
    return question.status == QuestionStatus.open.value and (now or utcnow()) < question.closes_at


def check_question(
    *, prompt: str, options: list[str], closes_at: datetime | None, now: datetime
) -> tuple[str, list[str], datetime]:
    """The cleaned prompt, options and closing time; ``InvalidInput`` naming every field that is wrong."""
    errors: dict[str, str] = {}
    cleaned_prompt = ""
    try:
        cleaned_prompt = clean_text(prompt or "", field="prompt", limit=PROMPT_MAX, required=True)
    except InvalidInput as exc:
        errors.update(exc.errors)
    cleaned: list[str] = []
    try:
        cleaned = [clean_text(o or "", field="option", limit=OPTION_MAX) for o in options]
    except InvalidInput as exc:
        errors["options"] = exc.user_message
    cleaned = [o for o in cleaned if o]  # blank lines of the form are not options
    if "options" not in errors:
        if len(cleaned) < MIN_OPTIONS:
            errors["options"] = f"Give at least {MIN_OPTIONS} options (this question has {len(cleaned)})."
        elif len(cleaned) > MAX_OPTIONS:
            errors["options"] = f"Give at most {MAX_OPTIONS} options (this question has {len(cleaned)})."
        elif len({o.casefold() for o in cleaned}) != len(cleaned):
            errors["options"] = "Two options say the same thing: make each option different."
    if closes_at is None:
        errors["closes_at"] = "Choose when the question closes."
    elif closes_at.tzinfo is None:
        raise ValueError("closes_at must be timezone-aware")
    elif closes_at <= now:
        errors["closes_at"] = "The closing time has already passed: choose a time in the future."
    if errors:
        raise InvalidInput(errors)
    assert closes_at is not None
    return cleaned_prompt, cleaned, closes_at


def ask_question(
    *,
    session: Session,
    campaign_id: int,
    prompt: str,
    options: list[str],
    closes_at: datetime | None,
    allow_free_text: bool = False,
    show_results_public: bool = False,
    actor: Actor,
    now: datetime | None = None,
) -> QuestionView:
    """Store a new question for the campaign's signers (checked whole first), audited."""
    now = now or utcnow()
    cleaned_prompt, cleaned, closes = check_question(prompt=prompt, options=options, closes_at=closes_at, now=now)
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound("We couldn't find that campaign. It may have been deleted.")
    if campaign.status == "archived":
        raise RallyError("This campaign is archived: its signers can't be asked anything any more.")
    question = Question(
        campaign_id=campaign_id,
        prompt=cleaned_prompt,
        allow_free_text=allow_free_text,
        show_results_public=show_results_public,
        closes_at=closes,
        created_by=actor.user_id,
        created_at=now,
    )
    session.add(question)
    session.flush()
    assert question.id is not None
    session.add_all(QuestionOption(question_id=question.id, position=i, label=o) for i, o in enumerate(cleaned))
    session.flush()
    audit.record(session=session, actor=actor, action="question.ask", campaign_id=campaign_id, question=question.id)
    return get_question(session=session, question_id=question.id, now=now)


def _view(question: Question, options: list[tuple[int, str]], now: datetime) -> QuestionView:
    assert question.id is not None
    return QuestionView(
        id=question.id,
        campaign_id=question.campaign_id,
        prompt=question.prompt,
        options=tuple(options),
        allow_free_text=question.allow_free_text,
        show_results_public=question.show_results_public,
        closes_at=question.closes_at,
        is_open=is_open(question, now),
        created_at=question.created_at,
    )


def _options(session: Session, question_ids: list[int]) -> dict[int, list[tuple[int, str]]]:
    found: dict[int, list[tuple[int, str]]] = {qid: [] for qid in question_ids}
    if question_ids:
        rows = session.execute(
            select(col(QuestionOption.question_id), col(QuestionOption.id), col(QuestionOption.label))
            .where(col(QuestionOption.question_id).in_(question_ids))
            .order_by(col(QuestionOption.question_id), col(QuestionOption.position))
        ).all()
        for qid, oid, label in rows:
            found[int(qid)].append((int(oid), str(label)))
    return found


def get_question(*, session: Session, question_id: int, now: datetime | None = None) -> QuestionView:
    question = session.get(Question, question_id)
    if question is None:
        raise QuestionNotFound()
    return _view(question, _options(session, [question_id])[question_id], now or utcnow())


@dataclass(frozen=True)
class AskedBy:
    """Which campaign asks a question, as its pages name it."""

    title: str
    slug: str
    public: bool  # its page can be linked (published, or closed and still shown)


def asked_by(*, session: Session, question: QuestionView) -> AskedBy:
    campaign = session.get(Campaign, question.campaign_id)
    if campaign is None:
        raise QuestionNotFound()
    return AskedBy(title=campaign.title, slug=campaign.slug, public=listing.is_public(campaign))


def list_questions(*, session: Session, campaign_id: int, now: datetime | None = None) -> list[QuestionView]:
    """A campaign's questions, newest first."""
    now = now or utcnow()
    rows = list(
        session.execute(
            select(Question)
            .where(col(Question.campaign_id) == campaign_id)
            .order_by(col(Question.created_at).desc(), col(Question.id).desc())
        ).scalars()
    )
    options = _options(session, [q.id for q in rows if q.id is not None])
    return [_view(q, options[q.id], now) for q in rows if q.id is not None]


def open_question(*, session: Session, campaign_id: int, now: datetime | None = None) -> QuestionView | None:
    """The campaign's newest question still taking answers (None when there is none)."""
    return next((q for q in list_questions(session=session, campaign_id=campaign_id, now=now) if q.is_open), None)


def public_question(*, session: Session, slug: str, now: datetime | None = None) -> QuestionView | None:
    """The newest question of a public campaign whose organizer chose to show its results (None when none)."""
    campaign = listing.get_campaign_by_slug(session=session, slug=slug)
    if campaign is None or campaign.id is None or not listing.is_public(campaign):
        return None
    shown = (q for q in list_questions(session=session, campaign_id=campaign.id, now=now) if q.show_results_public)
    return next(shown, None)


def close_question(*, session: Session, question_id: int, actor: Actor, now: datetime | None = None) -> QuestionView:
    """Close a question before its time (closing a closed one again changes nothing), audited."""
    now = now or utcnow()
    question = session.get(Question, question_id)
    if question is None:
        raise QuestionNotFound()
    changed = session.execute(  # type: ignore[attr-defined]  # SQLModel types execute() as Result; DML gives a CursorResult
        update(Question)
        .where(col(Question.id) == question_id, col(Question.status) == QuestionStatus.open.value)
        .values(status=QuestionStatus.closed.value, closed_at=now)
    ).rowcount
    if changed:
        audit.record(
            session=session,
            actor=actor,
            action="question.close",
            campaign_id=question.campaign_id,
            question=question_id,
        )
    session.expire(question)
    return get_question(session=session, question_id=question_id, now=now)


def set_results_public(
    *, session: Session, question_id: int, public: bool, actor: Actor, now: datetime | None = None
) -> QuestionView:
    """Show (or stop showing) a question's results and approved free-text answers on the public page."""
    question = session.get(Question, question_id)
    if question is None:
        raise QuestionNotFound()
    if question.show_results_public != public:
        question.show_results_public = public
        session.add(question)
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action="question.results_public" if public else "question.results_private",
            campaign_id=question.campaign_id,
            question=question_id,
        )
    return get_question(session=session, question_id=question_id, now=now)
