"""The failure cases of a real cluster (#12): deleted retained messages, restarts, wills, expiry, NATS."""

import asyncio
import time
from collections.abc import Callable

import nats as nats_py
from tests.integration.cluster.clients import Paho, eventually, wait_routed
from tests.integration.cluster.conftest import CLUSTER, NODE_TIMEOUT, TENANT, Nats, Node, StartNodes
from tests.integration.cluster.proxy import SlowLink

from mqttcloud.runtime.cluster.reaper import SWEEP_INTERVAL

Start = Callable[[int], list[Node]]


def _settle() -> None:
    """Let the session registry's writes reach every node (core NATS publishes, a few ms)."""
    time.sleep(0.5)


def _stored(server: Nats) -> int:
    """How many messages the cluster's offline stream holds."""

    async def count() -> int:
        nc = await nats_py.connect(server.url)
        try:
            info = await nc.jetstream().stream_info(f"mqc_{CLUSTER}_offline")
            return info.state.messages
        finally:
            await nc.close()

    return asyncio.run(count())


def _retained(node: Node, flt: str, clientid: str) -> list[bytes]:
    """The retained messages a new subscriber of `flt` on `node` gets."""
    sub = Paho(node.port, clientid)
    sub.subscribe(flt)
    got = [bytes(m.payload) for m in sub.drain(0.5)]
    sub.close()
    return got


def test_empty_retained_publish_is_not_brought_back_by_a_node_restarted_later(cluster: Start) -> None:
    a, b, c = cluster(3)
    pub = Paho(a.port, "rdpub")
    pub.publish("rd/lamp", b"on", qos=1, retain=True)
    eventually(lambda: _retained(c, "rd/#", "rd1") == [b"on"], what="retained on c")
    c.stop()  # its durable log keeps the message
    pub.publish("rd/lamp", b"", qos=1, retain=True)
    eventually(lambda: _retained(b, "rd/#", "rd2") == [], what="deleted on b")
    c.start()
    assert _retained(c, "rd/#", "rd3") == []
    [d] = cluster(1)
    assert _retained(d, "rd/#", "rd4") == []
    pub.publish("rd/lamp", b"again", qos=1, retain=True)  # a topic deleted once can be set again
    eventually(lambda: _retained(c, "rd/#", "rd5") == [b"again"], what="set again on c")
    [e] = cluster(1)
    assert _retained(e, "rd/#", "rd6") == [b"again"]


def test_retained_deleted_through_the_admin_op_is_gone_from_the_store_too(cluster: Start) -> None:
    """DELETE /api/v5/mqtt/retainer/message/{topic} runs delete_retained on every running node."""
    a, b, c = cluster(3)
    Paho(a.port, "rapub").publish("ra/door", b"open", qos=1, retain=True)
    eventually(lambda: _retained(c, "ra/#", "ra1") == [b"open"], what="retained on c")
    c.stop()
    for node in (a, b):
        assert node.admin("delete_retained", tenant=TENANT, topic="ra/door") == {"deleted": 1}
    assert _retained(b, "ra/#", "ra2") == []
    c.start()
    assert _retained(c, "ra/#", "ra3") == []
    [d] = cluster(1)
    assert _retained(d, "ra/#", "ra4") == []


def test_a_killed_node_restarted_before_its_clients_return_delivers_what_was_stored_meanwhile(
    cluster: Start,
) -> None:
    """Both ways back: to the restarted node itself, and to another node that asks it for the session."""
    a, b, c = cluster(3)
    xs = [Paho(a.port, f"rs{i}", clean=False, expiry=300) for i in range(2)]
    for x in xs:
        x.subscribe("rs/#", qos=1)
    pub = Paho(c.port, "rspub")
    wait_routed(pub, xs, "rs/probe")
    for x in xs:
        x.close()
    _settle()
    for i in range(10):
        pub.publish("rs/q", f"before-{i}".encode(), qos=1)  # queued on a, and in the stream
    _settle()
    a.kill9()
    for i in range(10):
        pub.publish("rs/q", f"during-{i}".encode(), qos=1)  # in the stream only
    a.start()
    want = [f"before-{i}" for i in range(10)] + [f"during-{i}" for i in range(10)]
    home = Paho(a.port, "rs0", clean=False, expiry=300)
    assert home.session_present is True
    assert [m.payload.decode() for m in home.drain(2.0)] == want  # every one, once, in order
    moved = Paho(b.port, "rs1", clean=False, expiry=300)
    assert moved.session_present is True
    assert [m.payload.decode() for m in moved.drain(2.0)] == want
    pub.publish("rs/live", b"live", qos=1)
    assert [m.payload for m in home.drain(1.0)] == [b"live"]
    assert [m.payload for m in moved.drain(0.2)] == [b"live"]


