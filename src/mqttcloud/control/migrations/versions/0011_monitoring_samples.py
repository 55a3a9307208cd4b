"""Stored monitoring history per deployment (issue #15): sampled stats and metrics, downsampled.

`monitor_points`: one row per deployment, tier step (seconds) and period start (`at`, Unix seconds),
holding sums and sample counts (control/monitoring/models.py); pruned per tier by (step, at).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SUMS = (
    "connections",
    "sessions",
    "subscriptions",
    "retained",
    "received",
    "sent",
    "dropped",
    "bytes_received",
    "bytes_sent",
)


def upgrade() -> None:
    op.create_table(
        "monitor_points",
        sa.Column("deployment_id", sa.String(16), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("rate_samples", sa.Integer(), nullable=False),
        *(sa.Column(f"{name}_sum", sa.Float(), nullable=False) for name in _SUMS),
        sa.PrimaryKeyConstraint("deployment_id", "step", "at", name="pk_monitor_points"),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name="fk_monitor_points_deployment_id_deployments",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_monitor_points_step_at", "monitor_points", ["step", "at"])


def downgrade() -> None:
    op.drop_index("ix_monitor_points_step_at", table_name="monitor_points")
    op.drop_table("monitor_points")
