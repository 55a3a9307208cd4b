"""Sessions across cluster nodes, sans I/O: hand-over and adoption, the offline trie, session facts."""

from typing import TypeVar

from tests.unit.broker.pair import Client, Harness, publish
from tests.unit.broker.test_cluster import Cluster
from tests.unit.broker.test_subscribe import subscribe, will

from mqttcloud.broker import lifecycle, persistence
from mqttcloud.broker.actions import Action, Relay, RouteChanged, SessionChanged, StoreOffline
from mqttcloud.broker.durability import (
    MessageQueued,
    MessageSent,
    Record,
    SessionDeleted,
    SessionUpserted,
    SubscriptionAdded,
)
from mqttcloud.broker.message import Message
from mqttcloud.broker.subscriptions import Subscription
from mqttcloud.protocol.packets import Disconnect, PubAck, Publish, PubRec, PubRel
from mqttcloud.protocol.properties import Properties
from mqttcloud.protocol.reason_codes import ReasonCode

PERSISTENT = Properties(session_expiry_interval=300)


def _connect(c: Cluster, node: str, clientid: str, *, clean: bool = False) -> tuple[Client, bool]:
    client, ack = c.harness[node].connect(clientid, clean_start=clean, properties=PERSISTENT)
    return client, ack.session_present


def _move(c: Cluster, src: str, dst: str, clientid: str) -> None:
    """What the runtime does for a CONNECT on `dst` of a session `src` holds (the NATS request)."""
    records, actions = lifecycle.hand_over(
        c.harness[src].broker, clientid, c.harness[dst].now, c.harness[src].now
    )
    c.harness[src].perform(actions)
    assert records is not None
    c.harness[dst].perform(lifecycle.adopt(c.harness[dst].broker, clientid, records, c.harness[dst].now))


A = TypeVar("A", bound=Action)


def _of(kind: type[A], batches: list[list[Action]]) -> list[A]:
    return [a for batch in batches for a in batch if isinstance(a, kind)]


def test_hand_over_and_adopt_move_subscriptions_queue_and_session_present() -> None:
    c = Cluster()
    x, _ = _connect(c, "a", "x")
    subscribe(x, "m/#", qos=1)
    x.send(Disconnect())
    pub = c.connect("c", "p")
    for i in range(3):
        pub.send(publish("m/1", str(i).encode(), qos=1, packet_id=i + 1))
    _move(c, "a", "b", "x")
    assert "x" not in c.harness["a"].broker.sessions
    assert SessionDeleted("x") in c.harness["a"].log  # a's durable copy goes
    assert c.routers["a"].local_filters() == []
    assert c.routers["b"].local_filters() == ["m/#"]
    moved, present = _connect(c, "b", "x")
    assert present  # [MQTT-3.2.2-3]
    assert [p.payload for p in moved.only(Publish)] == [b"0", b"1", b"2"]
    pub.send(publish("m/2", b"live", qos=1, packet_id=9))
    assert [p.payload for p in moved.only(Publish)] == [b"live"]
    assert any(isinstance(r, SessionUpserted) and r.clientid == "x" for r in c.harness["b"].log)


def test_hand_over_keeps_qos2_owing_pubrel_with_its_packet_id() -> None:
    c = Cluster()
    x, _ = _connect(c, "a", "x")
    subscribe(x, "q2", qos=2)
    c.connect("a", "p").send(publish("q2", b"two", qos=2, packet_id=1))
    [sent] = x.only(Publish)
    assert sent.packet_id is not None
    x.send(PubRec(packet_id=sent.packet_id))  # the broker now owes PUBREL
    x.send(Disconnect())
    _move(c, "a", "b", "x")
    moved, present = _connect(c, "b", "x")
    assert present
    assert [p.packet_id for p in moved.only(PubRel)] == [sent.packet_id]  # [MQTT-4.4.0-1]


