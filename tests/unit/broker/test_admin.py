"""Admin queries: client and subscription listings, on-behalf (un)subscribe, kick, HTTP publish, stats."""

import base64

import pytest
from tests.unit.broker.pair import Harness, publish

from mqttcloud import contracts
from mqttcloud.broker.core import KICK_BATCH
from mqttcloud.protocol.packets import (
    ConnAck,
    Connect,
    Disconnect,
    Publish,
    QoS,
    Subscribe,
    Subscription,
    Unsubscribe,
)
from mqttcloud.protocol.properties import NO_PROPERTIES, Properties
from mqttcloud.protocol.reason_codes import ReasonCode

T = contracts.TenantId("t1")


def test_client_info_fields_for_connected_client() -> None:
    h = Harness()
    c, _ = h.connect("c1", username="alice", keep_alive=30)
    c.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="a"),)))
    info = h.broker.client_info("c1")
    assert info is not None
    assert info.username == "alice"
    assert info.connected is True
    assert info.keepalive == 30
    assert info.proto_ver == 5
    assert info.subscriptions_cnt == 1
    assert info.listener == "tcp:default"
    assert info.node == "n1@127.0.0.1"
    dumped = info.model_dump(by_alias=True)
    assert "recv_msg.qos0" in dumped


def test_disconnected_persistent_session_listed_as_disconnected() -> None:
    h = Harness()
    c, _ = h.connect("p", clean_start=False, properties=Properties(session_expiry_interval=60))
    c.send(Disconnect())
    info = h.broker.client_info("p")
    assert info is not None
    assert info.connected is False
    assert info.disconnected_at == h.now
    listing = h.broker.client_infos(
        contracts.ClientFilter(conn_state=contracts.ConnState.DISCONNECTED), 1, 10
    )
    assert [i.clientid for i in listing.data] == ["p"]


def test_client_listing_filters_and_pages() -> None:
    h = Harness()
    for i in range(5):
        h.connect(f"dev-{i}", username="u" if i % 2 else None)
    h.connect("other")
    page = h.broker.client_infos(contracts.ClientFilter(like_clientid="dev-"), 2, 2)
    assert page.count == 5
    assert len(page.data) == 2
    assert page.hasnext is True
    last = h.broker.client_infos(contracts.ClientFilter(like_clientid="dev-"), 3, 2)
    assert last.hasnext is False
    assert len(last.data) == 1
    users = h.broker.client_infos(contracts.ClientFilter(username="u"), 1, 100)
    assert sorted(i.clientid for i in users.data) == ["dev-1", "dev-3"]


def test_subscription_listing_filters() -> None:
    h = Harness()
    a, _ = h.connect("a")
    b, _ = h.connect("b")
    a.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="x/+", qos=QoS(1)),)))
    b.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="$share/g/x/#"),)))
    every = h.broker.subscriptions(contracts.SubscriptionFilter(), 1, 100)
    assert every.count == 2
    matching = h.broker.subscriptions(contracts.SubscriptionFilter(match_topic="x/1"), 1, 100)
    assert matching.count == 2
    shared = h.broker.subscriptions(contracts.SubscriptionFilter(share_group="g"), 1, 100)
    assert [s.clientid for s in shared.data] == ["b"]
    qos1 = h.broker.subscriptions(contracts.SubscriptionFilter(qos=1), 1, 100)
    assert [s.topic for s in qos1.data] == ["x/+"]
    assert h.broker.client_subscriptions("nobody") is None


def test_subscribe_on_behalf_delivers_and_sends_retained() -> None:
    h = Harness()
    pub, _ = h.connect("pub")
    pub.send(publish("r/1", b"old", retain=True))
    c, _ = h.connect("c")
    info, actions = h.broker.subscribe_on_behalf(
        contracts.SubscribeArgs(tenant=T, clientid="c", topic="r/#", qos=1), h.now
    )
    h.perform(actions)
    assert info is not None
    assert info.qos == 1
    assert [p.payload for p in c.only(Publish)] == [b"old"]
    pub.send(publish("r/2", b"new"))
    assert [p.payload for p in c.only(Publish)] == [b"new"]


def test_subscribe_on_behalf_unknown_client_and_bad_filter() -> None:
    h = Harness()
    info, _ = h.broker.subscribe_on_behalf(contracts.SubscribeArgs(tenant=T, clientid="x", topic="a"), h.now)
    assert info is None
    h.connect("c")
    with pytest.raises(ValueError, match="filter"):
        h.broker.subscribe_on_behalf(contracts.SubscribeArgs(tenant=T, clientid="c", topic="a/#/b"), h.now)


def test_unsubscribe_on_behalf() -> None:
    h = Harness()
    c, _ = h.connect("c")
    c.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="a"),)))
    args = contracts.UnsubscribeArgs(tenant=T, clientid="c", topic="a")
    assert h.broker.unsubscribe_on_behalf(args, h.now)[0] is True
    assert h.broker.unsubscribe_on_behalf(args, h.now)[0] is False


def test_kick_sends_0x98_and_discards_session() -> None:
    h = Harness()
    c, _ = h.connect("c", clean_start=False, properties=Properties(session_expiry_interval=60))
    found, actions = h.broker.kick("c", h.now)
    h.perform(actions)
    assert found is True
    assert isinstance(c.inbox[-1], Disconnect)
    assert c.inbox[-1].reason_code == ReasonCode.ADMINISTRATIVE_ACTION
    assert c.is_closed()
    assert h.broker.client_info("c") is None
    assert h.broker.kick("c", h.now)[0] is False


