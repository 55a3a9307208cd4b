"""SUBSCRIBE / UNSUBSCRIBE, retained messages, shared subscriptions and will messages."""

from tests.unit.broker.pair import Client, Harness, publish

from mqttcloud import contracts
from mqttcloud.broker.hooks import ClientContext
from mqttcloud.protocol.packets import (
    Disconnect,
    Publish,
    QoS,
    RetainHandling,
    SubAck,
    Subscribe,
    Subscription,
    UnsubAck,
    Unsubscribe,
    Will,
)
from mqttcloud.protocol.properties import Properties
from mqttcloud.protocol.reason_codes import ReasonCode


def subscribe(client: Client, *filters: str, qos: int = 0, **opts: object) -> list[ReasonCode]:
    subs = tuple(Subscription(topic_filter=f, qos=QoS(qos), **opts) for f in filters)  # type: ignore[arg-type]  # test pass-through
    got = client.send(Subscribe(packet_id=10, subscriptions=subs))
    acks = [p for p in got if isinstance(p, SubAck)]
    client.inbox = [p for p in client.inbox if not isinstance(p, SubAck)]
    return list(acks[0].reason_codes)


class DenyPrivate:
    def can_publish(self, client: ClientContext, topic: str) -> bool:
        return True

    def can_subscribe(self, client: ClientContext, topic_filter: str) -> bool:
        return not topic_filter.startswith("private")


def test_denied_subscription_gets_0x87_per_filter() -> None:
    """A refused filter is a per-filter reason code, the others are granted."""
    h = Harness(authorizer=DenyPrivate())
    c, _ = h.connect("c")
    assert subscribe(c, "public/#", "private/x", qos=1) == [
        ReasonCode.GRANTED_QOS_1,
        ReasonCode.NOT_AUTHORIZED,
    ]


def test_denied_subscription_v311_is_0x80() -> None:
    h = Harness(authorizer=DenyPrivate())
    c, _ = h.connect("c", version=4)
    c.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="private"),)))
    assert c.raw[-1] == b"\x90\x03\x00\x01\x80"


def test_invalid_filter_gets_0x8f() -> None:
    h = Harness()
    c, _ = h.connect("c")
    assert subscribe(c, "a/#/b", "ok") == [ReasonCode.TOPIC_FILTER_INVALID, ReasonCode.GRANTED_QOS_0]


def test_filter_over_topic_level_limit_gets_0x8f() -> None:
    h = Harness(contracts.Limits(max_topic_levels=2))
    c, _ = h.connect("c")
    assert subscribe(c, "a/b/c") == [ReasonCode.TOPIC_FILTER_INVALID]


def test_subscription_quota_per_client_0x97() -> None:
    h = Harness(contracts.Limits(max_subscriptions_per_client=2))
    c, _ = h.connect("c")
    assert subscribe(c, "a", "b", "c") == [
        ReasonCode.GRANTED_QOS_0,
        ReasonCode.GRANTED_QOS_0,
        ReasonCode.QUOTA_EXCEEDED,
    ]
    assert subscribe(c, "a", qos=1) == [ReasonCode.GRANTED_QOS_1]  # replacing does not count


def test_resubscribe_replaces_options() -> None:
    """[MQTT-3.8.4-3] a SUBSCRIBE for an existing filter replaces it; one delivery only."""
    h = Harness()
    a, _ = h.connect("a")
    c, _ = h.connect("c")
    subscribe(c, "r", qos=0)
    subscribe(c, "r", qos=1)
    a.send(publish("r", qos=1, packet_id=1))
    got = c.only(Publish)
    assert len(got) == 1
    assert got[0].qos == 1
    assert h.broker.stats().values["subscriptions.count"] == 1


def test_unsubscribe_codes_and_stops_delivery() -> None:
    """UNSUBACK per filter: 0x00 removed, 0x11 no subscription existed (v5)."""
    h = Harness()
    a, _ = h.connect("a")
    c, _ = h.connect("c")
    subscribe(c, "u")
    got = c.send(Unsubscribe(packet_id=4, topic_filters=("u", "never")))
    assert got == [
        UnsubAck(packet_id=4, reason_codes=(ReasonCode.SUCCESS, ReasonCode.NO_SUBSCRIPTION_EXISTED))
    ]
    a.send(publish("u"))
    assert c.only(Publish) == []


def test_wildcard_does_not_match_dollar_topics() -> None:
    """[MQTT-4.7.2-1] `#` does not match $SYS topics."""
    h = Harness(sys_interval=10)
    every, _ = h.connect("every")
    system, _ = h.connect("sys")
    subscribe(every, "#")
    subscribe(system, "$SYS/brokers/+/stats/#")
    h.tick(h.now + 10)
    assert every.only(Publish) == []
    got = system.only(Publish)
    topics = {p.topic for p in got}
    assert "$SYS/brokers/n1@127.0.0.1/stats/connections/count" in topics
    counts = {p.topic: p.payload for p in got}
    assert counts["$SYS/brokers/n1@127.0.0.1/stats/live_connections/count"] == b"2"


