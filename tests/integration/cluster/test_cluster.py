"""Three broker nodes joined through a real nats-server, paho clients on different nodes (issue #12)."""

import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from tests.integration.cluster.clients import Paho, eventually, wait_routed
from tests.integration.cluster.conftest import NODE_TIMEOUT, Nats, Node

Start = Callable[[int], list[Node]]


def test_publish_on_a_reaches_b_and_c_at_their_qos(cluster: Start) -> None:
    a, b, c = cluster(3)
    sb, sc = Paho(b.port, "sb"), Paho(c.port, "sc")
    sb.subscribe("t/#", qos=1)
    sc.subscribe("t/+", qos=0)
    pub = Paho(a.port, "pub")
    wait_routed(pub, [sb, sc], "t/probe")
    pub.publish("t/1", b"hello", qos=1)
    got_b, got_c = sb.take(), sc.take()
    assert (got_b.payload, got_b.qos) == (b"hello", 1)
    assert (got_c.payload, got_c.qos) == (b"hello", 0)


def test_overlapping_filters_on_one_client_give_one_delivery(cluster: Start) -> None:
    a, b, _c = cluster(3)
    sub = Paho(b.port, "over")
    for flt in ("o/#", "o/+", "o/1"):
        sub.subscribe(flt, qos=1)
    pub = Paho(a.port, "opub")
    wait_routed(pub, [sub], "o/1")
    for i in range(20):
        pub.publish("o/1", str(i).encode(), qos=1)
    got = sub.drain()
    assert [m.payload for m in got] == [str(i).encode() for i in range(20)]


def test_shared_subscription_delivers_each_message_once_cluster_wide(cluster: Start) -> None:
    nodes = cluster(3)
    members = [Paho(node.port, f"m{i}{j}") for i, node in enumerate(nodes) for j in range(2)]
    for m in members:
        m.subscribe("$share/g/job/+", qos=1)
    pub = Paho(nodes[0].port, "jpub")
    time.sleep(1.5)  # routes spread (no probe: a probe would land on one member)
    for i in range(100):
        pub.publish(f"job/{i}", str(i).encode(), qos=1)
    got = [m.payload for member in members for m in member.drain()]
    assert sorted(got) == sorted(str(i).encode() for i in range(100))
    assert sum(1 for member in members if member.drain(0.1) == []) == len(members)  # nothing late


def test_retained_on_a_is_seen_on_c_and_by_a_node_started_later(cluster: Start) -> None:
    a, _b, c = cluster(3)
    Paho(a.port, "rpub").publish("r/state", b"on", qos=1, retain=True)
    eventually(lambda: _retained(c, "r/#", "rs1") == b"on", what="retained on c")
    [d] = cluster(1)
    assert _retained(d, "r/#", "rs2") == b"on"


def _waiting(sub: Paho) -> list[mqtt.MQTTMessage]:
    """What `sub` received and nobody took yet, without waiting."""
    got: list[mqtt.MQTTMessage] = []
    while not sub.messages.empty():
        got.append(sub.messages.get_nowait())
    return got


def _retained(node: Node, flt: str, clientid: str) -> bytes | None:
    sub = Paho(node.port, clientid)
    sub.subscribe(flt)
    got = sub.drain(0.5)
    sub.close()
    return bytes(got[0].payload) if got else None


def test_same_client_id_on_b_kicks_it_on_a_with_0x8e(cluster: Start) -> None:
    a, b, _c = cluster(3)
    old = Paho(a.port, "dev-1")
    time.sleep(0.1)
    new = Paho(b.port, "dev-1")
    assert old.gone.wait(5)
    assert old.disconnects[0] == 0x8E
    assert not new.gone.is_set()


def test_kill9_of_a_node_keeps_the_others_routing_and_drops_its_routes(cluster: Start) -> None:
    a, b, c = cluster(3)
    sb, sc = Paho(b.port, "ksb"), Paho(c.port, "ksc")
    sb.subscribe("k/#", qos=1)
    sc.subscribe("k/#", qos=1)
    pub = Paho(a.port, "kpub")
    wait_routed(pub, [sb, sc], "k/probe")
    c.kill9()
    for i in range(10):
        pub.publish("k/1", str(i).encode(), qos=1)
    assert [m.payload for m in sb.drain()] == [str(i).encode() for i in range(10)]
    time.sleep(NODE_TIMEOUT + 2)  # a drops c's routes: no more forwards to a dead inbox
    a_log = a.stderr()
    assert "node n2 silent" in a_log, a_log[-2000:]


