"""trust: mail outbox, confirmation, receipts, flagged signatures, sign rules

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

- ``outbox``: every message Rally sends, drained by a worker (leased claims; never sent twice).
- ``signature``: ``receipt_hash`` (the sign-on's own receipt link), confirmation fields
  (``confirm_hash``, ``confirm_sent_at``, ``confirm_expires_at``, ``confirm_sends``, ``reminded_at``,
  ``confirmed_at``), the client address and email domain (flood control and review), ``flag_reason``.
  Existing signatures count as confirmed (they were counted at once).
- ``campaign.require_confirmation``: count a signature only once its signer confirms their email.
- ``sign_rule``: organizers' blocklists and allowlists (email globs, client address ranges).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.add_column(sa.Column("require_confirmation", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("signature", schema=None) as batch_op:
        batch_op.add_column(sa.Column("receipt_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("client_address", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("email_domain", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("flag_reason", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("confirm_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("confirm_sent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("confirm_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("confirm_sends", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_signature_receipt_hash", ["receipt_hash"], unique=True)
        batch_op.create_index("ix_signature_confirm_hash", ["confirm_hash"], unique=True)
        batch_op.create_index("ix_signature_campaign_address", ["campaign_id", "client_address", "created_at"])
        # only signatures still waiting for their signer: the upkeep's reminders and expiry read this, not the table
        batch_op.create_index(
            "ix_signature_unconfirmed",
            ["confirm_expires_at"],
            sqlite_where=sa.text("confirmed_at IS NULL AND confirm_hash IS NOT NULL"),
            postgresql_where=sa.text("confirmed_at IS NULL AND confirm_hash IS NOT NULL"),
        )
    op.execute("UPDATE signature SET confirmed_at = created_at WHERE status = 'counted'")
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("recipient_canonical", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("signature_id", sa.Integer(), nullable=True),
        sa.Column("outreach_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["signature_id"], ["signature.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["outreach_id"], ["outreach.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
    )
    op.create_index("ix_outbox_status_next", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_signature", "outbox", ["signature_id"])
    op.create_index("ix_outbox_recipient", "outbox", ["recipient_canonical"])
    op.create_index("ix_outbox_campaign_status", "outbox", ["campaign_id", "status"])
    op.create_table(
        "sign_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("pattern", sa.String(length=200), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["app_user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "action", "pattern", name="uq_sign_rule"),
    )


def downgrade() -> None:
    op.drop_table("sign_rule")
    op.drop_index("ix_outbox_campaign_status", table_name="outbox")
    op.drop_index("ix_outbox_recipient", table_name="outbox")
    op.drop_index("ix_outbox_signature", table_name="outbox")
    op.drop_index("ix_outbox_status_next", table_name="outbox")
    op.drop_table("outbox")
    with op.batch_alter_table("signature", schema=None) as batch_op:
        batch_op.drop_index("ix_signature_unconfirmed")
        batch_op.drop_index("ix_signature_campaign_address")
        batch_op.drop_index("ix_signature_confirm_hash")
        batch_op.drop_index("ix_signature_receipt_hash")
        for column in (
            "confirmed_at",
            "reminded_at",
            "confirm_sends",
            "confirm_expires_at",
            "confirm_sent_at",
            "confirm_hash",
            "flag_reason",
            "email_domain",
            "client_address",
            "receipt_hash",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_column("require_confirmation")
