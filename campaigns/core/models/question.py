"""Questions organizers ask a campaign's signers, their options, the answers, and the answers' aggregate rows.

One answer per signature and question (the unique constraint, not the code); a later answer replaces it while
the question is open. Results are read from ``AnswerCount`` rows only, changed in the answer's transaction, so
reading them costs the same for ten answers or a million.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text, true
from sqlmodel import Field, SQLModel

from campaigns.core.models.columns import utc_column, utcnow


class QuestionStatus(enum.StrEnum):
    open = "open"  # takes answers until closes_at
    closed = "closed"  # closed early by an organizer (a question past closes_at is closed too)


class FreeTextStatus(enum.StrEnum):
    pending = "pending"  # waiting for an organizer: never public
    approved = "approved"  # shown publicly (when the organizer shows results)
    hidden = "hidden"


class Question(SQLModel, table=True):
    """A question to a campaign's signers: a prompt, 2 to 6 options, maybe a free-text answer, a closing time."""

    __tablename__ = "question"
    __table_args__ = (Index("ix_question_campaign", "campaign_id", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE")
    prompt: str = Field(sa_column=Column(String(300), nullable=False))
    allow_free_text: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    show_results_public: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    status: str = Field(default=QuestionStatus.open.value, sa_column=Column(String(16), nullable=False))
    closes_at: datetime = Field(sa_column=utc_column())
    created_by: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class QuestionOption(SQLModel, table=True):
    """One of a question's options, in the order the organizer gave them."""

    __tablename__ = "question_option"
    __table_args__ = (UniqueConstraint("question_id", "position", name="uq_question_option_position"),)
    id: int | None = Field(default=None, primary_key=True)
    question_id: int = Field(foreign_key="question.id", ondelete="CASCADE")
    position: int
    label: str = Field(sa_column=Column(String(120), nullable=False))


class Answer(SQLModel, table=True):
    """One signature's answer to one question (replaced, never added to, by a later answer)."""

    __tablename__ = "answer"
    __table_args__ = (
        UniqueConstraint("question_id", "signature_id", name="uq_answer_question_signature"),
        Index("ix_answer_signature", "signature_id"),  # a withdrawal or an erasure finds its answers
        Index(  # the free-text queue: one question's texts, oldest first
            "ix_answer_free_text",
            "question_id",
            "answered_at",
            sqlite_where=text("free_text IS NOT NULL"),
            postgresql_where=text("free_text IS NOT NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    question_id: int = Field(foreign_key="question.id", ondelete="CASCADE")
    signature_id: int = Field(foreign_key="signature.id", ondelete="CASCADE")
    option_id: int = Field(foreign_key="question_option.id", ondelete="CASCADE")
    region_code: str = Field(sa_column=Column(String(32), nullable=False))  # the signature's: the count's key
    free_text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    free_text_status: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    # False while the signature is held (flagged): the signer is told nothing, the answer is in no result (nor its
    # words in the queue) until a review validates the signature (``answering.count_held_answers``).
    counted: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, server_default=true()))
    answered_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class AnswerCount(SQLModel, table=True):
    """One shard of the answers to one option of one question from one region. A change of answer adds -1 to
    the old option and +1 to the new one, each on a shard of its own: a shard may hold a negative part, the
    shards' sum is the exact count."""

    __tablename__ = "answer_count"
    question_id: int = Field(foreign_key="question.id", primary_key=True, ondelete="CASCADE")
    option_id: int = Field(primary_key=True)
    region_code: str = Field(sa_column=Column(String(32), primary_key=True))
    shard: int = Field(primary_key=True)
    count: int = 0
