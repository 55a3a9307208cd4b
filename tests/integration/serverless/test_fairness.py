"""Per-tenant fairness in the shared broker process (runtime.fairness): a tenant flooding the process is
held at its deployment rate while another tenant's messages keep flowing. The broker runs a two-tenant
Serverless-style BrokerSpec directly (one TLS listener with the SNI selector)."""

import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.broker import mqtt_wire as w
from tests.integration.broker.harness import BrokerProcess
from tests.integration.serverless.wire import connect, open_tls, subscribe

from mqttcloud import contracts
from mqttcloud.control.pki import load_or_create_ca

RATE = 400.0  # messages/s per tenant (the deployment TPS; Serverless uses 1000)
FLOOD = 3000


@pytest.fixture
def shared_broker(tmp_path: Path) -> Iterator[tuple[BrokerProcess, str]]:
    ca = load_or_create_ca(tmp_path / "pki")
    cert_pem, key_pem = ca.issue_server_cert(["*.fair.test"])
    user = contracts.UserRecord(user_id="u", password_hash="p", algorithm=contracts.HashAlgorithm.PLAIN)
    limits = contracts.Limits(max_tenant_rate=RATE)
    spec = contracts.BrokerSpec(
        broker_id="serverless",
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
            contracts.TenantSpec(
                tenant_id=contracts.TenantId(t), sni_hosts=[f"{t}.fair.test"], users=[user], limits=limits
            )
            for t in ("noisy", "quiet")
        ],
        sys_interval=0.0,
    )
    proc = BrokerProcess(spec, tmp_path)
    proc.start()
    yield proc, ca.ca_pem
    proc.stop()
    print(proc.stderr()[-5000:])


def count_publishes(client: w.Client, until: float, stop_at: int | None = None) -> int:
    """How many PUBLISH packets arrive before the monotonic deadline `until` (or until `stop_at`)."""
    n = 0
    while time.monotonic() < until and n != stop_at:
        client.timeout = max(0.01, until - time.monotonic())
        try:
            pkt = client.recv_packet()
        except (TimeoutError, ConnectionError):
            break
        if pkt[0] & 0xF0 == 0x30:
            n += 1
    return n


def test_a_flooding_tenant_is_held_at_its_rate_and_the_other_keeps_flowing(
    shared_broker: tuple[BrokerProcess, str],
) -> None:
    broker, ca_pem = shared_broker
    ctx = ssl.create_default_context(cadata=ca_pem)
    port = broker.port("ssl:default")
    opened: list[w.Client] = []

    def client(tenant: str, client_id: str) -> w.Client:
        c = open_tls(port, ctx, f"{tenant}.fair.test")
        opened.append(c)
        assert connect(c, client_id, username="u", password="p") == 0
        return c

    try:
        noisy_sub, quiet_sub = client("noisy", "sub"), client("quiet", "sub")
        assert subscribe(noisy_sub, 1, ["f/#"]) == [0]
        assert subscribe(quiet_sub, 1, ["f/#"]) == [0]
        noisy_pub, quiet_pub = client("noisy", "pub"), client("quiet", "pub")
        started = time.monotonic()
        noisy_pub.send(b"".join(w.publish("f/n", b"%05d" % i, version=5) for i in range(FLOOD)))
        quiet_pub.send(b"".join(w.publish("f/q", b"%05d" % i, version=5) for i in range(100)))
        # The quiet tenant's 100 messages all arrive promptly, although the process is being flooded.
        assert count_publishes(quiet_sub, time.monotonic() + 3.0, stop_at=100) == 100
        elapsed_quiet = time.monotonic() - started
        assert elapsed_quiet < 1.5
        # The noisy tenant got at most its burst plus its rate for the time that passed (and some slack
        # for the read already in flight when the bucket emptied); the rest waits in TCP, not lost.
        window_end = started + 2.0
        noisy = count_publishes(noisy_sub, window_end)
        allowed = RATE + RATE * (time.monotonic() - started) + 700
        assert noisy < FLOOD
        assert 0 < noisy <= allowed, (noisy, allowed, elapsed_quiet)
        # ... and it keeps being served at its rate afterwards: nothing was dropped.
        more = count_publishes(noisy_sub, time.monotonic() + 1.0)
        assert more > RATE * 0.5
    finally:
        for c in opened:
            c.close()