def _dead_will(cluster: Start, clientid: str, delay: int) -> tuple[Node, Node, Paho]:
    """A client of n0 with a will delayed `delay` s; n0 killed; n1 (the elected node) scheduled it."""
    a, b, c = cluster(3)
    sub = Paho(c.port, f"{clientid}-sub")
    sub.subscribe("wd/#", qos=1)
    Paho(a.port, clientid, clean=False, expiry=300, will=(f"wd/{clientid}", b"gone", 1), will_delay=delay)
    wait_routed(Paho(a.port, f"{clientid}-pub"), [sub], "wd/probe")
    _settle()
    a.kill9()
    eventually(lambda: f"will of {clientid} " in b.stderr(), NODE_TIMEOUT + 5, "the will scheduled on n1")
    return b, c, sub


def test_a_dead_nodes_will_is_cancelled_when_its_client_resumes_on_a_third_node(cluster: Start) -> None:
    """[MQTT-3.1.3-9] across nodes: n1 scheduled the will, the client resumes on n2 within the delay."""
    _b, c, sub = _dead_will(cluster, "wres", 4)
    back = Paho(c.port, "wres", clean=False, expiry=300)
    assert back.session_present is True
    time.sleep(5)  # past the will delay
    assert [m.payload for m in sub.drain(0.5)] == []


def test_a_dead_nodes_will_goes_at_once_when_its_client_starts_a_new_session_elsewhere(
    cluster: Start,
) -> None:
    """A clean start ends the old session, and a session's end publishes its will [MQTT-3.1.3-9]."""
    _b, c, sub = _dead_will(cluster, "wnew", 60)
    again = Paho(c.port, "wnew", clean=True, expiry=300)
    assert again.session_present is False
    got = sub.take(timeout=3)
    assert (got.topic, got.payload) == ("wd/wnew", b"gone")


def test_sessions_of_a_dead_node_expire_with_their_will_and_stored_messages(
    cluster: Start, nats: Nats
) -> None:
    a, b, c = cluster(3)
    off = Paho(a.port, "ex-off", clean=False, expiry=5)
    off.subscribe("ex/#", qos=1)
    sub = Paho(c.port, "ex-sub")
    sub.subscribe("exw/#", qos=1)
    Paho(a.port, "ex-on", clean=False, expiry=3, will=("exw/on", b"bye", 1), will_delay=600)
    pub = Paho(c.port, "ex-pub")
    wait_routed(pub, [off], "ex/probe")
    wait_routed(pub, [sub], "exw/probe")
    off.close()
    _settle()
    for i in range(5):
        pub.publish("ex/q", str(i).encode(), qos=1)
    eventually(lambda: _stored(nats) == 5, what="5 messages stored for ex-off")
    a.kill9()
    # ex-on's session ends 3 s after n0 is found dead, long before its will delay: the will goes then
    got = sub.take(timeout=NODE_TIMEOUT + 3 + 2 * SWEEP_INTERVAL + 3)
    assert (got.topic, got.payload) == ("exw/on", b"bye")
    eventually(lambda: _stored(nats) == 0, timeout=2 * SWEEP_INTERVAL + 5, what="the stream purged")
    back = Paho(b.port, "ex-off", clean=False, expiry=300)
    assert back.session_present is False  # its entry went with its expiry
    assert back.drain(1.0) == []
    assert [m.payload for m in sub.drain(0.5)] == []  # the will went once


def test_a_join_past_the_start_timeout_goes_on_in_the_background(cluster: StartNodes, nats: Nats) -> None:
    """NATS answers node c 0.5 s late while it starts: its retained store and sessions part take past
    START_TIMEOUT; c serves meanwhile, says so, and finishes joining: a session of a resumes on c."""
    a, _b = cluster(2)
    x = Paho(a.port, "slow-join", clean=False, expiry=300)
    x.subscribe("sj/#", qos=1)
    x.close()
    _settle()
    slow = SlowLink(nats.port, delay=0.5)
    try:
        (c,) = cluster(1, slow.url)
        assert "goes on in the background" in c.stderr()
        deadline = time.monotonic() + 20
        while "sessions started" not in c.stderr() and time.monotonic() < deadline:
            time.sleep(0.1)
        slow.delay = 0.0
        back = Paho(c.port, "slow-join", clean=False, expiry=300)
        assert back.session_present is True  # c asked a for it: its replica of the registry is there
        pub = Paho(a.port, "sj-pub")
        wait_routed(pub, [back], "sj/probe")
        back.close()
        pub.close()
    finally:
        slow.close()
