"""questions to signers: questions, their options, answers (one per signature) and the answers' aggregate rows

Revision ID: 0008_questions
Revises: 0007_updates
Create Date: 2026-12-07

- ``question``: a campaign's question (prompt, free text allowed, closing time, results shown publicly or not).
- ``question_option``: its 2 to 6 options, in order.
- ``answer``: one per (question, signature), unique; a later answer replaces it. Free text waits for moderation.
  ``counted``: false while its signature is held by flood control (stored, in no result, counted once validated).
- ``answer_count``: answers per (question, option, region), sharded like ``region_count``; results read only these.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_questions"
down_revision: str | None = "0007_updates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "question",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("prompt", sa.String(length=300), nullable=False),
        sa.Column("allow_free_text", sa.Boolean(), nullable=False),
        sa.Column("show_results_public", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["app_user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_question_campaign", "question", ["campaign_id", "created_at"])
    op.create_table(
        "question_option",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(["question_id"], ["question.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("question_id", "position", name="uq_question_option_position"),
    )
    op.create_table(
        "answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("signature_id", sa.Integer(), nullable=False),
        sa.Column("option_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=32), nullable=False),
        sa.Column("free_text", sa.Text(), nullable=True),
        sa.Column("free_text_status", sa.String(length=16), nullable=True),
        sa.Column("counted", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["question_id"], ["question.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["signature_id"], ["signature.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["option_id"], ["question_option.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("question_id", "signature_id", name="uq_answer_question_signature"),
    )
    op.create_index("ix_answer_signature", "answer", ["signature_id"])
    op.create_index(
        "ix_answer_free_text",
        "answer",
        ["question_id", "answered_at"],
        sqlite_where=sa.text("free_text IS NOT NULL"),
        postgresql_where=sa.text("free_text IS NOT NULL"),
    )
    op.create_table(
        "answer_count",
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("option_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=32), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["question_id"], ["question.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("question_id", "option_id", "region_code", "shard"),
    )


def downgrade() -> None:
    op.drop_table("answer_count")
    op.drop_index("ix_answer_free_text", table_name="answer")
    op.drop_index("ix_answer_signature", table_name="answer")
    op.drop_table("answer")
    op.drop_table("question_option")
    op.drop_index("ix_question_campaign", table_name="question")
    op.drop_table("question")
