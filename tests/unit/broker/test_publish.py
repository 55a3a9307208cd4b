"""PUBLISH routing and the QoS 0/1/2 flows, both directions, through the pair harness."""

from tests.unit.broker.pair import Client, Harness, publish

from mqttcloud import contracts
from mqttcloud.broker.actions import WARNING, Log, Persist, Send
from mqttcloud.broker.durability import MessageAcked, MessageQueued
from mqttcloud.broker.hooks import ClientContext
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
    Unsubscribe,
)
from mqttcloud.protocol.properties import Properties
from mqttcloud.protocol.reason_codes import ReasonCode


def sub(client: Client, flt: str, qos: int = 0, **opts: object) -> None:
    props = Properties()
    sid = opts.pop("sid", None)
    if sid is not None:
        assert isinstance(sid, int)
        props = Properties(subscription_identifiers=(sid,))
    s = Subscription(topic_filter=flt, qos=QoS(qos), **opts)  # type: ignore[arg-type]  # test pass-through
    client.send(Subscribe(packet_id=1, subscriptions=(s,), properties=props))
    client.take()


def test_qos0_delivered_to_subscriber() -> None:
    h = Harness()
    a, _ = h.connect("a")
    b, _ = h.connect("b")
    sub(b, "t/+")
    assert a.send(publish("t/1", b"hi")) == []
    got = b.only(Publish)
    assert got == [Publish(topic="t/1", payload=b"hi")]
    assert h.broker.counters["messages.received"] == 1
    assert h.broker.counters["messages.sent"] == 1


def test_qos0_fanout_shares_one_encoding() -> None:
    """Hot path: N subscribers of one version get the same `bytes` object."""
    h = Harness()
    pub, _ = h.connect("pub")
    for i in range(5):
        s, _ = h.connect(f"s{i}")
        sub(s, "fan/#")
    pub.send(publish("fan/x", b"data"))
    sends = [a for a in h.batches[-1] if isinstance(a, Send)]
    assert len(sends) == 5
    assert len({id(s.data) for s in sends}) == 1


def test_qos1_puback_and_delivery_at_granted_qos() -> None:
    """[MQTT-3.8.4-8] delivery QoS is min(message QoS, granted QoS)."""
    h = Harness()
    a, _ = h.connect("a")
    b0, _ = h.connect("b0")
    b1, _ = h.connect("b1")
    sub(b0, "q", 0)
    sub(b1, "q", 1)
    got = a.send(publish("q", b"m", qos=1, packet_id=7))
    assert got == [PubAck(packet_id=7)]
    assert b0.only(Publish)[0].qos == 0
    out = b1.only(Publish)[0]
    assert out.qos == 1
    assert out.packet_id is not None


def test_qos1_no_matching_subscribers_reason_0x10() -> None:
    h = Harness()
    a, _ = h.connect("a")
    assert a.send(publish("nobody", qos=1, packet_id=1)) == [
        PubAck(packet_id=1, reason_code=ReasonCode.NO_MATCHING_SUBSCRIBERS)
    ]


def test_qos2_inbound_flow_and_duplicate_not_routed_twice() -> None:
    """Spec 4.3.3: PUBREC, then PUBREL -> PUBCOMP; a re-sent PUBLISH before PUBREL is not re-routed."""
    h = Harness()
    a, _ = h.connect("a")
    b, _ = h.connect("b")
    sub(b, "q2", 2)
    assert a.send(publish("q2", qos=2, packet_id=5)) == [PubRec(packet_id=5)]
    assert a.send(publish("q2", qos=2, packet_id=5, dup=True)) == [PubRec(packet_id=5)]
    assert len(b.only(Publish)) == 1
    assert a.send(PubRel(packet_id=5)) == [PubComp(packet_id=5)]
    assert a.send(PubRel(packet_id=5)) == [
        PubComp(packet_id=5, reason_code=ReasonCode.PACKET_IDENTIFIER_NOT_FOUND)
    ]


