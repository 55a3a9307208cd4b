"""`mqttcloud serve` argument handling and start-up refusals (no server is started here)."""

from pathlib import Path

import pytest

from mqttcloud.control import serve


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MQTTCLOUD_DATABASE_URL", "MQTTCLOUD_DATA_DIR", "MQTTCLOUD_ROOT_PASSWORD", "MQTTCLOUD_PORT"):
        monkeypatch.delenv(name, raising=False)


def test_options_become_settings(tmp_path: Path) -> None:
    settings = serve._settings(
        [
            "--data-dir",
            str(tmp_path),
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--http",
            "--broker-ports",
            "30000-30099",
        ]
    )
    assert (settings.data_dir, settings.host, settings.port, settings.use_tls) == (
        tmp_path,
        "0.0.0.0",
        0,
        False,
    )
    assert (settings.broker_port_low, settings.broker_port_high) == (30000, 30099)


def test_banner_lists_every_url_and_the_ca(tmp_path: Path) -> None:
    settings = serve._settings(["--data-dir", str(tmp_path), "--host", "0.0.0.0"])
    banner = serve._banner(settings, 8443, "root / secret")
    assert "https://127.0.0.1:8443/console/" in banner
    assert "https://127.0.0.1:8443/public_api/v1 " in banner
    assert "https://127.0.0.1:8443/api/v5" in banner
    assert "root / secret" in banner
    assert str((tmp_path / "pki" / "ca.pem").resolve()) in banner


def test_short_root_password_is_refused_before_listening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MQTTCLOUD_ROOT_PASSWORD", "short")
    assert serve.main(["--data-dir", str(tmp_path), "--port", "0"]) == 2
    assert "at least 8 characters" in capsys.readouterr().err


def test_bad_broker_port_range_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert serve.main(["--data-dir", str(tmp_path), "--broker-ports", "9-1"]) == 2
    assert "port range" in capsys.readouterr().err
