"""Client event history per deployment (issue #13): connects, refusals, disconnects and their reasons.

`client_events`: one row per event a Dedicated deployment's broker recorded (control/events/); rows are
inserted in batches and deleted only by retention and the per-deployment size cap.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "client_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("deployment_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("clientid", sa.String(1024), nullable=False),
        sa.Column("username", sa.String(1024), nullable=True),
        sa.Column("ip_address", sa.String(64), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("reason_code", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_client_events"),
    )
    op.create_index("ix_client_events_deployment_at", "client_events", ["deployment_id", "at"])
    op.create_index(
        "ix_client_events_deployment_clientid", "client_events", ["deployment_id", "clientid", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_client_events_deployment_clientid", table_name="client_events")
    op.drop_index("ix_client_events_deployment_at", table_name="client_events")
    op.drop_table("client_events")