def test_qos2_outbound_flow() -> None:
    h = Harness()
    a, _ = h.connect("a")
    b, _ = h.connect("b")
    sub(b, "q2", 2)
    a.send(publish("q2", qos=2, packet_id=5))
    out = b.only(Publish)[0]
    assert out.packet_id is not None
    assert b.send(PubRec(packet_id=out.packet_id)) == [PubRel(packet_id=out.packet_id)]
    assert b.send(PubComp(packet_id=out.packet_id)) == []
    assert h.broker.sessions["b"].inflight == {}


def test_inflight_window_respects_client_receive_maximum() -> None:
    """[MQTT-3.3.4-9] at most Receive Maximum unacknowledged QoS 1 PUBLISHes; the rest queue."""
    h = Harness()
    a, _ = h.connect("a")
    b, _ = h.connect("b", properties=Properties(receive_maximum=2))
    sub(b, "w", 1)
    for i in range(5):
        a.send(publish("w", str(i).encode(), qos=1, packet_id=i + 1))
    first = b.only(Publish)
    assert [p.payload for p in first] == [b"0", b"1"]
    assert len(h.broker.sessions["b"].queue) == 3
    assert first[0].packet_id is not None
    got = [p for p in b.send(PubAck(packet_id=first[0].packet_id)) if isinstance(p, Publish)]
    assert [p.payload for p in got] == [b"2"]


def test_redelivery_with_dup_on_resume() -> None:
    """[MQTT-4.4.0-1] unacknowledged QoS 1 messages are re-sent with DUP=1 after reconnect."""
    h = Harness()
    props = Properties(session_expiry_interval=600)
    a, _ = h.connect("a")
    b, _ = h.connect("b", clean_start=False, properties=props)
    sub(b, "r", 1)
    a.send(publish("r", b"m", qos=1, packet_id=1))
    first = b.only(Publish)[0]
    b.send(Disconnect())
    b2, ack = h.connect("b", clean_start=False, properties=props)
    assert ack.session_present
    again = b2.only(Publish)
    assert len(again) == 1
    assert again[0].dup is True
    assert again[0].packet_id == first.packet_id


def test_pubrel_resent_on_resume_after_pubrec() -> None:
    h = Harness()
    props = Properties(session_expiry_interval=600)
    a, _ = h.connect("a")
    b, _ = h.connect("b", clean_start=False, properties=props)
    sub(b, "r", 2)
    a.send(publish("r", b"m", qos=2, packet_id=1))
    pid = b.only(Publish)[0].packet_id
    assert pid is not None
    b.send(PubRec(packet_id=pid))
    b.send(Disconnect())
    b2, _ = h.connect("b", clean_start=False, properties=props)
    assert b2.take() == [PubRel(packet_id=pid)]


def test_offline_persistent_session_queues_and_delivers_on_reconnect() -> None:
    h = Harness()
    props = Properties(session_expiry_interval=600)
    b, _ = h.connect("b", clean_start=False, properties=props)
    sub(b, "off", 1)
    b.send(Disconnect())
    a, _ = h.connect("a")
    a.send(publish("off", b"later", qos=1, packet_id=1))
    b2, _ = h.connect("b", clean_start=False, properties=props)
    got = b2.only(Publish)
    assert [p.payload for p in got] == [b"later"]
    assert got[0].dup is False


def test_offline_queue_overflow_drops_oldest_and_counts() -> None:
    h = Harness(contracts.Limits(max_queue_len=3))
    props = Properties(session_expiry_interval=600)
    b, _ = h.connect("b", clean_start=False, properties=props)
    sub(b, "of", 1)
    b.send(Disconnect())
    a, _ = h.connect("a")
    for i in range(5):
        a.send(publish("of", str(i).encode(), qos=1, packet_id=i + 1))
    session = h.broker.sessions["b"]
    assert [d.message.payload for d in session.queue] == [b"2", b"3", b"4"]
    assert session.dropped_queue_full == 2
    b2, _ = h.connect("b", clean_start=False, properties=props)
    assert [p.payload for p in b2.only(Publish)] == [b"2", b"3", b"4"]
    info = h.broker.client_info("b")
    assert info is not None
    assert info.mqueue_dropped == 2