def test_retained_message_sent_on_subscribe_with_retain_flag() -> None:
    """[MQTT-3.3.1-5] stored and sent with RETAIN=1 to a new subscription (spec 3.3.1.3)."""
    h = Harness()
    a, _ = h.connect("a")
    a.send(publish("ret/1", b"v1", retain=True))
    a.send(publish("ret/1", b"v2", retain=True))
    c, _ = h.connect("c")
    subscribe(c, "ret/#")
    got = c.only(Publish)
    assert [(p.payload, p.retain) for p in got] == [(b"v2", True)]


def test_retained_deleted_by_empty_payload() -> None:
    """[MQTT-3.3.1-6] an empty retained payload removes the stored message."""
    h = Harness()
    a, _ = h.connect("a")
    a.send(publish("del", b"v", retain=True))
    a.send(publish("del", b"", retain=True))
    c, _ = h.connect("c")
    subscribe(c, "del")
    assert c.only(Publish) == []
    assert h.broker.stats().values["retained.count"] == 0


def test_retained_qos_capped_by_subscription() -> None:
    h = Harness()
    a, _ = h.connect("a")
    a.send(publish("rq", b"v", qos=2, packet_id=1, retain=True))
    c, _ = h.connect("c")
    subscribe(c, "rq", qos=1)
    assert c.only(Publish)[0].qos == 1


def test_retain_handling_1_only_for_new_subscription() -> None:
    """[MQTT-3.3.1-10] RH=1: retained messages only if the subscription did not exist."""
    h = Harness()
    a, _ = h.connect("a")
    a.send(publish("rh", b"v", retain=True))
    c, _ = h.connect("c")
    opts = {"retain_handling": RetainHandling.SEND_IF_NEW_SUBSCRIPTION}
    subscribe(c, "rh", **opts)
    assert len(c.only(Publish)) == 1
    subscribe(c, "rh", **opts)
    assert c.only(Publish) == []


def test_retain_handling_2_never_sends_retained() -> None:
    """[MQTT-3.3.1-11] RH=2: no retained messages at subscribe."""
    h = Harness()
    a, _ = h.connect("a")
    a.send(publish("rh", b"v", retain=True))
    c, _ = h.connect("c")
    subscribe(c, "rh", retain_handling=RetainHandling.DO_NOT_SEND)
    assert c.only(Publish) == []


def test_max_retained_limit_stops_storing() -> None:
    h = Harness(contracts.Limits(max_retained=1))
    a, _ = h.connect("a")
    a.send(publish("r1", retain=True))
    a.send(publish("r2", retain=True))
    a.send(publish("r1", b"replace", retain=True))
    assert h.broker.retained.get("r2") is None
    stored = h.broker.retained.get("r1")
    assert stored is not None
    assert stored.payload == b"replace"


def test_shared_subscription_round_robin() -> None:
    """Spec 4.8.2: each message to a shared subscription goes to one member, in turn."""
    h = Harness()
    a, _ = h.connect("a")
    m1, _ = h.connect("m1")
    m2, _ = h.connect("m2", version=4)  # shared subscriptions work for 3.1.1 too
    subscribe(m1, "$share/g/job/+")
    subscribe(m2, "$share/g/job/+")
    for i in range(4):
        a.send(publish(f"job/{i}"))
    got1 = [p.topic for p in m1.only(Publish)]
    got2 = [p.topic for p in m2.only(Publish)]
    assert len(got1) == 2
    assert len(got2) == 2
    assert sorted(got1 + got2) == ["job/0", "job/1", "job/2", "job/3"]


def test_shared_and_plain_subscription_both_receive() -> None:
    h = Harness()
    a, _ = h.connect("a")
    plain, _ = h.connect("plain")
    member, _ = h.connect("member")
    subscribe(plain, "s")
    subscribe(member, "$share/g/s")
    a.send(publish("s"))
    assert len(plain.only(Publish)) == 1
    assert len(member.only(Publish)) == 1


def test_shared_subscription_prefers_connected_member() -> None:
    h = Harness()
    a, _ = h.connect("a")
    gone, _ = h.connect("gone", clean_start=False, properties=Properties(session_expiry_interval=60))
    here, _ = h.connect("here")
    subscribe(gone, "$share/g/t", qos=1)
    subscribe(here, "$share/g/t", qos=1)
    gone.send(Disconnect())
    for i in range(3):
        a.send(publish("t", qos=1, packet_id=i + 1))
    assert len(here.only(Publish)) == 3


def test_shared_subscription_gets_no_retained_messages() -> None:
    h = Harness()
    a, _ = h.connect("a")
    a.send(publish("sr", retain=True))
    m, _ = h.connect("m")
    subscribe(m, "$share/g/sr")
    assert m.only(Publish) == []


def test_no_local_on_shared_subscription_is_protocol_error() -> None:
    """[MQTT-3.8.3-4] No Local on a shared subscription: protocol error."""
    h = Harness()
    c, _ = h.connect("c")
    got = c.send(
        Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="$share/g/x", no_local=True),))
    )
    assert isinstance(got[0], Disconnect)
    assert got[0].reason_code == ReasonCode.PROTOCOL_ERROR


