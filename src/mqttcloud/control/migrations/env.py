"""Alembic environment: always runs on a connection handed in through `config.attributes`."""

from alembic import context

from mqttcloud.control.db import Base
from mqttcloud.control.models import load_all_models

load_all_models()

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through mqttcloud.control.migrations.upgrade()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
