"""Process lifecycle: SIGTERM shutdown stages, persistence across restart and across `kill -9`."""

import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.integration.broker import mqtt_wire as w
from tests.integration.broker.harness import TENANT, BrokerProcess, make_spec

from mqttcloud import contracts

Factory = Callable[[contracts.BrokerSpec], BrokerProcess]
MESSAGES = 10_000


def test_sigterm_sends_disconnect_0x8b_to_v5_and_exits_0(broker_factory: Factory, tmp_path: Path) -> None:
    b = broker_factory(make_spec(tmp_path))
    with w.connected(b.port(), "v5", version=5) as c5, w.connected(b.port(), "v4") as c4:
        assert b.stop() == 0
        reply = c5.recv_packet()
        assert reply[0] == 0xE0
        assert reply[2] == 0x8B  # server shutting down
        assert c5.is_closed()
        assert c4.is_closed()
    assert not Path(b.spec.ready_file).exists()


def _drain_pubacks(c: w.Client, count: int) -> set[int]:
    acked: set[int] = set()
    while len(acked) < count:
        pkt = c.recv_packet()
        assert pkt[0] == 0x40, pkt.hex()
        acked.add(struct.unpack("!H", pkt[2:4])[0])
    return acked


def _publish_all(port: int, topic: str, count: int) -> None:
    """Publish `count` QoS 1 messages in pipelined batches and wait for every PUBACK."""
    with w.connected(port, "crash-pub") as pub:
        sent = 0
        while sent < count:
            batch = min(500, count - sent)
            pub.send(
                b"".join(
                    w.publish(topic, f"m{sent + i:05d}".encode(), qos=1, mid=(sent + i) % 65535 + 1)
                    for i in range(batch)
                )
            )
            assert len(_drain_pubacks(pub, batch)) == batch
            sent += batch


def _split_publish(pkt: bytes, *, version: int = 4) -> tuple[str, int, bytes]:
    """(topic, packet id, payload) of a QoS 1/2 PUBLISH (v5: one without properties)."""
    assert pkt[0] & 0xF0 == 0x30, pkt.hex()
    assert pkt[0] & 0x06, pkt.hex()  # QoS 1 or 2: a packet id follows the topic
    # fixed header (2-4 bytes) | topic | packet id | [v5: property length 0] | payload
    pos = 1
    while pkt[pos] & 0x80:
        pos += 1
    pos += 1
    (tlen,) = struct.unpack("!H", pkt[pos : pos + 2])
    topic = pkt[pos + 2 : pos + 2 + tlen].decode()
    pos += 2 + tlen
    (mid,) = struct.unpack("!H", pkt[pos : pos + 2])
    pos += 2
    if version == 5:
        assert pkt[pos] == 0, pkt.hex()  # no properties
        pos += 1
    return topic, mid, pkt[pos:]


def _receive_all(c: w.Client, count: int) -> list[bytes]:
    payloads: list[bytes] = []
    while len(payloads) < count:
        _topic, mid, payload = _split_publish(c.recv_packet())
        payloads.append(payload)
        c.send(w.puback(mid))
    return payloads


def test_queued_qos1_messages_survive_kill_9(broker_factory: Factory, tmp_path: Path) -> None:
    """Persistent subscriber offline, 10,000 QoS 1 messages acknowledged, kill -9, restart: all delivered."""
    tenant = contracts.TenantSpec(
        tenant_id=TENANT, allow_anonymous=True, limits=contracts.Limits(max_queue_len=20_000)
    )
    spec = make_spec(tmp_path, tenants=[tenant])
    b = broker_factory(spec)
    with w.Client(b.port()) as sub:
        sub.send(w.connect("crash-sub", clean=False))
        sub.expect(w.CONNACK_V4_OK)
        sub.send(w.subscribe(1, "crash/#", 1))
        sub.expect(b"\x90\x03\x00\x01\x01")
        sub.send(w.DISCONNECT)
        assert sub.is_closed()
    _publish_all(b.port(), "crash/t", MESSAGES)
    b.kill9()
    b.start()
    with w.Client(b.port(), timeout=30) as sub:
        sub.send(w.connect("crash-sub", clean=False))
        sub.expect(b"\x20\x02\x01\x00")  # session present
        payloads = _receive_all(sub, MESSAGES)
    assert payloads == [f"m{i:05d}".encode() for i in range(MESSAGES)]


def test_retained_message_survives_restart(broker_factory: Factory, tmp_path: Path) -> None:
    b = broker_factory(make_spec(tmp_path))
    with w.connected(b.port(), "ret-pub") as pub:
        pub.send(w.publish("keep/me", b"retained!", qos=1, mid=1, retain=True))
        pub.expect(w.puback(1))
    assert b.stop() == 0
    started = time.monotonic()
    b.start()
    assert time.monotonic() - started < 15
    with w.connected(b.port(), "ret-sub") as sub:
        sub.send(w.subscribe(1, "keep/#", 0))
        sub.expect(b"\x90\x03\x00\x01\x00")
        sub.expect(w.publish("keep/me", b"retained!", retain=True))


