"""`at_rest`: owner-only data folder, and secrets sealed with a key kept outside the database."""

import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from mqttcloud.control.at_rest import SecretBox, SecretUnreadable, is_sealed, secure_data_dir
from mqttcloud.control.config import Settings
from mqttcloud.control.errors import ConfigError

PEM = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n-----END PRIVATE KEY-----\n"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sealed_value_opens_to_the_original_and_does_not_contain_it(tmp_path: Path) -> None:
    box = SecretBox.for_settings(Settings(data_dir=tmp_path))
    sealed = box.seal(PEM)
    assert is_sealed(sealed)
    assert "PRIVATE KEY" not in sealed
    assert box.open(sealed) == PEM
    assert box.seal(PEM) != sealed  # a fresh IV each time


def test_plain_value_from_before_sealing_opens_as_it_is(tmp_path: Path) -> None:
    assert SecretBox.for_settings(Settings(data_dir=tmp_path)).open(PEM) == PEM


def test_key_file_is_generated_once_owner_only_and_reused(tmp_path: Path) -> None:
    sealed = SecretBox.for_settings(Settings(data_dir=tmp_path)).seal(PEM)
    assert _mode(tmp_path / "secret.key") == 0o600
    assert SecretBox.for_settings(Settings(data_dir=tmp_path)).open(sealed) == PEM


def test_value_sealed_with_another_key_is_refused(tmp_path: Path) -> None:
    sealed = SecretBox.for_settings(Settings(data_dir=tmp_path / "a")).seal(PEM)
    with pytest.raises(SecretUnreadable):
        SecretBox.for_settings(Settings(data_dir=tmp_path / "b")).open(sealed)


def test_key_from_the_environment_is_used_and_no_key_file_written(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    settings = Settings.from_env({"MQTTCLOUD_SECRET_KEY": key}, data_dir=tmp_path)
    sealed = SecretBox.for_settings(settings).seal(PEM)
    assert SecretBox(key).open(sealed) == PEM
    assert not (tmp_path / "secret.key").exists()
    assert key not in repr(settings)


@pytest.mark.parametrize("key", ["short", "x" * 44, ""])
def test_malformed_key_is_a_config_error_naming_the_variable(key: str) -> None:
    with pytest.raises(ConfigError, match="MQTTCLOUD_SECRET_KEY"):
        SecretBox(key)


def test_data_dir_and_everything_under_it_become_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "brokers" / "d1").mkdir(parents=True)
    for path in (data / "mqttcloud.db", data / "brokers" / "d1" / "broker.log"):
        path.write_text("x")
        os.chmod(path, 0o644)
    os.chmod(data, 0o755)
    os.chmod(data / "brokers" / "d1", 0o755)
    secure_data_dir(data)
    assert _mode(data) == 0o700
    assert _mode(data / "brokers" / "d1") == 0o700
    assert _mode(data / "mqttcloud.db") == 0o600
    assert _mode(data / "brokers" / "d1" / "broker.log") == 0o600