def test_puback_held_behind_persist_of_queued_copy() -> None:
    """Durability: the PUBACK is in the same batch as the MessageQueued record, after Persist."""
    h = Harness()
    props = Properties(session_expiry_interval=600)
    b, _ = h.connect("b", clean_start=False, properties=props)
    sub(b, "d", 1)
    b.send(Disconnect())
    a, _ = h.connect("a")
    a.send(publish("d", b"keep", qos=1, packet_id=9))
    batch = h.batches[-1]
    assert isinstance(batch[0], Persist)
    assert any(isinstance(r, MessageQueued) for r in batch[0].records)
    assert isinstance(batch[-1], Send)


def test_ack_of_persistent_delivery_records_message_acked() -> None:
    h = Harness()
    props = Properties(session_expiry_interval=600)
    b, _ = h.connect("b", clean_start=False, properties=props)
    sub(b, "d", 1)
    a, _ = h.connect("a")
    a.send(publish("d", b"x", qos=1, packet_id=9))
    pid = b.only(Publish)[0].packet_id
    assert pid is not None
    b.send(PubAck(packet_id=pid))
    assert isinstance(h.log[-1], MessageAcked)


def test_non_persistent_session_writes_no_queue_records() -> None:
    h = Harness()
    b, _ = h.connect("b")
    sub(b, "d", 1)
    a, _ = h.connect("a")
    a.send(publish("d", b"x", qos=1, packet_id=9))
    assert not any(isinstance(r, MessageQueued) for r in h.log)


def test_no_local_not_delivered_to_publisher() -> None:
    """[MQTT-3.8.3-3] No Local: the publisher's own messages are not forwarded to it."""
    h = Harness()
    a, _ = h.connect("a")
    sub(a, "nl", no_local=True)
    a.send(publish("nl"))
    assert a.only(Publish) == []


def test_retain_as_published_keeps_flag() -> None:
    """[MQTT-3.3.1-12] RAP=0 clears RETAIN on forward; [MQTT-3.3.1-13] RAP=1 keeps it."""
    h = Harness()
    a, _ = h.connect("a")
    keep, _ = h.connect("keep")
    clear, _ = h.connect("clear")
    sub(keep, "r", retain_as_published=True)
    sub(clear, "r")
    a.send(publish("r", retain=True))
    assert keep.only(Publish)[0].retain is True
    assert clear.only(Publish)[0].retain is False


def test_subscription_identifiers_in_delivery() -> None:
    """[MQTT-3.3.4-3] overlapping subscriptions: one message carrying every identifier."""
    h = Harness()
    a, _ = h.connect("a")
    b, _ = h.connect("b")
    sub(b, "s/+", sid=3)
    sub(b, "s/#", sid=9)
    a.send(publish("s/1"))
    got = b.only(Publish)
    assert len(got) == 1
    assert sorted(got[0].properties.subscription_identifiers) == [3, 9]


def test_client_publish_with_subscription_identifier_is_protocol_error() -> None:
    """[MQTT-3.3.4-6] a PUBLISH from a client must not contain a Subscription Identifier."""
    h = Harness()
    a, _ = h.connect("a")
    got = a.send(publish("x", properties=Properties(subscription_identifiers=(1,))))
    assert isinstance(got[0], Disconnect)
    assert a.is_closed()


def test_inbound_topic_alias_resolution() -> None:
    """Topic alias: the first PUBLISH maps the alias, later ones use an empty topic."""
    h = Harness()
    a, _ = h.connect("a")
    b, _ = h.connect("b")
    sub(b, "long/topic")
    a.send(publish("long/topic", b"1", properties=Properties(topic_alias=4)))
    a.send(publish("", b"2", properties=Properties(topic_alias=4)))
    assert [(p.topic, p.payload) for p in b.only(Publish)] == [("long/topic", b"1"), ("long/topic", b"2")]