def test_hand_over_resends_unacknowledged_publishes_with_their_packet_id_and_dup() -> None:
    c = Cluster()
    x, _ = _connect(c, "a", "x")
    subscribe(x, "q1", qos=1)
    subscribe(x, "q2", qos=2)
    pub = c.connect("a", "p")
    pub.send(publish("q1", b"one", qos=1, packet_id=1))
    pub.send(publish("q2", b"two", qos=2, packet_id=2))
    sent = x.only(Publish)
    assert [(p.payload, p.dup) for p in sent] == [(b"one", False), (b"two", False)]
    x.send(Disconnect())  # neither PUBACK nor PUBREC came
    pub.send(publish("q1", b"queued", qos=1, packet_id=3))
    c.harness["b"].now += 1
    _move(c, "a", "b", "x")
    moved, present = _connect(c, "b", "x")
    assert present
    got = moved.only(Publish)
    # [MQTT-4.4.0-1]: the same packet ids with DUP=1, in order, then the queued message as new
    assert [(p.payload, p.packet_id, p.dup) for p in got[:2]] == [
        (s.payload, s.packet_id, True) for s in sent
    ]
    assert [(p.payload, p.dup) for p in got[2:]] == [(b"queued", False)]
    assert got[2].packet_id not in {s.packet_id for s in sent}
    assert got[0].packet_id is not None
    assert got[1].packet_id is not None
    moved.send(PubAck(packet_id=got[0].packet_id))
    moved.send(PubRec(packet_id=got[1].packet_id))
    assert [r.packet_id for r in moved.only(PubRel)] == [got[1].packet_id]
    moved.send(Disconnect())
    again, _ = _connect(c, "b", "x")
    assert [p.payload for p in again.only(Publish)] == [b"queued"]  # only the unacknowledged one


def test_the_durable_log_keeps_no_packet_id_of_an_unacknowledged_publish() -> None:
    c = Cluster()
    x, _ = _connect(c, "a", "x")
    subscribe(x, "q1", qos=1)
    c.connect("a", "p").send(publish("q1", b"one", qos=1, packet_id=1))
    x.send(Disconnect())
    session = c.harness["a"].broker.sessions["x"]
    assert not any(isinstance(r, MessageSent) for r in persistence.session_records(session))
    assert any(isinstance(r, MessageSent) for r in persistence.session_records(session, in_flight=True))


def test_takeover_of_a_connected_client_releases_it_with_0x8e_in_the_hand_over() -> None:
    c = Cluster()
    x, _ = _connect(c, "a", "x")
    subscribe(x, "t", qos=1)
    c.harness["b"].now += 1
    _move(c, "a", "b", "x")
    assert x.closed
    assert [d.reason_code for d in x.only(Disconnect)] == [ReasonCode.SESSION_TAKEN_OVER]
    _moved, present = _connect(c, "b", "x")
    assert present


def test_hand_over_of_an_unknown_or_newer_connection_gives_nothing() -> None:
    c = Cluster()
    assert lifecycle.hand_over(c.harness["a"].broker, "nobody", 0.0, 1.0) == (None, [])
    _connect(c, "a", "x")
    claimed_before = c.harness["a"].now - 10  # the connection here is newer than the claim
    records, _actions = lifecycle.hand_over(c.harness["a"].broker, "x", claimed_before, c.harness["a"].now)
    assert records is None
    assert c.harness["a"].broker.is_online("x")


def test_forget_drops_a_stale_disconnected_copy_without_its_will() -> None:
    c = Cluster()
    x, _ = _connect(c, "a", "x")
    subscribe(x, "f/#")
    x.send(Disconnect())
    actions = lifecycle.forget(c.harness["a"].broker, "x")
    assert "x" not in c.harness["a"].broker.sessions
    assert RouteChanged("f/#", added=False) in actions


def test_a_new_session_on_b_ends_the_session_on_a_and_its_delayed_will_goes_at_once() -> None:
    """[MQTT-3.1.3-9] across nodes: a clean start on b ends the session a holds, as on one node."""
    c = Cluster()
    s = c.connect("c", "s")
    subscribe(s, "will/#", qos=1)
    x, _ = c.harness["a"].connect("x", clean_start=False, properties=PERSISTENT, will=will(delay=60))
    x.send(Disconnect(reason_code=ReasonCode.DISCONNECT_WITH_WILL_MESSAGE))
    assert s.only(Publish) == []  # delayed
    _again, present = _connect(c, "b", "x", clean=True)
    assert not present
    assert [p.payload for p in s.only(Publish)] == [b"gone"]
    assert "x" not in c.harness["a"].broker.sessions
    assert "x" not in c.harness["a"].broker.wills
    c.harness["a"].tick(c.harness["a"].now + 61)
    assert s.only(Publish) == []  # once


def test_a_resumed_session_on_b_drops_the_delayed_will_on_a() -> None:
    """[MQTT-3.1.3-10] the session resumed elsewhere (the stored copy): a's copy and will go unsent."""
    c = Cluster()
    s = c.connect("c", "s")
    subscribe(s, "will/#", qos=1)
    x, _ = c.harness["a"].connect("x", clean_start=False, properties=PERSISTENT, will=will(delay=60))
    x.send(Disconnect(reason_code=ReasonCode.DISCONNECT_WITH_WILL_MESSAGE))
    records = persistence.session_records(c.harness["a"].broker.sessions["x"])
    c.harness["b"].perform(lifecycle.adopt(c.harness["b"].broker, "x", records, c.harness["b"].now))
    _back, present = _connect(c, "b", "x")
    assert present
    assert "x" not in c.harness["a"].broker.sessions
    c.harness["a"].tick(c.harness["a"].now + 61)
    assert s.only(Publish) == []


