"""updates to signers: the update rows, and each outbox message's update

Revision ID: 0007_updates
Revises: 0006
Create Date: 2026-12-07

- ``signer_update``: an organizer's update to a campaign's signers (subject, markdown body, regions, kind), its
  status (draft, sending, sent), the recipients counted when it started, and its fan-out's cursor (the last
  signature id queued, committed per batch, so a restart resumes where a crash stopped).
  It also keeps the address its links are built on (``link_base``, the organizer's request address when it
  started) and, once every message has gone, its final counts (``final_sent``, ``final_failed``); ``tested_at``
  is when its organizer last sent themselves a test (the editor sends only a version tested since its last edit).
- ``outbox.update_id``: the update a message belongs to, indexed with its status (the sending progress).
- ``outbox.priority``: 0 for mail to one person, 1 for an update's bulk messages; the claim's index
  ``ix_outbox_claim`` (status, priority, next_attempt_at, id) replaces ``ix_outbox_status_next``, so a
  confirmation queued behind 100,000 update messages is claimed first.
- ``ix_signature_update_recipients``: ``signature (campaign_id, id)`` for the signatures an update reaches
  (agreed to be contacted, counted, not erased): the fan-out's keyset read.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_updates"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# ``updates.recipients_filter`` as each dialect renders it (a partial index is used when the query's terms match)
RECIPIENTS_SQLITE = "contact_consent IS 1 AND status = 'counted' AND erased_at IS NULL"
RECIPIENTS_POSTGRESQL = "contact_consent IS true AND status = 'counted' AND erased_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "signer_update",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("region_codes", sa.String(length=2000), nullable=False, server_default=""),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("queued", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("cursor", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("link_base", sa.String(length=300), nullable=False, server_default=""),
        sa.Column("final_sent", sa.Integer(), nullable=True),
        sa.Column("final_failed", sa.Integer(), nullable=True),
        sa.Column("tested_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["app_user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signer_update_campaign_status", "signer_update", ["campaign_id", "status", "started_at"])
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("update_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_outbox_update_id_signer_update", "signer_update", ["update_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_index("ix_outbox_update_status", ["update_id", "status"])
        batch_op.add_column(sa.Column("priority", sa.SmallInteger(), nullable=False, server_default="0"))
        batch_op.drop_index("ix_outbox_status_next")
        batch_op.create_index("ix_outbox_claim", ["status", "priority", "next_attempt_at", "id"])
    with op.batch_alter_table("signature", schema=None) as batch_op:
        batch_op.create_index(
            "ix_signature_update_recipients",
            ["campaign_id", "id"],
            sqlite_where=sa.text(RECIPIENTS_SQLITE),
            postgresql_where=sa.text(RECIPIENTS_POSTGRESQL),
        )


def downgrade() -> None:
    with op.batch_alter_table("signature", schema=None) as batch_op:
        batch_op.drop_index("ix_signature_update_recipients")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_claim")
        batch_op.create_index("ix_outbox_status_next", ["status", "next_attempt_at"])
        batch_op.drop_column("priority")
        batch_op.drop_index("ix_outbox_update_status")
        batch_op.drop_constraint("fk_outbox_update_id_signer_update", type_="foreignkey")
        batch_op.drop_column("update_id")
    op.drop_index("ix_signer_update_campaign_status", table_name="signer_update")
    op.drop_table("signer_update")
