"""outcomes: target responses, a campaign's outcome and response threshold, the comment wall

Revision ID: 0010_outcomes
Revises: 0009_proposals
Create Date: 2026-12-07

- ``target_response``: what a campaign's target answered (plain text, the day, a link to the document, never
  fetched), who recorded it and when.
- ``campaign``: ``outcome`` (won, partly_won, lost; NULL is ongoing), ``outcome_note``, ``outcome_at``, and
  ``response_threshold`` (the signatures at which the target is expected to answer; NULL: none).
- ``signature``: ``comment_credit`` (the signer agreed to show their first name and region with their comment)
  and ``comment_featured_at`` (an organizer put the comment at the top of the wall), with a small partial index
  on the featured ones. The wall's newest-first pages read ``ix_signature_comment_queue`` (campaign, created_at,
  id), backwards; no index on ``comment_status`` is added, so bulk moderation stays a HOT update (see 0006).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_outcomes"
down_revision: str | None = "0009_proposals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.add_column(sa.Column("response_threshold", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("outcome_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("signature", schema=None) as batch_op:
        batch_op.add_column(sa.Column("comment_credit", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("comment_featured_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_signature_comment_featured",
            ["campaign_id", "comment_featured_at"],
            sqlite_where=sa.text("comment_featured_at IS NOT NULL"),
            postgresql_where=sa.text("comment_featured_at IS NOT NULL"),
        )
    op.create_table(
        "target_response",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("responded_on", sa.Date(), nullable=False),
        sa.Column("attachment_url", sa.String(length=2000), nullable=True),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["target_id"], ["target.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["recorded_by"], ["app_user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_target_response_campaign", "target_response", ["campaign_id", "responded_on"])


def downgrade() -> None:
    op.drop_index("ix_target_response_campaign", table_name="target_response")
    op.drop_table("target_response")
    with op.batch_alter_table("signature", schema=None) as batch_op:
        batch_op.drop_index("ix_signature_comment_featured")
        batch_op.drop_column("comment_featured_at")
        batch_op.drop_column("comment_credit")
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_column("outcome_at")
        batch_op.drop_column("outcome_note")
        batch_op.drop_column("outcome")
        batch_op.drop_column("response_threshold")
