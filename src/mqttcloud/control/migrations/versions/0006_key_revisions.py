"""Key revisions: one counter that every process can read to know a cached key may be stale.

`key_revisions` holds one row (id 1). Database triggers add one to its `generation` whenever a platform
key or a Deployment API key is deleted or has its secret, scopes, projects or permissions changed, and
whenever a deployment is deleted or has its type, size or desired state changed (the Deployment API's
cached key context carries those). Triggers, not application code, so a change made by any process
(`mqttcloud apikey delete`, another `serve`, SQL by hand) is counted. `last_used_at` writes never are.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, columns whose change makes a cached key stale)
_WATCHED = (
    ("platform_api_keys", ("key", "secret_hash", "scopes", "project_ids")),
    ("deployment_api_keys", ("app_id", "secret_hash", "deployment_id", "permissions")),
    ("deployments", ("deployment_type", "connections", "desired_running")),
)
_BUMP = "UPDATE key_revisions SET generation = generation + 1 WHERE id = 1"


def upgrade() -> None:
    op.create_table(
        "key_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_key_revisions"),
    )
    op.execute("INSERT INTO key_revisions (id, generation) VALUES (1, 0)")
    if op.get_bind().dialect.name == "sqlite":
        for table, columns in _WATCHED:
            op.execute(
                f"CREATE TRIGGER tr_{table}_delete_revision AFTER DELETE ON {table} BEGIN {_BUMP}; END"
            )
            op.execute(
                f"CREATE TRIGGER tr_{table}_update_revision AFTER UPDATE OF {', '.join(columns)} "
                f"ON {table} BEGIN {_BUMP}; END"
            )
        return
    op.execute(
        "CREATE FUNCTION mqttcloud_bump_key_revision() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN {_BUMP}; RETURN NULL; END $$"
    )
    for table, columns in _WATCHED:
        op.execute(
            f"CREATE TRIGGER tr_{table}_revision AFTER DELETE OR UPDATE OF {', '.join(columns)} "
            f"ON {table} FOR EACH STATEMENT EXECUTE PROCEDURE mqttcloud_bump_key_revision()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table, _ in _WATCHED:
            op.execute(f"DROP TRIGGER tr_{table}_delete_revision")
            op.execute(f"DROP TRIGGER tr_{table}_update_revision")
    else:
        for table, _ in _WATCHED:
            op.execute(f"DROP TRIGGER tr_{table}_revision ON {table}")
        op.execute("DROP FUNCTION mqttcloud_bump_key_revision()")
    op.drop_table("key_revisions")
