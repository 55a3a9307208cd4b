"""`mqttcloud broker` argument handling: flags → BrokerSpec, spec files in JSON and TOML."""

from pathlib import Path

import pytest
from tests.certs import default_pki

from mqttcloud import contracts
from mqttcloud.runtime.main import (
    UsageError,
    build_parser,
    load_spec_file,
    main,
    parse_listen,
    spec_from_flags,
)

T = contracts.TenantId("default")


def test_listen_urls_map_to_listener_kinds_and_names() -> None:
    listeners = parse_listen(
        ["tcp://127.0.0.1:0", "mqtt://0.0.0.0:1884", "ws://127.0.0.1:0/ws", "mqtts://h:0", "wss://h:0"], T
    )
    assert [(ls.name, ls.kind, ls.port, ls.ws_path) for ls in listeners] == [
        ("tcp:default", "tcp", 0, "/mqtt"),
        ("tcp:1", "tcp", 1884, "/mqtt"),
        ("ws:default", "ws", 0, "/ws"),
        ("tls:default", "tls", 0, "/mqtt"),
        ("wss:default", "wss", 0, "/mqtt"),
    ]
    assert all(ls.tenant == T for ls in listeners)


def test_listen_default_ports() -> None:
    assert [ls.port for ls in parse_listen(["tcp://h", "ws://h", "mqtts://h", "wss://h"], T)] == [
        1883,
        8083,
        8883,
        8084,
    ]


@pytest.mark.parametrize("url", ["http://h:1", "tcp://:1", "tcp://h:99999"])
def test_bad_listen_url_is_usage_error(url: str) -> None:
    with pytest.raises(UsageError):
        parse_listen([url], T)


def test_flags_build_one_tenant_spec_with_two_way_tls(tmp_path: Path) -> None:
    pki = default_pki()
    cert, key = pki.server.write(tmp_path, "server")
    ca = tmp_path / "ca.pem"
    ca.write_text(pki.root.cert_pem)
    ns = build_parser().parse_args(
        [
            "--listen",
            "mqtts://127.0.0.1:0",
            "--cert",
            str(cert),
            "--key",
            str(key),
            "--cafile",
            str(ca),
            "--allow-anonymous",
            "--data-dir",
            str(tmp_path / "d"),
            "--admin-token",
            "tok",
        ]
    )
    spec = spec_from_flags(ns)
    assert spec.tls is not None
    assert spec.tls.mode is contracts.TlsMode.TWO_WAY
    assert spec.tenants[0].allow_anonymous
    assert spec.admin.token == "tok"
    assert spec.ready_file == str(tmp_path / "d" / "ready.json")


def test_cert_without_key_is_usage_error(tmp_path: Path) -> None:
    ns = build_parser().parse_args(["--cert", str(tmp_path / "c.pem"), "--data-dir", str(tmp_path)])
    with pytest.raises(UsageError):
        spec_from_flags(ns)


def test_spec_file_json_and_toml_agree(tmp_path: Path) -> None:
    spec = contracts.BrokerSpec(
        broker_id="b",
        data_dir=str(tmp_path),
        ready_file=str(tmp_path / "r.json"),
        admin=contracts.AdminSpec(token="t"),
        tenants=[contracts.TenantSpec(tenant_id=T)],
    )
    as_json = tmp_path / "spec.json"
    as_json.write_text(spec.model_dump_json())
    as_toml = tmp_path / "spec.toml"
    as_toml.write_text(
        f'broker_id = "b"\ndata_dir = "{tmp_path}"\nready_file = "{tmp_path / "r.json"}"\n'
        '[admin]\ntoken = "t"\n[[tenants]]\ntenant_id = "default"\n'
    )
    assert load_spec_file(as_json) == spec
    assert load_spec_file(as_toml) == spec


def _toml_spec(tmp_path: Path, listener: str) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(
        f'broker_id = "b"\ndata_dir = "{tmp_path}"\nready_file = "{tmp_path / "r.json"}"\n'
        '[admin]\ntoken = "t"\n[[tenants]]\ntenant_id = "default"\n'
        f'[[listeners]]\nname = "tcp:x"\nkind = "tcp"\nport = 0\n{listener}'
    )
    return path


def test_fixed_listener_without_a_tenant_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"listener 'tcp:x'.*needs a tenant \(one of: default\)"):
        load_spec_file(_toml_spec(tmp_path, 'tenant_selector = "fixed"\n'))


def test_fixed_listener_with_an_unknown_tenant_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="tenant 'other' is not among the spec's tenants"):
        load_spec_file(_toml_spec(tmp_path, 'tenant = "other"\n'))


def test_fixed_listener_with_a_tenant_of_the_spec_loads(tmp_path: Path) -> None:
    spec = load_spec_file(_toml_spec(tmp_path, 'tenant = "default"\n'))
    assert spec.listeners[0].tenant == "default"


def test_sni_listener_needs_no_tenant(tmp_path: Path) -> None:
    spec = load_spec_file(_toml_spec(tmp_path, 'tenant_selector = "sni"\n'))
    assert spec.listeners[0].tenant is None


def test_an_unknown_log_format_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MQTTCLOUD_LOG_FORMAT", raising=False)
    assert main(["--log-format", "yaml"]) == 2
    monkeypatch.setenv("MQTTCLOUD_LOG_FORMAT", "xml")  # the flag's default
    assert main([]) == 2
    assert "log format must be one of text, json, not 'xml'" in capsys.readouterr().err