def test_qos1_message_for_an_offline_session_is_stored_once_by_the_publishing_node_only() -> None:
    c = Cluster()
    for r in c.routers.values():  # the replica of every node says x (on a) is offline
        r.set_offline("x", [Subscription("x", "o/#", 1), Subscription("x", "$share/g/o/#", 1)])
    s = c.connect("b", "s")
    subscribe(s, "o/#", qos=1)
    pub = c.connect("c", "p")
    pub.send(publish("o/1", b"q1", qos=1, packet_id=1))
    pub.send(publish("o/1", b"q0", qos=0))
    stored = _of(StoreOffline, c.harness["c"].batches)
    assert [(a.message.payload, a.clientids) for a in stored] == [(b"q1", ("x",))]
    assert _of(StoreOffline, c.harness["b"].batches) == []  # the receiving node never stores
    for r in c.routers.values():
        r.clear_offline("x")
    pub.send(publish("o/1", b"again", qos=1, packet_id=2))
    assert len(_of(StoreOffline, c.harness["c"].batches)) == 1


def test_no_local_offline_session_is_not_stored_its_own_messages() -> None:
    c = Cluster()
    c.routers["a"].set_offline("me", [Subscription("me", "n/#", 1, no_local=True)])
    c.routers["a"].set_offline("other", [Subscription("other", "n/#", 1)])
    pub = c.connect("a", "me")
    pub.send(publish("n/1", qos=1, packet_id=1))
    [stored] = _of(StoreOffline, c.harness["a"].batches)
    assert isinstance(stored, StoreOffline)
    assert stored.clientids == ("other",)


def test_persistent_sessions_report_changes_and_clean_ones_only_connect_and_end() -> None:
    c = Cluster()
    x, _ = _connect(c, "a", "x")
    subscribe(x, "s/1")
    x.send(Disconnect())
    facts = _of(SessionChanged, c.harness["a"].batches)
    assert len(facts) >= 3  # attach, subscribe, disconnect
    before = len(facts)
    clean = c.connect("a", "clean")
    subscribe(clean, "s/2")
    assert len(_of(SessionChanged, c.harness["a"].batches)) == before + 1  # attach only


def test_adopt_replaces_a_stale_copy_and_schedules_its_expiry() -> None:
    c = Cluster()
    x, _ = _connect(c, "b", "x")
    subscribe(x, "old/#")
    x.send(Disconnect())
    h = c.harness["b"]
    records: list[Record] = [
        SessionUpserted("x", 30, h.now, h.now, 5, None),
        SubscriptionAdded("x", "new/#", 1, False, False, 0, None),
    ]
    h.perform(lifecycle.adopt(h.broker, "x", records, h.now))
    assert list(h.broker.sessions["x"].subscriptions) == ["new/#"]
    assert c.routers["b"].local_filters() == ["new/#"]
    h.tick(h.now + 31)
    assert "x" not in h.broker.sessions


def test_qos1_acknowledged_on_b_after_a_move_is_not_redelivered() -> None:
    c = Cluster()
    x, _ = _connect(c, "a", "x")
    subscribe(x, "r", qos=1)
    x.send(Disconnect())
    c.connect("a", "p").send(publish("r", b"1", qos=1, packet_id=1))
    _move(c, "a", "b", "x")
    moved, _ = _connect(c, "b", "x")
    [got] = moved.only(Publish)
    assert got.packet_id is not None
    moved.send(PubAck(packet_id=got.packet_id))
    moved.send(Disconnect())
    again, present = _connect(c, "b", "x")
    assert present
    assert again.only(Publish) == []