def test_publish_api_routes_and_returns_id_and_matched() -> None:
    h = Harness()
    c, _ = h.connect("c")
    c.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="api/#", qos=QoS(1)),)))
    args = contracts.PublishArgs(
        tenant=T,
        topic="api/x",
        payload_b64=base64.b64encode(b"hello").decode(),
        qos=1,
        user_properties=[("k", "v")],
        content_type="text/plain",
    )
    mid, matched, actions = h.broker.publish_api(args, h.now)
    h.perform(actions)
    assert len(mid) == 32
    assert mid == mid.upper()
    assert matched == 1
    got = c.only(Publish)
    assert got[0].payload == b"hello"
    assert got[0].properties.user_properties == (("k", "v"),)
    assert got[0].properties.content_type == "text/plain"
    _, none, _ = h.broker.publish_api(contracts.PublishArgs(tenant=T, topic="nobody"), h.now)
    assert none == 0


def test_publish_api_rejects_bad_topic_and_base64() -> None:
    h = Harness()
    with pytest.raises(ValueError, match="wildcard"):
        h.broker.publish_api(contracts.PublishArgs(tenant=T, topic="a/+"), h.now)
    with pytest.raises(ValueError, match="base64"):
        h.broker.publish_api(contracts.PublishArgs(tenant=T, topic="a", payload_b64="!!"), h.now)


def test_stats_and_metrics_names() -> None:
    h = Harness()
    a, _ = h.connect("a")
    a.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="s/#"),)))
    a.send(publish("s/1", retain=True))
    stats = h.broker.stats().values
    assert stats["connections.count"] == 1
    assert stats["sessions.count"] == 1
    assert stats["subscriptions.count"] == 1
    assert stats["topics.count"] == 1
    assert stats["retained.count"] == 1
    metrics = h.broker.metrics().values
    assert metrics["packets.connect.received"] == 1
    assert metrics["client.connected"] == 1
    assert metrics["messages.received"] == 1
    assert metrics["messages.qos0.received"] == 1
    assert metrics["messages.sent"] == 1
    assert metrics["packets.subscribe.received"] == 1


def test_disabling_tenant_disconnects_and_refuses() -> None:
    h = Harness()
    c, _ = h.connect("c")
    spec = contracts.TenantSpec(tenant_id=T, enabled=False)
    h.perform(h.broker.update_spec(spec, h.now))
    assert c.is_closed()
    client = h.open()
    got = client.send(Connect(client_id="d"))
    assert isinstance(got[0], ConnAck)
    assert got[0].reason_code == ReasonCode.SERVER_UNAVAILABLE


def test_max_stats_are_high_water_marks() -> None:
    h = Harness()
    a, _ = h.connect("a")
    b, _ = h.connect("b")
    a.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="x"),)))
    b.send(Disconnect())
    a.send(Unsubscribe(packet_id=2, topic_filters=("x",)))
    values = h.broker.stats().values
    assert values["live_connections.count"] == 1
    assert values["live_connections.max"] == 2
    assert values["subscriptions.count"] == 0
    assert values["subscriptions.max"] == 1
    assert values["topics.max"] == 1


def test_message_ids_are_unique_and_time_ordered() -> None:
    """EMQX GUID shape: microsecond timestamp first, so ids sort by publish time."""
    h = Harness()
    b = h.broker

    def new_id(now: float) -> str:
        msg = b.make_message("t", b"", qos=0, retain=False, properties=NO_PROPERTIES, publisher=None, now=now)
        return msg.id_hex

    ids = [new_id(h.now) for _ in range(70000)]  # more than the 16-bit sequence within one `now`
    later = new_id(h.now + 1)
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert later > ids[-1]
    assert int(ids[0][:16], 16) == int(h.now * 1_000_000)
    api_id = b.publish_api(contracts.PublishArgs(tenant=T, topic="t"), h.now + 2)[0]
    assert len(api_id) == 32
    assert api_id > later


def test_disabling_kicks_in_batches_per_tick() -> None:
    h = Harness()
    clients = [h.connect(f"c{i}")[0] for i in range(KICK_BATCH + 10)]
    h.perform(h.broker.update_spec(contracts.TenantSpec(tenant_id=T, enabled=False), h.now))
    assert [c.is_closed() for c in clients] == [True] * KICK_BATCH + [False] * 10
    late = h.open()  # opened after the disable: refused at CONNECT, not kicked
    deadline = h.broker.next_deadline()
    assert deadline is not None
    assert deadline <= h.now  # the rest is due at once
    h.tick(h.now)
    assert all(c.is_closed() for c in clients)
    assert not late.is_closed()
    assert h.broker.stats().values["connections.count"] == 0
    got = late.send(Connect(client_id="late"))
    assert isinstance(got[0], ConnAck)
    assert got[0].reason_code == ReasonCode.SERVER_UNAVAILABLE


def test_enabling_again_stops_the_kick() -> None:
    h = Harness()
    clients = [h.connect(f"c{i}")[0] for i in range(KICK_BATCH + 3)]
    h.perform(h.broker.update_spec(contracts.TenantSpec(tenant_id=T, enabled=False), h.now))
    h.perform(h.broker.update_spec(contracts.TenantSpec(tenant_id=T, enabled=True), h.now))
    h.tick(h.now)
    assert [c.is_closed() for c in clients[KICK_BATCH:]] == [False] * 3
