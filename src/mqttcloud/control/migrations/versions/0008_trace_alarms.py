"""Log traces, alarms and the Serverless lifecycle clock.

`deployment_traces`: the log traces of each deployment (control/trace/), run by its broker.
`alarms`: raised and cleared by the platform's checker (control/alarms/); a row with no
`deactivated_at` is active; `deployment_id` is null for a platform-wide alarm.
`serverless_activity`: when each Serverless deployment last had a client connected, and when the
lifecycle policy stopped it (control/serverless/lifecycle.py).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deployment_traces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.String(16), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("filter", sa.Text(), nullable=False),
        sa.Column("payload_encode", sa.String(8), nullable=False),
        sa.Column("start_at", _TS, nullable=False),
        sa.Column("end_at", _TS, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deployment_traces"),
        sa.UniqueConstraint("deployment_id", "name", name="uq_deployment_traces_name"),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name="fk_deployment_traces_deployment_id_deployments",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.String(16), nullable=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("activated_at", _TS, nullable=False),
        sa.Column("deactivated_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alarms"),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name="fk_alarms_deployment_id_deployments",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_alarms_deployment_id", "alarms", ["deployment_id"])
    op.create_index("ix_alarms_deactivated_at", "alarms", ["deactivated_at"])
    op.create_table(
        "serverless_activity",
        sa.Column("deployment_id", sa.String(16), nullable=False),
        sa.Column("last_active_at", _TS, nullable=False),
        sa.Column("stopped_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("deployment_id", name="pk_serverless_activity"),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name="fk_serverless_activity_deployment_id_deployments",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("serverless_activity")
    op.drop_index("ix_alarms_deactivated_at", table_name="alarms")
    op.drop_index("ix_alarms_deployment_id", table_name="alarms")
    op.drop_table("alarms")
    op.drop_table("deployment_traces")
