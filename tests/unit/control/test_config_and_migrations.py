"""Settings from the environment, and the Alembic migrations on each backend."""

from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from tests.conftest import BACKENDS

from mqttcloud.control import migrations
from mqttcloud.control.config import Settings
from mqttcloud.control.db import Base, make_engine
from mqttcloud.control.errors import ConfigError
from mqttcloud.control.models import load_all_models


def test_defaults_put_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path)
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path.resolve() / 'mqttcloud.db'}"
    assert settings.rate_limit_profile == "default"
    assert settings.brokers_dir == tmp_path / "brokers"


def test_environment_is_read_and_overrides_win(tmp_path: Path) -> None:
    env = {
        "MQTTCLOUD_DATA_DIR": str(tmp_path),
        "MQTTCLOUD_DATABASE_URL": "postgresql+psycopg://u@h/db",
        "MQTTCLOUD_ROOT_PASSWORD": "pw-from-env",
        "MQTTCLOUD_PORT": "9443",
        "MQTTCLOUD_BROKER_PORTS": "20000-20099",
        "MQTTCLOUD_RATE_LIMIT_PROFILE": "emqx",
        "MQTTCLOUD_RATE_LIMITS": "tls.get=5/60, deployments.stop=off",
        "MQTTCLOUD_SERVERLESS_DOMAIN": "mqtt.example.com",
    }
    settings = Settings.from_env(env, port=8000)
    assert settings.data_dir == tmp_path
    assert settings.sqlalchemy_url == "postgresql+psycopg://u@h/db"
    assert settings.root_password == "pw-from-env"
    assert settings.port == 8000
    assert (settings.broker_port_low, settings.broker_port_high) == (20000, 20099)
    assert settings.rate_limit_profile == "emqx"
    assert dict(settings.rate_limit_overrides) == {"tls.get": "5/60", "deployments.stop": "off"}
    assert settings.serverless_domain == "mqtt.example.com"


@pytest.mark.parametrize(
    "env",
    [
        {"MQTTCLOUD_PORT": "http"},
        {"MQTTCLOUD_BROKER_PORTS": "20000"},
        {"MQTTCLOUD_BROKER_PORTS": "30000-20000"},
        {"MQTTCLOUD_RATE_LIMIT_PROFILE": "fast"},
        {"MQTTCLOUD_RATE_LIMITS": "tls.get"},
        {"MQTTCLOUD_LOG_FORMAT": "yaml"},
    ],
)
def test_bad_environment_is_a_config_error(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(env)


def test_log_format_comes_from_the_environment_and_the_flag_wins() -> None:
    assert Settings.from_env({}).log_format == "text"
    assert Settings.from_env({"MQTTCLOUD_LOG_FORMAT": "JSON"}).log_format == "json"
    assert Settings.from_env({"MQTTCLOUD_LOG_FORMAT": "json"}, log_format="text").log_format == "text"


def test_advertised_host_replaces_wildcard() -> None:
    assert Settings(broker_host="0.0.0.0").advertised_host == "127.0.0.1"
    assert (
        Settings(broker_host="0.0.0.0", public_host="mqtt.example.com").advertised_host == "mqtt.example.com"
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_match_models_and_downgrade_cleanly(
    backend: str, fresh_database_url: Callable[[str], str]
) -> None:
    engine = make_engine(fresh_database_url(backend))
    try:
        migrations.upgrade(engine)
        assert migrations.current_revision(engine) == migrations.head_revision()
        load_all_models()
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            default = connection.execute(text("SELECT name FROM projects WHERE id = 'default'")).scalar_one()
            assert default == "Default Project"
        migrations.upgrade(engine)  # idempotent
        migrations.downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrations.upgrade(engine)
        assert migrations.current_revision(engine) == migrations.head_revision()
    finally:
        engine.dispose()


def test_sqlite_uses_wal_and_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert connection.execute(text("PRAGMA busy_timeout")).scalar_one() == 10_000
            assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    finally:
        engine.dispose()


def test_sqlite_transactions_take_the_write_lock_up_front(tmp_path: Path) -> None:
    """A read-then-write transaction cannot be overtaken by another process's writer (no SQLITE_BUSY
    on lock upgrade): the other writer waits instead."""
    import sqlite3

    path = tmp_path / "x.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (v INTEGER)"))
        with engine.begin() as connection:
            connection.execute(text("SELECT count(*) FROM t")).scalar_one()
            other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("INSERT INTO t VALUES (1)")
            connection.execute(text("INSERT INTO t VALUES (2)"))
        other.execute("INSERT INTO t VALUES (1)")  # free again once the first transaction committed
        other.close()
    finally:
        engine.dispose()
