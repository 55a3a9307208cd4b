"""Durability records: byte codec, and restart = replay of the records the core emitted."""

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.broker.pair import Harness, publish

from mqttcloud import contracts
from mqttcloud.broker.core import Broker
from mqttcloud.broker.durability import (
    CorruptRecordError,
    InboundQos2Received,
    InboundQos2Released,
    MessageAcked,
    MessageQueued,
    MessageReleased,
    MessageSent,
    Record,
    RetainedDeleted,
    RetainedSet,
    SessionDeleted,
    SessionUpserted,
    SubscriptionAdded,
    SubscriptionRemoved,
    WillDone,
    WillScheduled,
    decode_record,
    encode_record,
)
from mqttcloud.broker.message import Message
from mqttcloud.protocol.packets import (
    Disconnect,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    QoS,
    Subscribe,
    Subscription,
    Will,
)
from mqttcloud.protocol.properties import Properties
from mqttcloud.protocol.reason_codes import ReasonCode

MSG = Message(
    id=b"\x01" * 16,
    topic="a/b",
    payload=b"\x00\xffpayload",
    qos=2,
    retain=True,
    publisher="pub",
    timestamp=1.5,
    expires_at=99.25,
    payload_format_indicator=1,
    content_type="text/plain",
    response_topic="resp",
    correlation_data=b"corr",
    user_properties=(("k", "v"), ("k", "w")),
)

RECORDS: list[Record] = [
    SessionUpserted("c", 300, 1.0, None, 5, "user"),
    SessionUpserted("c", 300, 1.0, 2.0, 4, None),
    SessionDeleted("c"),
    SubscriptionAdded("c", "$share/g/a/#", 2, False, True, 1, 7),
    SubscriptionAdded("c", "x", 0, True, False, 0, None),
    SubscriptionRemoved("c", "x"),
    MessageQueued("c", 1, MSG, (1, 2), True),
    MessageAcked("c", b"\x02" * 16),
    MessageReleased("c", b"\x02" * 16, 65535),
    MessageSent("c", b"\x02" * 16, 1),
    InboundQos2Received("c", 7, 12.5),
    InboundQos2Released("c", 7),
    WillScheduled("c", MSG, 42.5, "user", False, "tcp:default", "127.0.0.1", 4000, "h.example", None, None),
    WillScheduled("c", MSG, 42.5, None, True, "tls:default", "::1", 1, None, "cn", "CN=cn"),
    WillDone("c"),
    RetainedSet(Message(b"\x03" * 16, "t", b"v", 0, True, None, 3.0)),
    RetainedDeleted("t"),
]


def test_every_record_roundtrips_through_bytes() -> None:
    for r in RECORDS:
        assert decode_record(encode_record(r)) == r


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_corrupt_record(data: bytes) -> None:
    with contextlib.suppress(CorruptRecordError):
        decode_record(data)


def test_truncated_record_is_corrupt() -> None:
    data = encode_record(RECORDS[6])
    for cut in range(len(data)):
        try:
            decode_record(data[:cut])
        except CorruptRecordError:
            continue
        raise AssertionError(f"prefix of {cut} bytes decoded")


def restart(h: Harness) -> Broker:
    """A new broker for the same tenant, restored from what the old one asked to persist."""
    spec = contracts.TenantSpec(tenant_id=contracts.TenantId("t1"))
    fresh = Broker(spec, node_name="n1@127.0.0.1", now=h.now)
    fresh.restore([decode_record(encode_record(r)) for r in h.log], h.now)
    return fresh


def persistent(h: Harness, clientid: str, topic: str, qos: int = 1) -> None:
    c, _ = h.connect(clientid, clean_start=False, properties=Properties(session_expiry_interval=600))
    c.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter=topic, qos=QoS(qos)),)))
    c.send(Disconnect())


def test_acked_qos1_message_survives_restart_for_offline_session() -> None:
    """A QoS 1 message acknowledged to its publisher is never lost for a persistent session."""
    h = Harness()
    persistent(h, "sub", "d/#")
    a, _ = h.connect("pub")
    assert a.send(publish("d/1", b"keep", qos=1, packet_id=1)) == [PubAck(packet_id=1)]
    h.broker = restart(h)
    h.clients.clear()
    b, ack = h.connect("sub", clean_start=False, properties=Properties(session_expiry_interval=600))
    assert ack.session_present
    assert [p.payload for p in b.only(Publish)] == [b"keep"]


