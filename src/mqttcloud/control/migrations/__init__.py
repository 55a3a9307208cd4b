"""Alembic migrations, run programmatically (`upgrade`) at `serve` start and by `mqttcloud db upgrade`.

Every revision in `versions/` is written by hand, uses batch mode on SQLite (render_as_batch) and is run
on SQLite and PostgreSQL by the test suite.
"""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration up to `revision` in one transaction."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory  # noqa: PLC0415  (only the tools need it)

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415  (only the tools need it)

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
