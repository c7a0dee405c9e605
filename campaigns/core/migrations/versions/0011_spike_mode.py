"""spike mode: a campaign's share link may point at the light sign page

Revision ID: 0011_spike_mode
Revises: 0010_outcomes
Create Date: 2026-12-08

- ``campaign.light_share_link``: the campaign's share link (its buttons, QR code, poster, emails and link
  previews) is the light page ``/s/<slug>`` rather than the full campaign page; off for every campaign until an
  organizer turns it on.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_spike_mode"
down_revision: str | None = "0010_outcomes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.add_column(sa.Column("light_share_link", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_column("light_share_link")