def test_topic_alias_above_maximum_disconnects_0x94() -> None:
    """(spec 3.3.2.3.4) alias above the server's Topic Alias Maximum: DISCONNECT 0x94."""
    h = Harness()
    a, _ = h.connect("a")
    got = a.send(publish("t", properties=Properties(topic_alias=65)))
    assert isinstance(got[0], Disconnect)
    assert got[0].reason_code == ReasonCode.TOPIC_ALIAS_INVALID


def test_unknown_topic_alias_is_protocol_error() -> None:
    h = Harness()
    a, _ = h.connect("a")
    got = a.send(publish("", properties=Properties(topic_alias=2)))
    assert isinstance(got[0], Disconnect)
    assert got[0].reason_code == ReasonCode.PROTOCOL_ERROR


def test_outbound_topic_alias_when_client_allows() -> None:
    h = Harness()
    a, _ = h.connect("a")
    b, _ = h.connect("b", properties=Properties(topic_alias_maximum=5))
    sub(b, "al/#")
    a.send(publish("al/x", b"1"))
    a.send(publish("al/x", b"2"))
    first, second = b.only(Publish)
    assert first.topic == "al/x"
    assert first.properties.topic_alias == 1
    assert second.topic == ""
    assert second.properties.topic_alias == 1


def test_no_outbound_topic_alias_without_client_maximum() -> None:
    """(spec 3.3.2.3.4) the server must not send aliases when the client's maximum is 0."""
    h = Harness()
    a, _ = h.connect("a")
    b, _ = h.connect("b")
    sub(b, "al")
    a.send(publish("al"))
    assert b.only(Publish)[0].properties.topic_alias is None


def test_message_expiry_decremented_on_delivery() -> None:
    """[MQTT-3.3.2-6] the forwarded expiry is the received value minus the time waited."""
    h = Harness()
    props = Properties(session_expiry_interval=600)
    b, _ = h.connect("b", clean_start=False, properties=props)
    sub(b, "ex", 1)
    b.send(Disconnect())
    a, _ = h.connect("a")
    a.send(publish("ex", qos=1, packet_id=1, properties=Properties(message_expiry_interval=100)))
    h.now += 30
    b2, _ = h.connect("b", clean_start=False, properties=props)
    assert b2.only(Publish)[0].properties.message_expiry_interval == 70


def test_expired_message_not_delivered() -> None:
    """[MQTT-3.3.2-5] once the expiry interval has passed the message is not delivered."""
    h = Harness()
    props = Properties(session_expiry_interval=600)
    b, _ = h.connect("b", clean_start=False, properties=props)
    sub(b, "ex", 1)
    b.send(Disconnect())
    a, _ = h.connect("a")
    a.send(publish("ex", qos=1, packet_id=1, properties=Properties(message_expiry_interval=10)))
    h.now += 11
    b2, _ = h.connect("b", clean_start=False, properties=props)
    assert b2.only(Publish) == []


def test_packet_larger_than_client_maximum_is_dropped() -> None:
    """[MQTT-3.1.2-25] never send a packet above the client's Maximum Packet Size."""
    h = Harness()
    a, _ = h.connect("a")
    b, _ = h.connect("b", properties=Properties(maximum_packet_size=50))
    sub(b, "big")
    a.send(publish("big", b"x" * 100))
    a.send(publish("big", b"small"))
    assert [p.payload for p in b.only(Publish)] == [b"small"]
    info = h.broker.client_info("b")
    assert info is not None
    assert info.send_msg_dropped_too_large == 1


def test_denied_publish_qos1_acked_0x87_and_not_routed() -> None:
    class DenyPublish:
        def can_publish(self, client: ClientContext, topic: str) -> bool:
            return not topic.startswith("secret")

        def can_subscribe(self, client: ClientContext, topic_filter: str) -> bool:
            return True

    h = Harness(authorizer=DenyPublish())
    a, _ = h.connect("a")
    b, _ = h.connect("b")
    sub(b, "#")
    got = a.send(publish("secret/x", qos=1, packet_id=2))
    assert isinstance(got[0], PubAck)
    assert got[0].reason_code == ReasonCode.NOT_AUTHORIZED
    assert a.send(publish("secret/y")) == []
    assert b.only(Publish) == []
    assert not a.is_closed()


