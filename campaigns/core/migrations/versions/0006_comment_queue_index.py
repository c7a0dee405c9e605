"""moderation at scale: an index for the comment queue

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

- ``ix_signature_comment_queue`` on ``signature (campaign_id, comment_status, created_at, id)`` for the rows
  with a comment only: the moderation queue counts a campaign's comments in one status and reads them a page
  at a time, oldest first, without reading its other signatures (a campaign may have a million).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("signature", schema=None) as batch_op:
        batch_op.create_index(
            "ix_signature_comment_queue",
            ["campaign_id", "comment_status", "created_at", "id"],
            sqlite_where=sa.text("comment IS NOT NULL"),
            postgresql_where=sa.text("comment IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("signature", schema=None) as batch_op:
        batch_op.drop_index("ix_signature_comment_queue")