def test_nats_restart_keeps_local_traffic_and_resumes_without_duplicates(cluster: Start, nats: Nats) -> None:
    """QoS 1 counted across a NATS restart in the middle of traffic from node a to node b: nothing stored
    before the failure is lost, no subscription gets a message twice, order holds."""
    a, b, c = cluster(3)
    local_sub = Paho(a.port, "lsub")
    remote_sub = Paho(b.port, "rsub")
    kept = Paho(b.port, "nkept", clean=False, expiry=300)  # offline on b: its messages are stored
    for sub in (local_sub, remote_sub, kept):
        sub.subscribe("n/#", qos=1)
    pub = Paho(a.port, "npub")
    wait_routed(pub, [remote_sub, local_sub, kept], "n/probe")
    kept.close()
    time.sleep(0.5)
    for i in range(20):
        pub.publish("n/pre", str(i).encode(), qos=1)  # acknowledged and stored before the failure
    numbers = [str(i).encode() for i in range(50)]
    assert [m.payload for m in remote_sub.drain(0.5)] == numbers[:20]
    assert [m.payload for m in local_sub.drain(0.1)] == numbers[:20]
    got_remote: list[mqtt.MQTTMessage] = []
    got_local: list[mqtt.MQTTMessage] = []
    flow = Paho(a.port, "nflow")
    stop = threading.Event()
    sent: list[int] = []

    def publish_flow() -> None:  # QoS 1 from a the whole time, each acknowledged before the next
        while not stop.is_set():
            flow.publish("n/flow", str(len(sent)).encode(), qos=1)
            sent.append(len(sent))
            time.sleep(0.005)

    flowing = threading.Thread(target=publish_flow)
    flowing.start()
    try:
        time.sleep(0.5)
        stopped_at = len(sent)
        nats.stop()
        time.sleep(0.5)
        for i in range(10):
            pub.publish("n/out", str(i).encode(), qos=1)
        nats.start()
        mark = len(sent)

        def resumed() -> bool:  # a message published after the restart crossed to b
            got_remote.extend(_waiting(remote_sub))
            return any(m.topic == "n/flow" and int(m.payload) > mark for m in got_remote)

        eventually(resumed, timeout=20, what="flow from a to b after the restart")
        resumed_at = len(sent)
        for i in range(50):
            pub.publish("n/back", str(i).encode(), qos=1)
        time.sleep(0.5)
    finally:
        stop.set()
        flowing.join()
    got_remote.extend(remote_sub.drain())
    got_local.extend(local_sub.drain())

    def payloads(got: list[mqtt.MQTTMessage], topic: str) -> list[bytes]:
        return [bytes(m.payload) for m in got if m.topic == topic]

    assert payloads(got_local, "n/out") == numbers[:10]
    assert payloads(got_remote, "n/back") == numbers
    assert payloads(got_local, "n/back") == numbers
    assert payloads(got_local, "n/flow") == [str(i).encode() for i in sent]  # local: every one
    remote_flow = [int(p) for p in payloads(got_remote, "n/flow")]
    assert remote_flow == sorted(set(remote_flow)), "a duplicate or a reordering across the resync"
    # Only what was published while NATS was away (or on its way to it when it stopped) may be missing.
    arrived = set(remote_flow)
    lost_before = [i for i in range(max(0, stopped_at - 20)) if i not in arrived]
    lost_after = [i for i in range(resumed_at, len(sent)) if i not in arrived]
    assert lost_before == [], (stopped_at, resumed_at)
    assert lost_after == [], (stopped_at, resumed_at)
    moved = Paho(c.port, "nkept", clean=False, expiry=300)  # moved from b to c through NATS
    assert moved.session_present is True
    got_kept = moved.drain(2.0)
    assert payloads(got_kept, "n/pre") == numbers[:20]  # stored before the failure: none lost
    assert payloads(got_kept, "n/back") == numbers
    kept_flow = [int(p) for p in payloads(got_kept, "n/flow")]
    assert kept_flow == sorted(set(kept_flow))
