"""Shadow service: shadow models and their JSON documents per deployment.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deployment_shadows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.String(16), nullable=False),
        sa.Column("shadow_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("document_created_ms", sa.BigInteger(), nullable=False),
        sa.Column("document_updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deployment_shadows"),
        sa.UniqueConstraint("deployment_id", "shadow_id", name="uq_deployment_shadows_key"),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name="fk_deployment_shadows_deployment_id_deployments",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("deployment_shadows")
