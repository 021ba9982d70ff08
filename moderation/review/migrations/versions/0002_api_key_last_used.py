"""API keys remember when they were last used, so operators can tell a live key from a dead one.

Revision ID: 0002_api_key_last_used
Revises: 0001_initial
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_api_key_last_used"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Naive UTC, as every time column (schema.UTCDateTime); NULL = never used since.
    op.add_column("api_keys", sa.Column("last_used_at", sa.DateTime(timezone=False)))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:  # SQLite rebuilds the table
        batch.drop_column("last_used_at")