def test_topic_levels_limit_disconnects_0x90() -> None:
    h = Harness(contracts.Limits(max_topic_levels=3))
    a, _ = h.connect("a")
    got = a.send(publish("a/b/c/d"))
    assert isinstance(got[0], Disconnect)
    assert got[0].reason_code == ReasonCode.TOPIC_NAME_INVALID


def test_qos2_receive_maximum_exceeded_0x93() -> None:
    """[MQTT-3.3.4-9] more unacknowledged QoS 2 than our Receive Maximum: DISCONNECT 0x93."""
    h = Harness(contracts.Limits(max_inflight=2))
    a, _ = h.connect("a")
    a.send(publish("q", qos=2, packet_id=1))
    a.send(publish("q", qos=2, packet_id=2))
    got = a.send(publish("q", qos=2, packet_id=3))
    assert isinstance(got[0], Disconnect)
    assert got[0].reason_code == ReasonCode.RECEIVE_MAXIMUM_EXCEEDED


def test_retry_resends_unacked_with_dup_after_interval_v311() -> None:
    h = Harness(contracts.Limits(retry_interval=5))
    a, _ = h.connect("a")
    b, _ = h.connect("b", keep_alive=0, version=4)
    sub(b, "rt", 1)
    a.send(publish("rt", qos=1, packet_id=1))
    first = b.only(Publish)[0]
    h.tick(h.now + 5)
    again = b.only(Publish)
    assert len(again) == 1
    assert again[0].dup
    assert again[0].packet_id == first.packet_id


def test_per_connection_counters() -> None:
    h = Harness()
    a, _ = h.connect("a")
    b, _ = h.connect("b")
    sub(b, "c", 1)
    a.send(publish("c", qos=1, packet_id=1))
    a.send(publish("c"))
    ia, ib = h.broker.client_info("a"), h.broker.client_info("b")
    assert ia is not None
    assert ib is not None
    assert (ia.recv_msg, ia.recv_msg_qos0, ia.recv_msg_qos1) == (2, 1, 1)
    assert (ib.send_msg, ib.send_msg_qos0, ib.send_msg_qos1) == (2, 1, 1)
    # CONNACK, SUBACK, the QoS 1 and the QoS 0 PUBLISH (the routing fast path counts once for three)
    assert (ib.send_pkt, ib.send_cnt) == (4, 4)
    assert ia.recv_oct > 0
    assert ib.send_oct > 0


def test_packet_over_server_maximum_disconnects_0x95() -> None:
    """A packet above the server's Maximum Packet Size: DISCONNECT 0x95 (framer -> Channel.fail)."""
    h = Harness(contracts.Limits(max_packet_size=100))
    a, _ = h.connect("a")
    got = a.send(publish("big", b"x" * 200))
    assert isinstance(got[0], Disconnect)
    assert got[0].reason_code == ReasonCode.PACKET_TOO_LARGE
    assert a.is_closed()


def test_denied_publish_v311_is_acked_normally_and_dropped() -> None:
    class DenyAll:
        def can_publish(self, client: ClientContext, topic: str) -> bool:
            return False

        def can_subscribe(self, client: ClientContext, topic_filter: str) -> bool:
            return True

    h = Harness(authorizer=DenyAll())
    a, _ = h.connect("a", version=4)
    b, _ = h.connect("b", version=4)
    sub(b, "x")
    assert a.send(publish("x", qos=1, packet_id=3)) == [PubAck(packet_id=3)]
    assert b.only(Publish) == []
    assert h.broker.counters["packets.publish.auth_error"] == 1


