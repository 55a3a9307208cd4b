"""Random client behaviour against one broker: the core never raises and its bookkeeping stays consistent."""

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.broker.pair import Client, Harness, publish

from mqttcloud import contracts
from mqttcloud.broker.core import Broker
from mqttcloud.broker.session import AWAIT_COMP
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

CLIENTS = ["a", "b"]
TOPICS = ["t/1", "u"]
FILTERS = ["t/+", "#", "$share/g/t/#", "t/1"]

step = st.one_of(
    st.tuples(st.just("connect"), st.sampled_from(CLIENTS), st.booleans(), st.sampled_from([4, 5])),
    st.tuples(st.just("publish"), st.sampled_from(CLIENTS), st.sampled_from(TOPICS), st.integers(0, 2)),
    st.tuples(st.just("subscribe"), st.sampled_from(CLIENTS), st.sampled_from(FILTERS), st.integers(0, 2)),
    st.tuples(st.just("unsubscribe"), st.sampled_from(CLIENTS), st.sampled_from(FILTERS), st.just(0)),
    st.tuples(st.just("ack"), st.sampled_from(CLIENTS), st.just(""), st.just(0)),
    st.tuples(st.just("drop"), st.sampled_from(CLIENTS), st.booleans(), st.just(0)),
    st.tuples(st.just("time"), st.just(""), st.just(""), st.sampled_from([1, 5, 11, 100])),
)


def ack_everything(client: Client) -> None:
    """Answer what the broker sent, as a well-behaved client would."""
    for p in client.take():
        if client.is_closed():
            return
        if isinstance(p, Publish) and p.qos == 1 and p.packet_id is not None:
            client.send(PubAck(packet_id=p.packet_id))
        elif isinstance(p, Publish) and p.qos == 2 and p.packet_id is not None:
            client.send(PubRec(packet_id=p.packet_id))
        elif isinstance(p, PubRel):
            client.send(PubComp(packet_id=p.packet_id))
        elif isinstance(p, PubRec):
            client.send(PubRel(packet_id=p.packet_id))


@settings(max_examples=60, deadline=None)
@given(st.lists(step, min_size=1, max_size=60))
def test_random_sessions_keep_invariants(steps: list[tuple[str, str, object, int]]) -> None:
    h = Harness(contracts.Limits(max_inflight=2, max_queue_len=3, retry_interval=10))
    live: dict[str, Client] = {}
    pid = 0
    for kind, cid, arg, n in steps:
        client = live.get(cid)
        if client is not None and client.is_closed():
            del live[cid]
            client = None
        if kind == "connect":
            props = Properties(session_expiry_interval=300) if arg else Properties()
            live[cid], _ = h.connect(
                cid, version=n, clean_start=not arg, properties=props if n == 5 else Properties()
            )
        elif kind == "time":
            h.tick(h.now + n)
        elif client is None:
            continue
        elif kind == "publish":
            pid = pid % 65535 + 1
            assert isinstance(arg, str)
            client.send(publish(arg, b"m", qos=n, packet_id=pid, retain=pid % 3 == 0))
        elif kind == "subscribe":
            assert isinstance(arg, str)
            client.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter=arg, qos=QoS(n)),)))
        elif kind == "unsubscribe":
            assert isinstance(arg, str)
            client.send(Unsubscribe(packet_id=1, topic_filters=(arg,)))
        elif kind == "ack":
            ack_everything(client)
        elif kind == "drop":
            if arg:
                client.send(Disconnect())
            else:
                h.perform(h.broker.channel_closed(client.channel_id, h.now))
                client.closed = True
        broker = h.broker
        assert broker.trie.count == sum(len(s.subscriptions) for s in broker.sessions.values())
        for s in broker.sessions.values():
            assert len(s.queue) <= 3
            assert len(s.inflight) <= 2  # [MQTT-3.3.4-9] the window
            if s.connected_channel is not None:
                ch = broker.channel(s.connected_channel)
                assert ch is not None
                assert ch.session is s
        assert broker.connected_count() == sum(
            1 for s in broker.sessions.values() if s.connected_channel is not None
        )
    assert_log_rebuilds_state(h)


def assert_log_rebuilds_state(h: Harness) -> None:
    """Replaying every Persist record gives the stored sessions, subscriptions, QoS>0 queue, retained."""
    spec = contracts.TenantSpec(tenant_id=contracts.TenantId("t1"))
    fresh = Broker(spec, node_name="n", now=h.now)
    fresh.restore(h.log, h.now)
    old = {cid: s for cid, s in h.broker.sessions.items() if s.stored}
    assert {cid: set(s.subscriptions) for cid, s in fresh.sessions.items()} == {
        cid: set(s.subscriptions) for cid, s in old.items()
    }
    for cid, s in old.items():
        pending = sorted(d.message.id for d in [*s.inflight.values(), *s.queue] if d.qos)
        back = fresh.sessions[cid]
        assert sorted(d.message.id for d in [*back.inflight.values(), *back.queue]) == pending
        owed = {pid: d.message.id for pid, d in s.inflight.items() if d.state == AWAIT_COMP}
        assert {pid: d.message.id for pid, d in back.inflight.items()} == owed  # PUBREL still owed
    assert {m.topic for m in fresh.retained} == {m.topic for m in h.broker.retained}


def test_log_rebuilds_state_after_a_mixed_scenario() -> None:
    """Directed companion of the random test: offline queue, in-flight, acks, unsubscribe, retained."""
    h = Harness(contracts.Limits(max_inflight=2))
    props = Properties(session_expiry_interval=300)
    a, _ = h.connect("a", clean_start=False, properties=props)
    for flt in ("t/+", "u", "$share/g/t/#"):
        a.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter=flt, qos=QoS(2)),)))
    a.send(Unsubscribe(packet_id=2, topic_filters=("u",)))
    b, _ = h.connect("b")
    for i in range(4):
        b.send(publish("t/1", b"m", qos=1 + i % 2, packet_id=i + 1, retain=i == 0))
    ack_everything(a)  # acks the first window; the next two go in flight
    b.send(publish("t/1", b"", retain=True))
    a.send(Disconnect())
    b.send(publish("t/2", b"offline", qos=1, packet_id=9))
    assert len(h.broker.sessions["a"].inflight) + len(h.broker.sessions["a"].queue) >= 2
    assert_log_rebuilds_state(h)
