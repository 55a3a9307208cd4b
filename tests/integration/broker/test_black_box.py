"""Black-box broker behaviour over a raw socket, exact bytes, one behaviour per test.

Each client asks `broker.port()` for its port: against a cluster (tests/integration/cluster/
test_suites_on_nodes.py) the clients of one test land on different nodes."""

from collections.abc import Callable
from pathlib import Path

from tests.integration.broker import mqtt_wire as w
from tests.integration.broker.harness import TENANT, BrokerProcess, make_spec

from mqttcloud import contracts


def test_connect_v311_gets_connack_accepted(broker: BrokerProcess) -> None:
    with w.Client(broker.port()) as c:
        c.send(w.connect("bb-1"))
        c.expect(w.CONNACK_V4_OK)


def test_connect_v5_gets_connack_success(broker: BrokerProcess) -> None:
    with w.Client(broker.port()) as c:
        c.send(w.connect("bb-2", version=5))
        ack = c.recv_packet()
        assert ack[0] == 0x20
        assert ack[2:4] == b"\x00\x00"  # session present 0, reason Success


def test_pingreq_gets_pingresp(broker: BrokerProcess) -> None:
    with w.connected(broker.port(), "bb-ping") as c:
        c.send(w.PINGREQ)
        c.expect(w.PINGRESP)


def test_qos1_publish_is_acked_and_delivered(broker: BrokerProcess) -> None:
    with w.connected(broker.port(), "bb-sub") as sub, w.connected(broker.port(), "bb-pub") as pub:
        sub.send(w.subscribe(1, "bb/#", 1))
        sub.expect(b"\x90\x03\x00\x01\x01")
        pub.send(w.publish("bb/x", b"hello", qos=1, mid=7))
        pub.expect(w.puback(7))
        got = sub.recv_packet()
        assert got[0] == 0x32
        assert got.endswith(b"bb/x" + got[-7:-5] + b"hello")
        sub.send(w.puback(int.from_bytes(got[-7:-5], "big")))


def test_split_and_coalesced_packets_are_framed(broker: BrokerProcess) -> None:
    """CONNECT sent one byte at a time, then PINGREQ x3 in one segment."""
    with w.Client(broker.port()) as c:
        for byte in w.connect("bb-split"):
            c.send(bytes([byte]))
        c.expect(w.CONNACK_V4_OK)
        c.send(w.PINGREQ * 3)
        c.expect(w.PINGRESP * 3)


def test_first_packet_not_connect_closes(broker: BrokerProcess) -> None:
    with w.Client(broker.port()) as c:
        c.send(w.PINGREQ)
        assert c.is_closed()


def test_unsupported_protocol_level_gets_refusing_connack_then_close(broker: BrokerProcess) -> None:
    """[MQTT-3.1.2-2]: "MQTT" with level 3 (3.1 is named "MQIsdp") gets exactly CONNACK 0x01, then close."""
    with w.Client(broker.port()) as c:
        c.send(w.connect("bb-lvl", version=3))
        assert c.recv_packet() == b"\x20\x02\x00\x01"
        assert c.is_closed()


def test_mqtt31_connect_accepted_then_subscribe_and_publish(broker: BrokerProcess) -> None:
    """MQTT 3.1 ("MQIsdp", level 3), client id over 3.1's 23 characters: CONNACK 0x00, then 3.1.1 bytes."""
    client_id = "bb-mqtt31-" + "x" * 30
    body = w.utf8("MQIsdp") + b"\x03\x02\x00\x3c" + w.utf8(client_id)
    with w.Client(broker.port()) as c:
        c.send(w.packet(0x10, body))
        assert c.recv_packet() == b"\x20\x02\x00\x00"
        c.send(w.subscribe(1, "bb/v31", qos=1))
        assert c.recv_packet() == b"\x90\x03\x00\x01\x01"
        c.send(w.publish("bb/v31", b"hi", qos=1, mid=5))
        got = {c.recv_packet(), c.recv_packet()}
        assert got == {b"\x40\x02\x00\x05", w.publish("bb/v31", b"hi", qos=1, mid=1)}