def test_inflight_message_survives_restart_and_acked_one_does_not() -> None:
    h = Harness()
    props = Properties(session_expiry_interval=600)
    b, _ = h.connect("sub", clean_start=False, properties=props)
    b.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="f", qos=QoS(1)),)))
    a, _ = h.connect("pub")
    a.send(publish("f", b"one", qos=1, packet_id=1))
    a.send(publish("f", b"two", qos=1, packet_id=2))
    first = b.only(Publish)[0]
    assert first.packet_id is not None
    b.send(PubAck(packet_id=first.packet_id))
    h.broker = restart(h)
    h.clients.clear()
    b2, _ = h.connect("sub", clean_start=False, properties=props)
    assert [p.payload for p in b2.only(Publish)] == [b"two"]


def test_subscriptions_and_retained_survive_restart() -> None:
    h = Harness()
    persistent(h, "sub", "s/#")
    a, _ = h.connect("pub")
    a.send(publish("keep/r", b"retained", retain=True))
    a.send(publish("gone/r", b"x", retain=True))
    a.send(publish("gone/r", b"", retain=True))
    h.broker = restart(h)
    assert "s/#" in h.broker.sessions["sub"].subscriptions
    assert h.broker.retained.get("gone/r") is None
    kept = h.broker.retained.get("keep/r")
    assert kept is not None
    assert kept.payload == b"retained"
    a2, _ = h.connect("pub2")
    h.clients.clear()
    h.clients[a2.channel_id] = a2
    a2.send(publish("s/1"))
    assert len(h.broker.sessions["sub"].queue) == 1


def test_restored_session_expires_from_its_disconnect_time() -> None:
    h = Harness()
    persistent(h, "sub", "x")
    h.now += 500
    fresh = restart(h)
    assert fresh.next_deadline() == h.now - 500 + 600
    fresh.tick(h.now + 100)
    assert "sub" not in fresh.sessions


def test_clean_session_deletion_is_recorded() -> None:
    h = Harness()
    persistent(h, "sub", "x")
    h.connect("sub", clean_start=True)
    assert "sub" not in restart(h).sessions


def test_non_persistent_sessions_are_not_logged() -> None:
    h = Harness()
    c, _ = h.connect("plain")
    c.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="x"),)))
    assert not any(isinstance(r, SessionUpserted | SubscriptionAdded) for r in h.log)


def test_snapshot_rebuilds_the_same_state() -> None:
    h = Harness()
    persistent(h, "sub", "q/#")
    a, _ = h.connect("pub")
    a.send(publish("q/1", b"m", qos=1, packet_id=1))
    a.send(publish("ret", b"r", retain=True))
    snap = h.broker.snapshot()
    spec = contracts.TenantSpec(tenant_id=contracts.TenantId("t1"))
    fresh = Broker(spec, node_name="n", now=h.now)
    fresh.restore(snap, h.now)
    assert fresh.sessions["sub"].subscriptions.keys() == {"q/#"}
    assert [d.message.payload for d in fresh.sessions["sub"].queue] == [b"m"]
    assert fresh.retained.get("ret") is not None


def test_restored_session_is_listed_before_it_reconnects() -> None:
    h = Harness()
    persistent(h, "sub", "x")
    fresh = restart(h)
    info = fresh.client_info("sub")
    assert info is not None
    assert info.connected is False
    assert info.is_persistent is True
    assert info.subscriptions_cnt == 1


def test_qos2_after_pubrec_restarts_owing_pubrel_not_publish() -> None:
    """Exactly once across a restart: after PUBREC the broker re-sends PUBREL with the same id."""
    h = Harness()
    props = Properties(session_expiry_interval=600)
    b, _ = h.connect("sub", clean_start=False, properties=props)
    b.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="x", qos=QoS(2)),)))
    a, _ = h.connect("pub")
    a.send(publish("x", b"once", qos=2, packet_id=1))
    sent = b.only(Publish)[0]
    assert sent.packet_id is not None
    b.send(PubRec(packet_id=sent.packet_id))
    h.broker = restart(h)
    h.clients.clear()
    b2, _ = h.connect("sub", clean_start=False, properties=props)
    assert b2.take() == [PubRel(packet_id=sent.packet_id)]
    b2.send(PubComp(packet_id=sent.packet_id))
    assert h.broker.sessions["sub"].inflight == {}


