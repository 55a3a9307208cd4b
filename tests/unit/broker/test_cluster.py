"""ClusterRouter: three in-process nodes joined by a loop that carries their cluster actions."""

from tests.unit.broker.pair import Client, Harness, publish
from tests.unit.broker.test_subscribe import subscribe

from mqttcloud import contracts
from mqttcloud.broker import lifecycle
from mqttcloud.broker.actions import Action, ClientClaimed, Forward, RetainedChanged, RouteChanged
from mqttcloud.broker.cluster import ClusterRouter, join
from mqttcloud.protocol.packets import Disconnect, Publish, Unsubscribe
from mqttcloud.protocol.reason_codes import ReasonCode


class Cluster:
    """Nodes a, b, c; what one node emits reaches the others at once, in order."""

    def __init__(self, names: tuple[str, ...] = ("a", "b", "c")) -> None:
        self.harness: dict[str, Harness] = {}
        self.routers: dict[str, ClusterRouter] = {}
        self.forwards: list[tuple[str, str, str]] = []  # (from, to, topic)
        self.retained: list[str] = []
        for name in names:
            self.add(name)

    def add(self, name: str) -> None:
        h = Harness()
        router = join(h.broker.local_router, name)
        original = h.perform

        def perform(actions: list[Action], name: str = name, original=original) -> None:  # type: ignore[no-untyped-def]  # closure default
            original(actions)
            self.carry(name, actions)

        h.perform = perform  # type: ignore[method-assign]  # intercept cluster actions
        self.harness[name] = h
        self.routers[name] = router
        for other, r in self.routers.items():  # join: tables both ways
            if other != name:
                router.routes_replaced(other, r.local_filters())
                r.routes_replaced(name, router.local_filters())

    def carry(self, origin: str, actions: list[Action]) -> None:
        for action in actions:
            match action:
                case Forward(node=node, message=msg, groups=groups):
                    self.forwards.append((origin, node, msg.topic))
                    h = self.harness[node]
                    h.perform(self.routers[node].deliver_remote(msg, groups, h.now))
                case RouteChanged(topic_filter=flt, added=added):
                    for name, r in self.routers.items():
                        if name != origin:
                            (r.routes_added if added else r.routes_removed)(origin, [flt])
                case ClientClaimed(clientid=cid, at=at, resumed=resumed):
                    for name, h in self.harness.items():  # as `ClusterLink._on_claim` does
                        if name != origin:
                            h.perform(h.broker.release(cid, at, h.now))
                            if resumed:
                                h.perform(lifecycle.forget(h.broker, cid))
                            else:
                                h.perform(lifecycle.superseded(h.broker, cid, h.now))
                case RetainedChanged(message=msg):
                    self.retained.append(msg.topic)
                case _:
                    pass

    def connect(self, node: str, clientid: str) -> Client:
        return self.harness[node].connect(clientid)[0]


def test_publish_on_a_reaches_b_and_c_at_their_qos() -> None:
    c = Cluster()
    sb, sc = c.connect("b", "sb"), c.connect("c", "sc")
    subscribe(sb, "t/#", qos=1)
    subscribe(sc, "t/+", qos=0)
    pub = c.connect("a", "p")
    pub.send(publish("t/1", qos=1, packet_id=1))
    assert [p.qos for p in sb.only(Publish)] == [1]
    assert [p.qos for p in sc.only(Publish)] == [0]
    assert sorted(to for _f, to, _t in c.forwards) == ["b", "c"]


def test_overlapping_filters_on_one_node_forward_once_and_deliver_once() -> None:
    c = Cluster()
    s1, s2 = c.connect("b", "s1"), c.connect("b", "s2")
    subscribe(s1, "t/#", "t/+", "t/1")
    subscribe(s2, "+/1")
    c.connect("a", "p").send(publish("t/1"))
    assert c.forwards == [("a", "b", "t/1")]
    assert len(s1.only(Publish)) == 1
    assert len(s2.only(Publish)) == 1


