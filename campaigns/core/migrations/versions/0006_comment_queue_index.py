"""moderation at scale: an index for the comment queue, and room for in-page updates

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

- ``ix_signature_comment_queue`` on ``signature (campaign_id, created_at, id)`` for the rows with a comment
  only: the moderation queue counts a campaign's comments and reads them a page at a time, oldest first,
  without reading its other signatures (a campaign may have a million).
- PostgreSQL: ``signature`` gets ``fillfactor = 90``. Pages written from now on keep a tenth free, so an
  update of a column no index holds (``comment_status``, and so approving or hiding 10,000 comments at once)
  rewrites each row within its page (a HOT update) instead of adding an entry to each of the table's nine
  indexes: about a quarter of the WAL, two to three times faster. Rows already stored keep their full pages
  until the table is rewritten (``VACUUM FULL signature``, which locks it: at a quiet time, if ever).
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
            ["campaign_id", "created_at", "id"],
            sqlite_where=sa.text("comment IS NOT NULL"),
            postgresql_where=sa.text("comment IS NOT NULL"),
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE signature SET (fillfactor = 90)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE signature RESET (fillfactor)")
    with op.batch_alter_table("signature", schema=None) as batch_op:
        batch_op.drop_index("ix_signature_comment_queue")