def test_takeover_moves_inflight_to_new_connection() -> None:
    """The session follows the client id: unacked QoS 1 is re-sent with DUP on the new connection."""
    h = Harness()
    props = Properties(session_expiry_interval=60)
    a, _ = h.connect("a")
    b, _ = h.connect("b", clean_start=False, properties=props)
    sub(b, "t", 1)
    a.send(publish("t", b"m", qos=1, packet_id=1))
    b.take()
    b2, ack = h.connect("b", clean_start=False, properties=props)
    assert ack.session_present
    again = b2.only(Publish)
    assert [(p.payload, p.dup) for p in again] == [(b"m", True)]


def test_overlapping_subscriptions_deliver_once_at_highest_qos() -> None:
    """[MQTT-3.3.4-2] one copy at the maximum QoS of the matching subscriptions."""
    h = Harness()
    a, _ = h.connect("a")
    b, _ = h.connect("b")
    sub(b, "o/+", 0)
    sub(b, "o/#", 1)
    a.send(publish("o/1", qos=2, packet_id=1))
    got = b.only(Publish)
    assert len(got) == 1
    assert got[0].qos == 1


def test_connect_and_disconnect_are_reported_as_log_facts() -> None:
    h = Harness()
    c, _ = h.connect("c")
    events = [a.event for batch in h.batches for a in batch if isinstance(a, Log)]
    assert "client.connected" in events
    c.send(Disconnect())
    assert isinstance(h.batches[-1][-1], Log)
    assert h.batches[-1][-1].event == "client.disconnected"


def test_log_facts_below_the_runtimes_level_are_not_built() -> None:
    """The runtime writes WARNING and above: the core builds no INFO fact for a connect or a close."""
    h = Harness()
    h.broker.log_level = WARNING
    c, _ = h.connect("c")
    c.send(Disconnect())
    _, ack = h.connect("", version=4, clean_start=False)  # refused [MQTT-3.1.3-8]
    assert ack.reason_code.is_error
    assert [a for batch in h.batches for a in batch if isinstance(a, Log)] == []


class _DenySecret:
    def can_publish(self, client: ClientContext, topic: str) -> bool:
        return topic != "secret"

    def can_subscribe(self, client: ClientContext, topic_filter: str) -> bool:
        return True


def test_refusal_carries_reason_string() -> None:
    h = Harness(authorizer=_DenySecret())
    a, _ = h.connect("a")
    got = a.send(publish("secret", qos=1, packet_id=1))
    assert isinstance(got[0], PubAck)
    assert got[0].properties.reason_string == "not authorized"


def test_no_reason_string_when_client_asks_for_no_problem_information() -> None:
    """Request Problem Information 0: no Reason String on a PUBACK (spec 3.1.2.11.7)."""
    h = Harness(authorizer=_DenySecret())
    a, _ = h.connect("a", properties=Properties(request_problem_information=False))
    got = a.send(publish("secret", qos=1, packet_id=1))
    assert isinstance(got[0], PubAck)
    assert got[0].reason_code == ReasonCode.NOT_AUTHORIZED
    assert got[0].properties.reason_string is None


def test_stale_awaiting_pubrel_ids_are_forgotten_when_full() -> None:
    """QoS 2 ids waiting over 300 s for PUBREL no longer count against the receive maximum."""
    h = Harness(contracts.Limits(max_inflight=2))
    a, _ = h.connect("a", keep_alive=0)
    a.send(publish("q", qos=2, packet_id=1))
    a.send(publish("q", qos=2, packet_id=2))
    h.now += 301
    assert a.send(publish("q", qos=2, packet_id=3)) == [
        PubRec(packet_id=3, reason_code=ReasonCode.NO_MATCHING_SUBSCRIBERS)
    ]
    assert h.broker.counters["messages.dropped.await_pubrel_timeout"] == 2


def test_no_resend_while_connected_for_v5() -> None:
    """[MQTT-4.4.0-1] a v5 server resends unacknowledged PUBLISH only when the session resumes."""
    h = Harness(contracts.Limits(retry_interval=5))
    a, _ = h.connect("a")
    b, _ = h.connect("b", keep_alive=0)
    sub(b, "rt", 1)
    a.send(publish("rt", qos=1, packet_id=1))
    assert len(b.only(Publish)) == 1
    assert b.channel.next_deadline() is None
    h.tick(h.now + 50)
    assert b.only(Publish) == []