def test_no_forward_to_a_node_without_subscribers_and_none_after_unsubscribe() -> None:
    c = Cluster()
    s = c.connect("b", "s")
    subscribe(s, "t/1")
    p = c.connect("a", "p")
    p.send(publish("t/1"))
    s.send(Unsubscribe(packet_id=2, topic_filters=("t/1",)))
    p.send(publish("t/1"))
    assert c.forwards == [("a", "b", "t/1")]
    assert c.routers["a"].remote_routes() == {}


def test_delivered_remote_messages_are_not_forwarded_again() -> None:
    c = Cluster()
    for node in ("a", "b", "c"):
        subscribe(c.connect(node, "s" + node), "t")
    c.connect("a", "p").send(publish("t"))
    assert sorted(c.forwards) == [("a", "b", "t"), ("a", "c", "t")]


def test_shared_group_takes_each_message_once_cluster_wide() -> None:
    c = Cluster()
    members = [c.connect(node, f"m{node}{i}") for node in ("a", "b", "c") for i in range(2)]
    for m in members:
        subscribe(m, "$share/g/job/+")
    plain = c.connect("c", "plain")
    subscribe(plain, "job/#")
    p = c.connect("a", "p")
    for i in range(90):
        p.send(publish(f"job/{i}"))
    counts = [len(m.only(Publish)) for m in members]
    assert sum(counts) == 90
    assert all(n > 0 for n in counts), counts  # spread over nodes and over members
    assert len(plain.only(Publish)) == 90


def test_retained_goes_to_every_node_and_to_the_cluster_store() -> None:
    c = Cluster()
    c.connect("a", "p").send(publish("r/1", retain=True))
    assert c.retained == ["r/1"]
    late = c.connect("c", "late")
    subscribe(late, "r/#")
    [got] = late.only(Publish)
    assert got.retain
    assert got.payload == b"x"
    assert c.harness["b"].broker.retained.get("r/1") is not None


def test_same_client_id_on_b_takes_over_from_a_with_0x8e() -> None:
    c = Cluster()
    old = c.connect("a", "dev")
    c.harness["b"].now += 1
    c.connect("b", "dev")
    assert old.closed
    assert [d.reason_code for d in old.only(Disconnect)] == [ReasonCode.SESSION_TAKEN_OVER]
    assert c.harness["b"].broker.is_online("dev")


def test_full_table_replay_is_idempotent_and_drops_stale_routes() -> None:
    c = Cluster()
    s = c.connect("b", "s")
    subscribe(s, "t/1", "u/#")
    a = c.routers["a"]
    a.routes_added("b", ["gone/1"])
    for _ in range(3):
        a.routes_replaced("b", c.routers["b"].local_filters())
    assert a.remote_routes() == {"b": {"t/1", "u/#"}}
    c.connect("a", "p").send(publish("t/1"))
    assert len(s.only(Publish)) == 1


def test_node_down_drops_its_routes() -> None:
    c = Cluster()
    subscribe(c.connect("b", "s"), "t/1")
    a = c.routers["a"]
    a.node_down("b")
    c.connect("a", "p").send(publish("t/1"))
    assert c.forwards == []
    assert "b" not in a.nodes


def test_join_announces_routes_of_restored_sessions() -> None:
    """Subscriptions present before `join` (restored from the log) are in the node's full table."""
    h = Harness()
    s = h.connect("s")[0]
    subscribe(s, "x/#")
    router = join(h.broker.local_router, "solo")
    assert router.local_filters() == ["x/#"]


def test_api_publish_counts_remote_subscribers_not_retained_copies() -> None:
    """`matched` (the API's 200 vs 202 no_matching_subscribers) counts nodes with a subscriber only."""
    c = Cluster()
    a = c.harness["a"]

    def matched(topic: str, retain: bool = False) -> int:
        args = contracts.PublishArgs(
            tenant=contracts.TenantId("t"), topic=topic, payload_b64="eA==", retain=retain
        )
        return a.broker.publish_api(args, a.now)[1]

    assert matched("m/kept", retain=True) == 0  # copies go to b and c for their stores, nobody listens
    assert matched("m/1") == 0
    subscribe(c.connect("b", "s"), "m/#")
    assert matched("m/1") == 1
    assert matched("m/kept", retain=True) == 1