def test_catch_up_queues_only_the_stored_messages_the_session_does_not_hold() -> None:
    """A restarted node's session gets what the cluster stored while it was down, none twice."""
    c = Cluster()
    x, _ = _connect(c, "a", "x")
    subscribe(x, "cu/#", qos=1)
    x.send(Disconnect())
    pub = c.connect("a", "p")
    pub.send(publish("cu/1", b"held", qos=1, packet_id=1))
    broker = c.harness["a"].broker
    [held] = [d.message for d in broker.sessions["x"].queue]
    missed = broker.make_message(
        "cu/2", b"missed", qos=1, retain=False, properties=Properties(), publisher="p", now=c.harness["a"].now
    )
    stored: list[Record] = [MessageQueued("x", 1, held, (), False), MessageQueued("x", 1, missed, (), False)]
    c.harness["a"].perform(lifecycle.catch_up(broker, "x", stored, c.harness["a"].now))
    assert MessageQueued("x", 1, missed, (), False) in c.harness["a"].log  # durable, like any queued one
    back, present = _connect(c, "a", "x")
    assert present
    assert [p.payload for p in back.only(Publish)] == [b"held", b"missed"]
    assert lifecycle.catch_up(broker, "x", stored, c.harness["a"].now) == []  # connected: left alone


def _msg(h: Harness, topic: str, payload: bytes, qos: int) -> Message:
    return h.broker.make_message(topic, payload, qos=qos, retain=False, properties=Properties(),
                                 publisher="p", now=h.now)  # fmt: skip


def _move_online(c: Cluster, clientid: str, window: float) -> Client:
    """What the runtime does for a CONNECT on b of a session online on a (`SessionRegistry._on_move`)."""
    a, b = c.harness["a"], c.harness["b"]
    subs = list(a.broker.sessions[clientid].subscriptions.values())
    _move(c, "a", "b", clientid)
    a.perform(c.routers["a"].handed_over(clientid, "b", subs, a.now + window))
    c.routers["b"].moved_in(clientid, b.now, b.now + window)
    return _connect(c, "b", clientid)[0]


def test_a_late_forward_after_an_online_hand_over_is_relayed_to_the_session_once() -> None:
    c = Cluster()
    a, b = c.harness["a"], c.harness["b"]
    x, _ = _connect(c, "a", "x")
    subscribe(x, "lt/#", qos=1)
    b.now += 1
    moved = _move_online(c, "x", window=2.0)
    assert c.routers["c"].remote_routes() == {"a": {"lt/#"}, "b": {"lt/#"}}  # a keeps its route a while
    late = _msg(a, "lt/1", b"late", 1)
    actions = c.routers["a"].deliver_remote(late, (), a.now)  # sent by c before it knew of the move
    assert actions == [Relay("b", "x", late)]
    assert c.routers["b"].relayed("x", late, b.now)
    b.perform(lifecycle.relayed(b.broker, "x", late, b.now))
    [got] = moved.only(Publish)
    assert (got.payload, got.qos) == (b"late", 1)
    # a message b routed itself after the move reached the session already: its relay is dropped
    both = _msg(a, "lt/2", b"both", 1)
    b.perform(c.routers["b"].deliver_remote(both, (), b.now))
    assert [p.payload for p in moved.only(Publish)] == [b"both"]
    assert c.routers["a"].deliver_remote(both, (), a.now) == [Relay("b", "x", both)]
    assert not c.routers["b"].relayed("x", both, b.now)
    # QoS 0, another topic, or past the window: nothing goes on
    zero = _msg(a, "lt/3", b"0", 0)
    other = _msg(a, "zz", b"z", 1)
    assert c.routers["a"].deliver_remote(zero, (), a.now) == []
    assert c.routers["a"].deliver_remote(other, (), a.now) == []
    assert c.routers["a"].expire_moved(a.now + 1.0) == []
    assert c.routers["a"].deliver_remote(late, (), a.now + 2.5) == [RouteChanged("lt/#", added=False)]
    assert c.routers["a"].moved_to == {}
    assert c.routers["a"].local_filters() == []


def test_relayed_skips_what_the_session_holds_and_topics_it_does_not_match() -> None:
    c = Cluster()
    a, b = c.harness["a"], c.harness["b"]
    x, _ = _connect(c, "a", "x")
    subscribe(x, "rl/#", qos=1)
    _move(c, "a", "b", "x")  # disconnected on b: a relayed message is queued
    msg = _msg(a, "rl/1", b"q", 2)
    b.perform(lifecycle.relayed(b.broker, "x", msg, b.now))
    assert [(d.message.payload, d.qos) for d in b.broker.sessions["x"].queue] == [(b"q", 1)]  # granted QoS
    assert lifecycle.relayed(b.broker, "x", msg, b.now) == []  # held already
    other = _msg(a, "zz", b"z", 1)
    assert lifecycle.relayed(b.broker, "x", other, b.now) == []
    assert lifecycle.relayed(b.broker, "nobody", msg, b.now) == []


def _stored(h: Harness, n: int) -> MessageQueued:
    return MessageQueued("x", 1, _msg(h, "pl/q", str(n).encode(), 1), (), False)


