"""Shared fixtures: a migrated database per backend, and one rolled-back transaction per test.

Database tests run on SQLite always and on PostgreSQL too when `MQTTCLOUD_TEST_DATABASE_URL` is set
(`eval "$(bash scripts/postgres.sh)"` starts one). Each test session creates its own PostgreSQL database
(dropped at the end), so parallel runs on one cluster do not meet.

Per-test isolation follows dispatch's `tests/conftest.py`: the test's `Database` is bound to a connection
held in an outer transaction, every session commit becomes a SAVEPOINT release, and the outer transaction
is rolled back at teardown.
"""

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported lazily below: protocol and broker test runs never load the control plane
    from sqlalchemy import Engine

    from mqttcloud.control.db import Database

if os.environ.get("MQTTCLOUD_TEST_CORE") == "compiled":  # scripts/test.sh: the core's unit tests, compiled
    from mqttcloud import compiled

    compiled.install({**os.environ, compiled.CORE_ENV: "compiled"})  # before any test imports the core

POSTGRES_ENV = "MQTTCLOUD_TEST_DATABASE_URL"
BACKENDS = ["sqlite", *(["postgresql"] if os.environ.get(POSTGRES_ENV) else [])]


def create_postgres_database(admin_url: str, prefix: str = "mqttcloud_test") -> str:
    """Create an empty database on the cluster of `admin_url` and return its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(admin_url: str, url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def fresh_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """A factory: `fresh_database_url(backend)` → URL of a new empty database (dropped at session end)."""
    created: list[str] = []

    def factory(backend: str) -> str:
        if backend == "sqlite":
            path = tmp_path_factory.mktemp("db") / "mqttcloud.db"
            return f"sqlite:///{path}"
        url = create_postgres_database(os.environ[POSTGRES_ENV])
        created.append(url)
        return url

    yield factory
    for url in created:
        drop_postgres_database(os.environ[POSTGRES_ENV], url)


@pytest.fixture(scope="session", params=BACKENDS)
def db_engine(request: pytest.FixtureRequest, fresh_database_url: Callable[[str], str]) -> Iterator["Engine"]:
    """A migrated database on each backend, shared by the session."""
    from mqttcloud.control import migrations
    from mqttcloud.control.db import make_engine

    engine = make_engine(fresh_database_url(request.param))
    migrations.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def database(db_engine: "Engine") -> Iterator["Database"]:
    """A `Database` whose every change is rolled back after the test."""
    from sqlalchemy.orm import sessionmaker

    from mqttcloud.control.db import Database

    connection = db_engine.connect()
    transaction = connection.begin()
    factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield Database(db_engine, factory)
    transaction.rollback()
    connection.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path
