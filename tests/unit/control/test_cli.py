"""`mqttcloud apikey` and `mqttcloud db` entry points, run in process on a data folder."""

import json
from pathlib import Path

import pytest

from mqttcloud.control import apikey_cli, db_cli, migrations
from mqttcloud.control.api_keys.models import ApiKey
from mqttcloud.control.db import Database
from mqttcloud.passwords import verify_api_secret


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MQTTCLOUD_DATABASE_URL", "MQTTCLOUD_DATA_DIR", "MQTTCLOUD_ROOT_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def test_db_upgrade_creates_the_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert db_cli.main(["upgrade", "--data-dir", str(tmp_path)]) == 0
    assert f"revision {migrations.head_revision()}" in capsys.readouterr().out
    database = Database.from_url(f"sqlite:///{tmp_path / 'mqttcloud.db'}")
    try:
        assert migrations.current_revision(database.engine) == migrations.head_revision()
    finally:
        database.dispose()


def test_apikey_create_prints_key_and_secret_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        apikey_cli.main(["create", "--data-dir", str(tmp_path), "--description", "ci", "--scope", "tls"]) == 0
    )
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert set(printed) == {"key", "secret"}
    assert "root /" in captured.err  # the root account was created on the way, its password shown once
    database = Database.from_url(f"sqlite:///{tmp_path / 'mqttcloud.db'}")
    try:
        with database.session() as session:
            row = session.query(ApiKey).one()
            assert row.key == printed["key"]
            assert row.scopes == ["tls"]
            assert row.description == "ci"
            assert verify_api_secret(printed["secret"], row.secret_hash)
            assert printed["secret"] not in row.secret_hash
    finally:
        database.dispose()

    assert apikey_cli.main(["list", "--data-dir", str(tmp_path)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [k["key"] for k in listed] == [printed["key"]]
    assert "secret" not in json.dumps(listed).replace("secret_hash", "")
    assert apikey_cli.main(["delete", "--data-dir", str(tmp_path), "--key", printed["key"]]) == 0
    assert apikey_cli.main(["delete", "--data-dir", str(tmp_path), "--key", printed["key"]]) == 1


def test_apikey_create_with_bad_scope_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = apikey_cli.main(
        ["create", "--data-dir", str(tmp_path), "--description", "x", "--scope", "billing"]
    )
    assert code == 1
    assert "unknown functionality scope" in capsys.readouterr().err
