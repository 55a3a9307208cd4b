"""Deployment API: deployment API keys, built-in users, ACL rules and bans per deployment.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def _deployment_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["deployment_id"],
        ["deployments.id"],
        name=f"fk_{table}_deployment_id_deployments",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "deployment_api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.String(32), nullable=False),
        sa.Column("secret_hash", sa.String(128), nullable=False),
        sa.Column("deployment_id", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_used_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deployment_api_keys"),
        sa.UniqueConstraint("app_id", name="uq_deployment_api_keys_app_id"),
        _deployment_fk("deployment_api_keys"),
    )
    op.create_index("ix_deployment_api_keys_deployment_id", "deployment_api_keys", ["deployment_id"])
    op.create_table(
        "deployment_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("salt_position", sa.String(16), nullable=False),
        sa.Column("pbkdf2_iterations", sa.Integer(), nullable=False),
        sa.Column("is_superuser", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deployment_users"),
        sa.UniqueConstraint("deployment_id", "kind", "user_id", name="uq_deployment_users_key"),
        _deployment_fk("deployment_users"),
    )
    op.create_index("ix_deployment_users_deployment_id", "deployment_users", ["deployment_id"])
    op.create_table(
        "deployment_acl_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.String(16), nullable=False),
        sa.Column("target_kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(1024), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("permission", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deployment_acl_rules"),
        _deployment_fk("deployment_acl_rules"),
    )
    op.create_index(
        "ix_deployment_acl_rules_target", "deployment_acl_rules", ["deployment_id", "target_kind", "target"]
    )
    op.create_table(
        "deployment_bans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("who", sa.String(255), nullable=False),
        sa.Column("by", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("until", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deployment_bans"),
        sa.UniqueConstraint("deployment_id", "kind", "who", name="uq_deployment_bans_key"),
        _deployment_fk("deployment_bans"),
    )
    op.create_index("ix_deployment_bans_deployment_id", "deployment_bans", ["deployment_id"])


def downgrade() -> None:
    op.drop_index("ix_deployment_bans_deployment_id", table_name="deployment_bans")
    op.drop_table("deployment_bans")
    op.drop_index("ix_deployment_acl_rules_target", table_name="deployment_acl_rules")
    op.drop_table("deployment_acl_rules")
    op.drop_index("ix_deployment_users_deployment_id", table_name="deployment_users")
    op.drop_table("deployment_users")
    op.drop_index("ix_deployment_api_keys_deployment_id", table_name="deployment_api_keys")
    op.drop_table("deployment_api_keys")