def test_outbound_alias_not_registered_by_a_dropped_packet() -> None:
    """An alias first used on a packet too large to send must not be used alone later."""
    h = Harness()
    a, _ = h.connect("a")
    b, _ = h.connect("b", properties=Properties(topic_alias_maximum=5, maximum_packet_size=60))
    sub(b, "al")
    a.send(publish("al", b"x" * 100))
    a.send(publish("al", b"ok"))
    got = b.only(Publish)
    assert [(p.topic, p.payload, p.properties.topic_alias) for p in got] == [("al", b"ok", 1)]


def test_cached_routing_follows_subscribe_resubscribe_and_unsubscribe() -> None:
    """Routing plans are cached per topic; every subscription change is seen by the next PUBLISH."""
    h = Harness()
    a, _ = h.connect("a")
    b, _ = h.connect("b")
    c, _ = h.connect("c")
    a.send(publish("r/1", b"nobody"))  # caches "no subscribers" for r/1
    sub(b, "r/#")
    a.send(publish("r/1", b"one", qos=1, packet_id=1))
    assert [(p.payload, p.qos) for p in b.only(Publish)] == [(b"one", QoS.AT_MOST_ONCE)]
    sub(b, "r/#", qos=1)  # same filter, new options: the cached plan must not keep QoS 0
    sub(c, "r/+")
    a.send(publish("r/1", b"two", qos=1, packet_id=2))
    assert [(p.payload, p.qos) for p in b.only(Publish)] == [(b"two", QoS.AT_LEAST_ONCE)]
    assert [p.payload for p in c.only(Publish)] == [b"two"]
    b.send(Unsubscribe(packet_id=5, topic_filters=("r/#",)))
    b.take()
    a.send(publish("r/1", b"three"))
    assert b.only(Publish) == []
    assert [p.payload for p in c.only(Publish)] == [b"three"]
    assert h.broker.counters["messages.dropped.no_subscribers"] == 1


def test_acks_for_an_id_of_another_flow_count_inuse_and_unknown_ids_count_missed() -> None:
    """EMQX's `packets.{puback,pubrec,pubcomp}.inuse`: an ack whose packet id is in flight in another
    QoS flow (or not yet at that step); `missed`: no delivery in flight has the id."""
    h = Harness()
    a, _ = h.connect("a")
    b, _ = h.connect("b")
    sub(b, "one", 1)
    sub(b, "two", 2)
    a.send(publish("one", qos=1, packet_id=1))
    qos1 = b.only(Publish)[0].packet_id
    a.send(publish("two", qos=2, packet_id=2))
    qos2 = b.only(Publish)[0].packet_id
    assert qos1 is not None
    assert qos2 is not None
    counters = h.broker.counters
    assert b.send(PubAck(packet_id=qos2)) == []  # a QoS 2 delivery is not acked by PUBACK
    assert b.send(PubComp(packet_id=qos2)) == []  # ... nor completed before PUBREC
    assert b.send(PubRec(packet_id=qos1)) == [  # PUBREL has no "in use" code (spec 3.6.2.1)
        PubRel(packet_id=qos1, reason_code=ReasonCode.PACKET_IDENTIFIER_NOT_FOUND)
    ]
    assert (counters["packets.puback.inuse"], counters["packets.pubcomp.inuse"]) == (1, 1)
    assert counters["packets.pubrec.inuse"] == 1
    assert b.send(PubAck(packet_id=999)) == []
    assert counters["packets.puback.missed"] == 1
    assert h.broker.sessions["b"].inflight.keys() == {qos1, qos2}  # nothing was freed by a wrong ack
    assert b.send(PubAck(packet_id=qos1)) == []
    assert b.send(PubRec(packet_id=qos2)) == [PubRel(packet_id=qos2)]
    assert b.send(PubComp(packet_id=qos2)) == []
    assert h.broker.sessions["b"].inflight == {}