def _held(h: Harness, clientid: str) -> dict[bytes, MessageQueued]:
    """What a stream would hold for X, by payload, for the messages X holds (same message ids)."""
    session = h.broker.sessions[clientid]
    found = [*session.inflight.values(), *session.queue]
    return {d.message.payload: MessageQueued(clientid, d.qos, d.message, (), False) for d in found}


def test_catch_up_placed_puts_each_missed_message_before_the_first_held_one_after_it() -> None:
    """A node that missed 1-3 (held 0, 4, 5) queues them in their stream place, and its durable log
    restores the queue in that order; 6 is `catch_up`'s (after all it holds), not placed here."""
    c = Cluster()
    h = c.harness["a"]
    x, _ = _connect(c, "a", "x")
    subscribe(x, "pl/#", qos=1)
    x.send(Disconnect())
    pub = c.connect("a", "p")
    for i, n in enumerate((0, 4, 5)):
        pub.send(publish("pl/q", str(n).encode(), qos=1, packet_id=i + 1))
    held = _held(h, "x")
    placed: list[Record] = [
        held[b"0"],
        *(_stored(h, n) for n in (1, 2, 3)),
        held[b"4"],
        held[b"5"],
        _stored(h, 6),
    ]
    mark = len(h.log)
    h.perform(lifecycle.catch_up_placed(h.broker, "x", placed, h.now))
    assert [d.message.payload for d in h.broker.sessions["x"].queue] == [str(n).encode() for n in range(6)]
    fresh = Harness()  # the durable log keeps the new order
    persistence.restore(fresh.broker, h.log, fresh.now)
    assert [d.message.payload for d in fresh.broker.sessions["x"].queue] == [
        str(n).encode() for n in range(6)
    ]
    assert len(h.log) - mark == 7  # 1-3 queued, 4 and 5 queued again behind them (acked, queued)
    back, present = _connect(c, "a", "x")
    assert present
    assert [p.payload for p in back.only(Publish)] == [str(n).encode() for n in range(6)]
    assert lifecycle.catch_up_placed(h.broker, "x", placed, h.now) == []  # connected: left alone


def test_catch_up_placed_goes_before_the_queue_when_the_next_held_one_is_in_flight() -> None:
    """A missed message the stream has before one in flight goes first in the queue (the one in flight
    is resent first anyway); nothing changes when no missed message comes before a held one."""
    c = Cluster()
    h = c.harness["a"]
    x, _ = _connect(c, "a", "x")
    subscribe(x, "pl/#", qos=1)
    pub = c.connect("a", "p")
    pub.send(publish("pl/q", b"2", qos=1, packet_id=1))  # sent to X, not acknowledged: in flight
    x.send(Disconnect())
    pub.send(publish("pl/q", b"3", qos=1, packet_id=2))
    held = _held(h, "x")
    assert [d.message.payload for d in h.broker.sessions["x"].inflight.values()] == [b"2"]
    assert lifecycle.catch_up_placed(h.broker, "x", [held[b"2"], held[b"3"], _stored(h, 4)], h.now) == []
    h.perform(lifecycle.catch_up_placed(h.broker, "x", [_stored(h, 1), held[b"2"], held[b"3"]], h.now))
    assert [d.message.payload for d in h.broker.sessions["x"].queue] == [b"1", b"3"]


def test_catch_up_placed_keeps_the_queue_limit() -> None:
    """Inserted messages count against `max_queue_len`: the oldest go, as routing drops them."""
    c = Cluster()
    h = c.harness["a"]
    x, _ = _connect(c, "a", "x")
    subscribe(x, "pl/#", qos=1)
    x.send(Disconnect())
    session = h.broker.sessions["x"]
    session.max_queue_len = 3
    pub = c.connect("a", "p")
    for i, n in enumerate((0, 3, 4)):
        pub.send(publish("pl/q", str(n).encode(), qos=1, packet_id=i + 1))
    held = _held(h, "x")
    placed: list[Record] = [held[b"0"], _stored(h, 1), _stored(h, 2), held[b"3"], held[b"4"]]
    h.perform(lifecycle.catch_up_placed(h.broker, "x", placed, h.now))
    assert [d.message.payload for d in session.queue] == [b"2", b"3", b"4"]
    assert session.dropped_queue_full == 2
    fresh = Harness()
    persistence.restore(fresh.broker, h.log, fresh.now)
    assert [d.message.payload for d in fresh.broker.sessions["x"].queue] == [b"2", b"3", b"4"]
