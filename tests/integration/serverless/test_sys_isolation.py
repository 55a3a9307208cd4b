"""`$SYS` statistics in the shared broker are per tenant: a `$SYS/#` subscriber sees its own deployment's
numbers only. The broker runs a two-tenant SNI BrokerSpec directly, with a short `$SYS` interval."""

import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.broker import mqtt_wire as w
from tests.integration.broker.harness import BrokerProcess
from tests.integration.serverless.wire import connect, next_publish, open_tls, subscribe

from mqttcloud import contracts
from mqttcloud.control.pki import load_or_create_ca


@pytest.fixture
def sys_broker(tmp_path: Path) -> Iterator[tuple[BrokerProcess, str]]:
    ca = load_or_create_ca(tmp_path / "pki")
    cert_pem, key_pem = ca.issue_server_cert(["*.sys.test"])
    user = contracts.UserRecord(user_id="u", password_hash="p", algorithm=contracts.HashAlgorithm.PLAIN)
    spec = contracts.BrokerSpec(
        broker_id="serverless",
        node_name="emqx@serverless",
        data_dir=str(tmp_path / "data"),
        ready_file=str(tmp_path / "ready.json"),
        admin=contracts.AdminSpec(token="test-admin-token"),
        listeners=[
            contracts.ListenerSpec(
                name="ssl:default",
                kind=contracts.ListenerKind.TLS,
                port=0,
                tenant_selector=contracts.TenantSelector.SNI,
            )
        ],
        tls=contracts.TlsSpec(cert_pem=cert_pem, key_pem=key_pem),
        tenants=[
            contracts.TenantSpec(tenant_id=contracts.TenantId(t), sni_hosts=[f"{t}.sys.test"], users=[user])
            for t in ("a", "b")
        ],
        sys_interval=0.3,
    )
    proc = BrokerProcess(spec, tmp_path)
    proc.start()
    yield proc, ca.ca_pem
    proc.stop()
    print(proc.stderr()[-5000:])


def test_sys_connection_count_is_the_tenants_own(sys_broker: tuple[BrokerProcess, str]) -> None:
    broker, ca_pem = sys_broker
    ctx = ssl.create_default_context(cadata=ca_pem)
    port = broker.port("ssl:default")
    opened: list[w.Client] = []

    def client(tenant: str, client_id: str) -> w.Client:
        c = open_tls(port, ctx, f"{tenant}.sys.test")
        opened.append(c)
        assert connect(c, client_id, username="u", password="p") == 0
        return c

    try:
        for i in range(4):
            client("b", f"b-{i}")
        watcher = client("a", "watcher")
        assert subscribe(watcher, 1, ["$SYS/brokers/+/stats/connections/count"]) == [0]
        deadline = time.monotonic() + 10.0
        counts: list[bytes] = []
        while time.monotonic() < deadline and len(counts) < 2:
            topic, payload, _retain = next_publish(watcher)
            assert topic == "$SYS/brokers/emqx@serverless/stats/connections/count"
            counts.append(payload)
        assert counts == [b"1", b"1"]  # the watcher alone: B's four connections are not A's
    finally:
        for c in opened:
            c.close()
