"""`mqttcloud apikey create --deployment ID`, and migration 0002 up and down on SQLite."""

import json
from pathlib import Path

import pytest
from sqlalchemy import inspect

from mqttcloud.control import apikey_cli, migrations
from mqttcloud.control.config import Settings
from mqttcloud.control.db import Database
from mqttcloud.control.deployment_api.keys import service as keys
from mqttcloud.control.deployments.schemas import DeploymentCreate
from mqttcloud.control.deployments.service import create_deployment
from mqttcloud.passwords import verify_api_secret

TABLES = {"deployment_api_keys", "deployment_users", "deployment_acl_rules", "deployment_bans"}


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MQTTCLOUD_DATABASE_URL", "MQTTCLOUD_DATA_DIR", "MQTTCLOUD_ROOT_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def _deployment(tmp_path: Path) -> str:
    database = Database.from_url(f"sqlite:///{tmp_path / 'mqttcloud.db'}")
    try:
        migrations.upgrade(database.engine)
        with database.session() as session:
            settings = Settings(data_dir=tmp_path, broker_port_low=43000, broker_port_high=43999)
            request = DeploymentCreate.model_validate({"projectID": "default"})
            return create_deployment(session, settings=settings, request=request).id
    finally:
        database.dispose()


def test_apikey_create_deployment_prints_app_id_and_secret_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deployment_id = _deployment(tmp_path)
    argv = [
        "create",
        "--data-dir",
        str(tmp_path),
        "--deployment",
        deployment_id,
        "--permission",
        "GET:clients",
    ]
    assert apikey_cli.main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"app_id", "app_secret", "deployment_id"}
    database = Database.from_url(f"sqlite:///{tmp_path / 'mqttcloud.db'}")
    try:
        with database.session() as session:
            key = keys.find_by_app_id(session, app_id=printed["app_id"])
            assert key is not None
            assert key.deployment_id == deployment_id
            assert key.permissions == ["GET:clients"]
            assert verify_api_secret(printed["app_secret"], key.secret_hash)
            assert printed["app_secret"] not in key.secret_hash
    finally:
        database.dispose()


def test_apikey_create_for_unknown_deployment_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert apikey_cli.main(["create", "--data-dir", str(tmp_path), "--deployment", "nope0000"]) == 1
    assert "not found" in capsys.readouterr().err


def test_platform_key_still_needs_a_description(tmp_path: Path) -> None:
    assert apikey_cli.main(["create", "--data-dir", str(tmp_path)]) == 2


def test_migration_0002_up_and_down(tmp_path: Path) -> None:
    database = Database.from_url(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        migrations.upgrade(database.engine, "0002")
        assert set(inspect(database.engine).get_table_names()) >= TABLES
        migrations.downgrade(database.engine, "0001")
        assert not TABLES & set(inspect(database.engine).get_table_names())
    finally:
        database.dispose()