def test_inbound_qos2_awaiting_pubrel_survives_restart() -> None:
    """Spec 4.1: the server's session state holds the client's QoS 2 messages not yet released.

    After a restart the publisher's re-sent PUBLISH (DUP) is acknowledged but not routed again, its
    PUBREL gets PUBCOMP 0x00 (not 0x92), and the id then carries a new message.
    """
    h = Harness()
    props = Properties(session_expiry_interval=600)
    persistent(h, "sub", "q/#", qos=2)
    a, _ = h.connect("pub", clean_start=False, properties=props)
    assert a.send(publish("q/1", b"once", qos=2, packet_id=7)) == [PubRec(packet_id=7)]
    assert InboundQos2Received("pub", 7, h.now) in h.log
    h.broker = restart(h)
    h.clients.clear()
    a2, ack = h.connect("pub", clean_start=False, properties=props)
    assert ack.session_present
    assert a2.send(publish("q/1", b"once", qos=2, packet_id=7, dup=True)) == [PubRec(packet_id=7)]
    assert a2.send(PubRel(packet_id=7)) == [PubComp(packet_id=7, reason_code=ReasonCode.SUCCESS)]
    assert InboundQos2Released("pub", 7) in h.log
    assert a2.send(publish("q/1", b"next", qos=2, packet_id=7)) == [PubRec(packet_id=7)]
    b, _ = h.connect("sub", clean_start=False, properties=props)
    assert [p.payload for p in b.only(Publish)] == [b"once", b"next"]


def test_released_inbound_qos2_id_stays_released_after_restart() -> None:
    h = Harness()
    props = Properties(session_expiry_interval=600)
    a, _ = h.connect("pub", clean_start=False, properties=props)
    a.send(publish("q/1", b"one", qos=2, packet_id=3))
    a.send(PubRel(packet_id=3))
    h.broker = restart(h)
    assert h.broker.sessions["pub"].awaiting_rel == {}


def _delayed_will_client(h: Harness, props: Properties) -> None:
    """A persistent v5 client with a will delayed 30 s, gone without DISCONNECT."""
    will = Will(topic="w/c", payload=b"gone", properties=Properties(will_delay_interval=30))
    c, _ = h.connect("c", clean_start=False, properties=props, will=will)
    h.perform(h.broker.channel_closed(c.channel_id, h.now))


def test_delayed_will_survives_restart_and_is_published_when_due() -> None:
    h = Harness()
    props = Properties(session_expiry_interval=600)
    persistent(h, "watch", "w/#")
    _delayed_will_client(h, props)
    assert any(isinstance(r, WillScheduled) for r in h.log)
    h.broker = restart(h)
    h.clients.clear()
    h.now += 10
    h.tick(h.now)  # not due yet
    h.now += 25
    h.tick(h.now)
    watch, _ = h.connect("watch", clean_start=False, properties=props)
    assert [(p.topic, p.payload) for p in watch.only(Publish)] == [("w/c", b"gone")]
    assert WillDone("c") in h.log
    h.broker = restart(h)  # published once: a second restart owes nothing
    assert h.broker.pending_wills() == []


def test_delayed_will_dropped_by_reconnect_stays_dropped_after_restart() -> None:
    """[MQTT-3.1.3-10] the client came back within the delay: no will, before or after a restart."""
    h = Harness()
    props = Properties(session_expiry_interval=600)
    persistent(h, "watch", "w/#")
    _delayed_will_client(h, props)
    h.now += 5
    h.connect("c", clean_start=False, properties=props)
    h.broker = restart(h)
    assert h.broker.pending_wills() == []


def test_snapshot_keeps_pending_will() -> None:
    h = Harness()
    _delayed_will_client(h, Properties(session_expiry_interval=600))
    spec = contracts.TenantSpec(tenant_id=contracts.TenantId("t1"))
    fresh = Broker(spec, node_name="n", now=h.now)
    fresh.restore(h.broker.snapshot(), h.now)
    [(cid, due, msg, ctx)] = fresh.pending_wills()
    assert (cid, due, msg.payload, ctx.peer.ip_address) == ("c", h.now + 30, b"gone", "127.0.0.1")
