"""proposals: campaigns members propose, with co-sponsors and a thread with organizers

Revision ID: 0009_proposals
Revises: 0008_questions
Create Date: 2026-12-07

- ``proposal``: a member's proposed campaign (plain text), its proposer (only the SHA-256 of their own link is
  kept), its status (unconfirmed, gathering, in_review, changes_requested, published, declined, expired), the
  co-sponsors it needs, the decline reason and whether it is public, the campaign it became (indexed: credits),
  the client address it came from (the per-address limit); indexed by proposer mailbox (the per-mailbox limit,
  erasure).
- ``proposal_sponsor``: one co-sponsor per mailbox and proposal (``uq_proposal_sponsor_mailbox`` on the
  canonical email), with their confirmation link's SHA-256, whether they may be named and the client address
  the offer came from; indexed by (proposal, time) for the hourly cap, by mailbox (erasure) and by address.
- ``proposal_message``: the thread between organizers and the proposer.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_proposals"
down_revision: str | None = "0008_questions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=64), nullable=False),
        sa.Column("manage_hash", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("ask", sa.Text(), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("region_scheme", sa.String(length=64), nullable=False),
        sa.Column("proposer_name", sa.String(length=200), nullable=False),
        sa.Column("proposer_email", sa.String(length=320), nullable=False),
        sa.Column("proposer_canonical", sa.String(length=320), nullable=False),
        sa.Column("proposer_credit", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("sponsors_needed", sa.Integer(), nullable=False),
        sa.Column("decline_reason", sa.Text(), nullable=True),
        sa.Column("decline_public", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
        sa.UniqueConstraint("manage_hash"),
    )
    op.create_index("ix_proposal_status", "proposal", ["status", "updated_at"])
    op.create_index("ix_proposal_campaign_id", "proposal", ["campaign_id"])
    op.create_index("ix_proposal_proposer", "proposal", ["proposer_canonical", "created_at"])
    op.create_index("ix_proposal_address", "proposal", ["client_address", "created_at"])
    op.create_table(
        "proposal_sponsor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_canonical", sa.String(length=320), nullable=False),
        sa.Column("credit", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("confirm_hash", sa.String(length=64), nullable=False),
        sa.Column("confirm_sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirm_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirm_sends", sa.Integer(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["proposal_id"], ["proposal.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("confirm_hash"),
        sa.UniqueConstraint("proposal_id", "email_canonical", name="uq_proposal_sponsor_mailbox"),
    )
    op.create_index("ix_proposal_sponsor_offers", "proposal_sponsor", ["proposal_id", "created_at"])
    op.create_index("ix_proposal_sponsor_email_canonical", "proposal_sponsor", ["email_canonical"])
    op.create_index("ix_proposal_sponsor_address", "proposal_sponsor", ["client_address", "created_at"])
    op.create_table(
        "proposal_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("from_organizer", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["proposal_id"], ["proposal.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_proposal_message_proposal_id", "proposal_message", ["proposal_id"])


def downgrade() -> None:
    op.drop_index("ix_proposal_message_proposal_id", table_name="proposal_message")
    op.drop_table("proposal_message")
    op.drop_index("ix_proposal_sponsor_address", table_name="proposal_sponsor")
    op.drop_index("ix_proposal_sponsor_email_canonical", table_name="proposal_sponsor")
    op.drop_index("ix_proposal_sponsor_offers", table_name="proposal_sponsor")
    op.drop_table("proposal_sponsor")
    op.drop_index("ix_proposal_address", table_name="proposal")
    op.drop_index("ix_proposal_proposer", table_name="proposal")
    op.drop_index("ix_proposal_campaign_id", table_name="proposal")
    op.drop_index("ix_proposal_status", table_name="proposal")
    op.drop_table("proposal")
