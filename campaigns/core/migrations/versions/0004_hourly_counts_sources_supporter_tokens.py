"""hourly counts, signature source and lifecycle, supporter access tokens

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

- ``hourly_count``: signatures per campaign and UTC hour (sharded like ``region_count``), so the
  dashboard's time series and "last 24 hours" never scan the signatures. Back-filled here.
- ``region_day_count``: signatures per campaign, region and UTC day (sharded), for each region's trend.
- ``signature.source`` (online | paper | import), ``withdrawn_at`` and ``erased_at``: a supporter may
  withdraw a signature (status "withdrawn", no longer counted) or have their personal data erased.
- ``supporter_token``: one-time, time-limited links that let a supporter see and manage their data.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hourly_count",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("campaign_id", "hour", "shard"),
    )
    op.create_table(
        "region_day_count",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=32), nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("campaign_id", "region_code", "day", "shard"),
    )
    with op.batch_alter_table("signature", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=16), nullable=False, server_default="online"))
        batch_op.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_signature_email_canonical", ["email_canonical"], unique=False)
    with op.batch_alter_table("outreach", schema=None) as batch_op:  # letters sent per target, on the dashboard
        batch_op.create_index("ix_outreach_target_status", ["target_id", "status"], unique=False)
    op.create_table(
        "supporter_token",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email_canonical", sa.String(length=320), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    with op.batch_alter_table("supporter_token", schema=None) as batch_op:
        batch_op.create_index("ix_supporter_token_email", ["email_canonical"], unique=False)
        batch_op.create_index("ix_supporter_token_expires", ["expires_at"], unique=False)
    _backfill_hourly_counts()


def _backfill_hourly_counts() -> None:
    """Rows per campaign and hour, and per campaign, region and day, from the counted signatures (shard 0)."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        hour = "date_trunc('hour', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
        day = "date_trunc('day', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    else:  # SQLite stores naive UTC text in SQLAlchemy's format: 'YYYY-MM-DD HH:MM:SS.ffffff'
        hour = "strftime('%Y-%m-%d %H:00:00.000000', created_at)"
        day = "strftime('%Y-%m-%d 00:00:00.000000', created_at)"
    op.execute(
        f"INSERT INTO hourly_count (campaign_id, hour, shard, count) "
        f"SELECT campaign_id, {hour}, 0, COUNT(*) FROM signature WHERE status = 'counted' "
        f"GROUP BY campaign_id, {hour}"
    )
    op.execute(
        f"INSERT INTO region_day_count (campaign_id, region_code, day, shard, count) "
        f"SELECT campaign_id, region_code, {day}, 0, COUNT(*) FROM signature WHERE status = 'counted' "
        f"GROUP BY campaign_id, region_code, {day}"
    )


def downgrade() -> None:
    with op.batch_alter_table("supporter_token", schema=None) as batch_op:
        batch_op.drop_index("ix_supporter_token_expires")
        batch_op.drop_index("ix_supporter_token_email")
    op.drop_table("supporter_token")
    with op.batch_alter_table("outreach", schema=None) as batch_op:
        batch_op.drop_index("ix_outreach_target_status")
    with op.batch_alter_table("signature", schema=None) as batch_op:
        batch_op.drop_index("ix_signature_email_canonical")
        batch_op.drop_column("erased_at")
        batch_op.drop_column("withdrawn_at")
        batch_op.drop_column("source")
    op.drop_table("region_day_count")
    op.drop_table("hourly_count")
