"""Dedicated deployments run `nodes` broker processes (issue #12); 1 for every existing deployment.

Plain ADD/DROP COLUMN, not batch mode: a batch (copy-and-rename) of `deployments` on SQLite would drop the
key-revision triggers of 0006. SQLite has both statements natively (DROP COLUMN since 3.35).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("deployments", sa.Column("nodes", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    op.drop_column("deployments", "nodes")
