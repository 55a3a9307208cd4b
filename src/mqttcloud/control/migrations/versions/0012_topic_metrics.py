"""Topic metrics: the topics each deployment's brokers count messages of (issue #15).

`topic_metrics`: one row per (deployment, topic) registered through `/mqtt/topic_metrics`
(control/deployment_api/topic_metrics/); the topics reach the broker in the tenant spec, the counts
stay in the broker. `reset_at` is when the counts were last reset (null: never). A topic is unique in
its deployment through `topic_key`, its SHA-256 (a topic may be longer than a B-tree index entry).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "topic_metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.String(16), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("topic_key", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("reset_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_topic_metrics"),
        sa.UniqueConstraint("deployment_id", "topic_key", name="uq_topic_metrics_topic_key"),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name="fk_topic_metrics_deployment_id_deployments",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("topic_metrics")