def will(topic: str = "will/c", delay: int | None = None) -> Will:
    return Will(topic=topic, payload=b"gone", properties=Properties(will_delay_interval=delay))


def test_will_published_on_abnormal_close() -> None:
    """[MQTT-3.1.2-8] the will is published when the connection closes without DISCONNECT."""
    h = Harness()
    w, _ = h.connect("watch")
    subscribe(w, "will/#")
    c, _ = h.connect("c", will=will())
    h.perform(h.broker.channel_closed(c.channel_id, h.now))
    assert [p.payload for p in w.only(Publish)] == [b"gone"]


def test_will_discarded_on_normal_disconnect() -> None:
    """[MQTT-3.1.2-10] [MQTT-3.14.4-3] DISCONNECT 0x00 removes the will without publishing it."""
    h = Harness()
    w, _ = h.connect("watch")
    subscribe(w, "will/#")
    c, _ = h.connect("c", will=will())
    c.send(Disconnect())
    assert w.only(Publish) == []


def test_disconnect_with_will_message_publishes_will() -> None:
    """DISCONNECT 0x04 asks the server to publish the will."""
    h = Harness()
    w, _ = h.connect("watch")
    subscribe(w, "will/#")
    c, _ = h.connect("c", will=will())
    c.send(Disconnect(reason_code=ReasonCode.DISCONNECT_WITH_WILL_MESSAGE))
    assert len(w.only(Publish)) == 1


def test_will_published_on_keep_alive_timeout() -> None:
    h = Harness()
    w, _ = h.connect("watch", keep_alive=0)
    subscribe(w, "will/#")
    h.connect("c", will=will(), keep_alive=2)
    h.tick(h.now + 3)
    assert len(w.only(Publish)) == 1


def test_will_delay_interval_defers_will() -> None:
    """[MQTT-3.1.3-9] the will waits for the Will Delay Interval."""
    h = Harness()
    w, _ = h.connect("watch", keep_alive=0)
    subscribe(w, "will/#")
    props = Properties(session_expiry_interval=100)
    c, _ = h.connect("c", will=will(delay=10), clean_start=False, properties=props)
    h.perform(h.broker.channel_closed(c.channel_id, h.now))
    assert w.only(Publish) == []
    h.tick(h.now + 10)
    assert len(w.only(Publish)) == 1


def test_will_delay_cancelled_by_reconnect() -> None:
    """[MQTT-3.1.3-9] a new connection before the delay passes: no will."""
    h = Harness()
    w, _ = h.connect("watch", keep_alive=0)
    subscribe(w, "will/#")
    props = Properties(session_expiry_interval=100)
    c, _ = h.connect("c", will=will(delay=10), clean_start=False, properties=props)
    h.perform(h.broker.channel_closed(c.channel_id, h.now))
    h.now += 5
    h.connect("c", clean_start=False, properties=props, keep_alive=0)
    h.tick(h.now + 10)
    assert w.only(Publish) == []


def test_will_sent_at_session_end_if_earlier_than_delay() -> None:
    """[MQTT-3.1.3-9] the will goes at the earlier of the delay and the session expiry."""
    h = Harness()
    w, _ = h.connect("watch", keep_alive=0)
    subscribe(w, "will/#")
    props = Properties(session_expiry_interval=5)
    c, _ = h.connect("c", will=will(delay=60), clean_start=False, properties=props)
    h.perform(h.broker.channel_closed(c.channel_id, h.now))
    h.tick(h.now + 5)
    assert len(w.only(Publish)) == 1


def test_takeover_publishes_will_of_old_connection() -> None:
    h = Harness()
    w, _ = h.connect("watch")
    subscribe(w, "will/#")
    h.connect("c", will=will())
    h.connect("c")
    assert len(w.only(Publish)) == 1


def test_will_denied_by_acl_is_dropped() -> None:
    class NoWill:
        def can_publish(self, client: ClientContext, topic: str) -> bool:
            return not topic.startswith("will")

        def can_subscribe(self, client: ClientContext, topic_filter: str) -> bool:
            return True

    h = Harness(authorizer=NoWill())
    w, _ = h.connect("watch")
    subscribe(w, "will/#")
    c, _ = h.connect("c", will=will())
    h.perform(h.broker.channel_closed(c.channel_id, h.now))
    assert w.only(Publish) == []


def test_emqx_queue_prefix_is_a_shared_subscription() -> None:
    """EMQX's `$queue/t` is `$share/$queue/t`: one member gets each message."""
    h = Harness()
    a, _ = h.connect("a")
    m1, _ = h.connect("m1")
    m2, _ = h.connect("m2")
    subscribe(m1, "$queue/q/+")
    subscribe(m2, "$queue/q/+")
    a.send(publish("q/1"))
    a.send(publish("q/2"))
    assert len(m1.only(Publish)) == 1
    assert len(m2.only(Publish)) == 1
    listed = h.broker.client_subscriptions("m1")
    assert listed is not None
    assert listed[0].share_group == "$queue"
