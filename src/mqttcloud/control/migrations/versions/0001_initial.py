"""Initial schema: accounts, projects (with "default"), platform API keys, deployments, ports, certificates.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("project_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_login_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("username", name="uq_accounts_username"),
    )
    projects = op.create_table(
        "projects",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_projects"),
    )
    op.bulk_insert(
        projects,
        [
            {
                "id": "default",
                "name": "Default Project",
                "description": "Default project for all deployments",
                "created_at": dt.datetime.now(dt.UTC),
            }
        ],
    )
    op.create_table(
        "platform_api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("secret_hash", sa.String(128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("project_ids", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_used_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_platform_api_keys"),
        sa.UniqueConstraint("key", name="uq_platform_api_keys_key"),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["accounts.id"],
            name="fk_platform_api_keys_created_by_accounts",
            ondelete="SET NULL",
        ),
    )
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("deployment_type", sa.String(16), nullable=False),
        sa.Column("version", sa.String(8), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("connections", sa.Integer(), nullable=False),
        sa.Column("tps", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=False),
        sa.Column("desired_running", sa.Boolean(), nullable=False),
        sa.Column("allow_anonymous", sa.Boolean(), nullable=False),
        sa.Column("admin_token", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("port_mqtt", sa.Integer(), nullable=True),
        sa.Column("port_ws", sa.Integer(), nullable=True),
        sa.Column("port_mqtts", sa.Integer(), nullable=True),
        sa.Column("port_wss", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deployments"),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_deployments_project_id_projects", ondelete="RESTRICT"
        ),
    )
    op.create_index("ix_deployments_project_id", "deployments", ["project_id"])
    op.create_table(
        "port_allocations",
        sa.Column("port", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("deployment_id", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("port", name="pk_port_allocations"),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name="fk_port_allocations_deployment_id_deployments",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_port_allocations_deployment_id", "port_allocations", ["deployment_id"])
    op.create_table(
        "certificates",
        sa.Column("deployment_id", sa.String(16), nullable=False),
        sa.Column("tls_type", sa.String(16), nullable=False),
        sa.Column("cert_pem", sa.Text(), nullable=False),
        sa.Column("key_pem", sa.Text(), nullable=False),
        sa.Column("ca_pem", sa.Text(), nullable=True),
        sa.Column("expire_at", _TS, nullable=False),
        sa.Column("common_name", sa.String(255), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("deployment_id", name="pk_certificates"),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name="fk_certificates_deployment_id_deployments",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("certificates")
    op.drop_index("ix_port_allocations_deployment_id", table_name="port_allocations")
    op.drop_table("port_allocations")
    op.drop_index("ix_deployments_project_id", table_name="deployments")
    op.drop_table("deployments")
    op.drop_table("platform_api_keys")
    op.drop_table("projects")
    op.drop_table("accounts")