def test_flags_start_a_working_broker(tmp_path: Path) -> None:
    """`mqttcloud broker --listen ... --allow-anonymous --ready-file F` without a spec file."""
    import json
    import subprocess
    import sys

    ready = tmp_path / "ready.json"
    err = (tmp_path / "stderr").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mqttcloud",
            "broker",
            "--listen",
            "tcp://127.0.0.1:0",
            "--allow-anonymous",
            "--data-dir",
            str(tmp_path / "data"),
            "--ready-file",
            str(ready),
        ],
        stderr=err,
    )
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert proc.poll() is None, (tmp_path / "stderr").read_text()
            assert time.monotonic() < deadline, (tmp_path / "stderr").read_text()
            time.sleep(0.02)
        port = json.loads(ready.read_text())["listeners"][0]["port"]
        with w.connected(port, "flags") as c:
            c.send(w.PINGREQ)
            c.expect(w.PINGRESP)
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
        err.close()


def _connect_v5_persistent(port: int, client_id: str) -> tuple[w.Client, bool]:
    """A v5 client with a 600 s session; returns it and CONNACK's session-present flag."""
    c = w.Client(port)
    c.send(w.connect(client_id, version=5, clean=False, properties=b"\x11" + struct.pack("!I", 600)))
    ack = c.recv_packet()
    assert ack[0] == 0x20, ack.hex()
    assert ack[3] == 0, ack.hex()
    return c, bool(ack[2] & 0x01)


def _offline_v5_subscriber(port: int, client_id: str, topic_filter: str, qos: int) -> None:
    """A persistent v5 session subscribed to `topic_filter`, then disconnected normally."""
    c, _ = _connect_v5_persistent(port, client_id)
    with c:
        c.send(w.subscribe(1, topic_filter, qos, version=5))
        c.expect(b"\x90\x04\x00\x01\x00" + bytes([qos]))
        c.send(w.DISCONNECT)
        assert c.is_closed()


def test_inbound_qos2_awaiting_pubrel_survives_kill_9(broker_factory: Factory, tmp_path: Path) -> None:
    """Spec 4.1: the client's QoS 2 ids not yet released are session state, kept across `kill -9`.

    After the restart the re-sent PUBLISH (DUP) is acknowledged but not routed again, and PUBREL gets
    PUBCOMP 0x00. Had the broker forgotten the id, it would route the re-sent PUBLISH as a new
    message and the subscriber would get a second copy (checked: it does without the record).
    """
    b = broker_factory(make_spec(tmp_path))
    _offline_v5_subscriber(b.port(), "q2-sub", "q2/#", 2)
    pub, _ = _connect_v5_persistent(b.port(), "q2-pub")
    with pub:
        pub.send(w.publish("q2/t", b"once", qos=2, mid=7, version=5))
        pub.expect(b"\x50\x02\x00\x07")  # PUBREC: on disk before it went out
    b.kill9()
    b.start()
    pub, present = _connect_v5_persistent(b.port(), "q2-pub")
    with pub:
        assert present
        resent = bytearray(w.publish("q2/t", b"once", qos=2, mid=7, version=5))
        resent[0] |= 0x08  # DUP
        pub.send(bytes(resent))
        pub.expect(b"\x50\x02\x00\x07")
        pub.send(b"\x62\x02\x00\x07")  # PUBREL
        pub.expect(b"\x70\x02\x00\x07")  # PUBCOMP 0x00
    sub, present = _connect_v5_persistent(b.port(), "q2-sub")
    with sub:
        assert present
        first = sub.recv_packet()
        assert first[0] & 0xF6 == 0x34, first.hex()  # a QoS 2 PUBLISH
        _topic, mid, payload = _split_publish(first, version=5)
        assert payload == b"once"
        sub.send(b"\x50\x02" + struct.pack("!H", mid))  # PUBREC
        assert sub.recv_packet()[0] == 0x62  # PUBREL; then nothing else, no second copy:
        sub.sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sub.sock.recv(1)


def _connect_with_delayed_will(client_id: str, delay: int) -> bytes:
    """v5 CONNECT: clean start off, session expiry 600 s, a QoS 1 will on `w/<id>` delayed `delay` s."""
    props = b"\x05\x11" + struct.pack("!I", 600)
    will_props = b"\x05\x18" + struct.pack("!I", delay)
    body = (
        w.utf8("MQTT") + bytes([5, 0x0C]) + struct.pack("!H", 60) + props + w.utf8(client_id)
        + will_props + w.utf8(f"w/{client_id}") + w.utf8("gone")
    )  # fmt: skip
    return w.packet(0x10, body)


def test_delayed_will_survives_kill_9(broker_factory: Factory, tmp_path: Path) -> None:
    """A v5 will delayed 3 s, pending when the broker is killed: published after the restart."""
    b = broker_factory(make_spec(tmp_path))
    _offline_v5_subscriber(b.port(), "watch", "w/#", 1)
    with w.Client(b.port()) as gone:
        gone.send(_connect_with_delayed_will("c9", 3))
        assert gone.recv_packet()[0] == 0x20
    time.sleep(0.2)  # the broker sees the close and schedules the will
    with w.connected(b.port(), "marker") as pub:  # the log is in order: once this is acked, so is the will
        pub.send(w.publish("w/marker", b"m", qos=1, mid=1))
        pub.expect(w.puback(1))
    b.kill9()
    b.start()
    watch, present = _connect_v5_persistent(b.port(), "watch")
    with watch:
        assert present
        got = []
        for _ in range(2):  # the marker, then the will once its 3 s have passed
            pkt = watch.recv_packet()
            assert pkt[0] & 0xF6 == 0x32, pkt.hex()  # a QoS 1 PUBLISH
            topic, mid, payload = _split_publish(pkt, version=5)
            got.append((topic, payload))
            watch.send(w.puback(mid))
        assert got == [("w/marker", b"m"), ("w/c9", b"gone")]