def test_malformed_packet_closes_only_that_connection(broker: BrokerProcess) -> None:
    with w.connected(broker.port(), "bb-good") as good, w.connected(broker.port(), "bb-bad") as bad:
        bad.send(b"\x00\x00")  # reserved packet type 0
        assert bad.is_closed()
        good.send(w.PINGREQ)
        good.expect(w.PINGRESP)


def test_malformed_packet_v5_gets_disconnect_0x81(broker: BrokerProcess) -> None:
    with w.connected(broker.port(), "bb-bad5", version=5) as c:
        c.send(b"\x60\x02\x00\x01")  # PUBREL must have flags 0010 [MQTT-3.6.1-1]
        reply = c.recv_packet()
        assert reply[0] == 0xE0
        assert reply[2] == 0x81
        assert c.is_closed()


def test_oversized_packet_v5_gets_disconnect_0x95(
    broker_factory: Callable[[contracts.BrokerSpec], BrokerProcess], tmp_path: Path
) -> None:
    tenant = contracts.TenantSpec(
        tenant_id=TENANT, allow_anonymous=True, limits=contracts.Limits(max_packet_size=1024)
    )
    b = broker_factory(make_spec(tmp_path, tenants=[tenant]))
    with (
        w.connected(b.port(), "bb-ok", version=5) as ok,
        w.connected(b.port(), "bb-big", version=5) as big,
    ):
        big.send(w.publish("big", b"x" * 2000, version=5))
        reply = big.recv_packet()
        assert reply[0] == 0xE0
        assert reply[2] == 0x95
        assert big.is_closed()
        ok.send(w.PINGREQ)
        ok.expect(w.PINGRESP)


def test_connect_timeout_closes_silent_connection(
    broker_factory: Callable[[contracts.BrokerSpec], BrokerProcess], tmp_path: Path
) -> None:
    tenant = contracts.TenantSpec(
        tenant_id=TENANT, allow_anonymous=True, limits=contracts.Limits(connect_timeout=0.5)
    )
    b = broker_factory(make_spec(tmp_path, tenants=[tenant]))
    with w.Client(b.port()) as c:
        assert c.is_closed(within=3.0)


def test_keepalive_expiry_closes_after_one_and_a_half_periods(broker: BrokerProcess) -> None:
    with w.connected(broker.port(), "bb-ka", keepalive=1) as c:
        assert c.is_closed(within=4.0)


def test_keepalive_is_kept_by_pings(broker: BrokerProcess) -> None:
    with w.connected(broker.port(), "bb-ka2", keepalive=1) as c:
        for _ in range(4):  # 4 x 0.5 s > 1.5 s keep-alive window
            c.send(w.PINGREQ)
            c.expect(w.PINGRESP)
            assert not c.is_closed(within=0.5)


def test_anonymous_refused_when_not_allowed(
    broker_factory: Callable[[contracts.BrokerSpec], BrokerProcess], tmp_path: Path
) -> None:
    b = broker_factory(make_spec(tmp_path, tenants=[contracts.TenantSpec(tenant_id=TENANT)]))
    with w.Client(b.port()) as c:
        c.send(w.connect("anon"))
        c.expect(b"\x20\x02\x00\x05")  # v3.1.1 not authorized


def test_bcrypt_user_authenticates_in_thread(
    broker_factory: Callable[[contracts.BrokerSpec], BrokerProcess], tmp_path: Path
) -> None:
    """Slow hashes run off the loop; packets pipelined behind CONNECT are handled after CONNACK."""
    import bcrypt

    user = contracts.UserRecord(
        user_id="alice",
        password_hash=bcrypt.hashpw(b"secret", bcrypt.gensalt(rounds=4)).decode(),
        algorithm=contracts.HashAlgorithm.BCRYPT,
    )
    b = broker_factory(make_spec(tmp_path, tenants=[contracts.TenantSpec(tenant_id=TENANT, users=[user])]))
    with w.Client(b.port()) as c:
        c.send(w.connect("bc", username="alice", password="secret") + w.PINGREQ)
        c.expect(w.CONNACK_V4_OK + w.PINGRESP)
    with w.Client(b.port()) as c:
        c.send(w.connect("bc2", username="alice", password="wrong"))
        c.expect(b"\x20\x02\x00\x04")  # bad user name or password
