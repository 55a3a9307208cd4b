"""Persistent sessions across the nodes of a real cluster: moves on takeover, dead nodes, wills (#12)."""

import threading
import time
from collections.abc import Callable

import pytest
from tests.integration.cluster.clients import Paho, eventually, wait_routed
from tests.integration.cluster.conftest import NODE_TIMEOUT, Nats, Node, StartNodes
from tests.integration.cluster.proxy import SlowLink

Start = Callable[[int], list[Node]]


def _settle() -> None:
    """Let the session registry's writes reach every node (core NATS publishes, a few ms)."""
    time.sleep(0.5)


def test_takeover_on_b_moves_the_session_from_a(cluster: Start) -> None:
    """Queued QoS 1 messages, subscriptions and Session Present=1 follow the client to node B."""
    a, b, c = cluster(3)
    x = Paho(a.port, "mover", clean=False, expiry=300)
    assert x.session_present is False
    x.subscribe("mv/#", qos=1)
    pub = Paho(c.port, "mvpub")
    wait_routed(pub, [x], "mv/probe")
    x.close()
    _settle()
    for i in range(10):
        pub.publish("mv/q", str(i).encode(), qos=1)
    moved = Paho(b.port, "mover", clean=False, expiry=300)
    assert moved.session_present is True
    got = [m.payload for m in moved.drain()]
    assert got == [str(i).encode() for i in range(10)]
    assert [m.qos for m in moved.drain(0.1)] == []
    pub.publish("mv/after", b"live", qos=1)  # the subscription lives on B now
    assert moved.take().payload == b"live"
    assert "session taken over" not in b.stderr()


def test_a_move_resends_unacknowledged_messages_with_their_packet_id_and_dup(cluster: Start) -> None:
    """QoS 1 messages A sent to X that X did not acknowledge come on B with the same packet ids and
    DUP=1 [MQTT-4.4.0-1], as on a resume on one node; a message queued after comes as a new one."""
    a, b = cluster(2)
    x = Paho(a.port, "dupmover", clean=False, expiry=300)
    x.client.manual_ack_set(True)  # no PUBACK: the messages stay in flight on A
    x.subscribe("dm/#", qos=1)
    pub = Paho(a.port, "dmpub")
    for i in range(3):
        pub.publish("dm/q", str(i).encode(), qos=1)
    sent = [x.take() for _ in range(3)]
    assert [(m.payload, m.dup) for m in sent] == [(str(i).encode(), False) for i in range(3)]
    x.close()
    _settle()
    pub.publish("dm/q", b"queued", qos=1)
    moved = Paho(b.port, "dupmover", clean=False, expiry=300)
    assert moved.session_present is True
    got = moved.drain()
    assert [(m.payload, m.mid, m.dup) for m in got[:3]] == [(m.payload, m.mid, True) for m in sent]
    assert [(m.payload, m.dup) for m in got[3:]] == [(b"queued", False)]
    pub.close()
    moved.close()


def test_a_move_keeps_the_messages_still_on_their_way_to_a(cluster: StartNodes, nats: Nats) -> None:
    """The publisher's node reaches NATS 0.3 s late: what it acknowledged before the CONNECT on B has
    not reached A when A hands the session over; none of it is lost (B reads it from the stream)."""
    a, b = cluster(2)
    slow = SlowLink(nats.port)
    try:
        (c,) = cluster(1, slow.url)
        x = Paho(a.port, "late", clean=False, expiry=300)
        x.subscribe("lt/#", qos=1)
        pub = Paho(c.port, "ltpub")
        wait_routed(pub, [x], "lt/probe")
        x.close()
        _settle()
        slow.delay = 0.3
        for i in range(5):
            pub.publish("lt/q", str(i).encode(), qos=1)
        moved = Paho(b.port, "late", clean=False, expiry=300)
        assert moved.session_present is True
        assert [m.payload for m in moved.drain()] == [str(i).encode() for i in range(5)]
        pub.close()
        moved.close()
    finally:
        slow.close()


def test_takeover_of_a_connected_client_disconnects_a_with_0x8e_and_keeps_the_session(cluster: Start) -> None:
    a, b, _c = cluster(3)
    old = Paho(a.port, "live-mover", clean=False, expiry=300)
    old.subscribe("lm/#", qos=1)
    _settle()
    new = Paho(b.port, "live-mover", clean=False, expiry=300)
    assert old.gone.wait(5)
    assert old.disconnects[0] == 0x8E
    assert new.session_present is True
    pub = Paho(a.port, "lmpub")
    wait_routed(pub, [new], "lm/probe")


def test_clean_start_on_b_does_not_resume_the_session_of_a(cluster: Start) -> None:
    a, b, _c = cluster(3)
    x = Paho(a.port, "fresh", clean=False, expiry=300)
    x.subscribe("fr/#", qos=1)
    x.close()
    _settle()
    again = Paho(b.port, "fresh", clean=True, expiry=300)
    assert again.session_present is False


@pytest.mark.parametrize("online", [False, True], ids=["offline", "online"])
def test_clean_start_on_b_ends_the_session_of_a_and_publishes_its_delayed_will(
    cluster: Start, online: bool
) -> None:
    """[MQTT-3.1.3-9] across nodes, as on one node: a new session ends the old one on A (disconnected,
    or taken over from a live connection) and its delayed will goes at once, once."""
    a, b, c = cluster(3)
    sub = Paho(c.port, "cw-sub")
    sub.subscribe("cw/#", qos=1)
    x = Paho(a.port, "cw", clean=False, expiry=300, will=("cw/x", b"gone", 1), will_delay=60)
    wait_routed(Paho(a.port, "cw-pub"), [sub], "cw/probe")
    if not online:
        x.close(with_will=True)  # the will waits for its delay
    _settle()
    assert sub.drain(0.3) == []
    again = Paho(b.port, "cw", clean=True, expiry=300)
    assert again.session_present is False
    got = sub.take(timeout=3)
    assert (got.topic, got.payload) == ("cw/x", b"gone")
    assert sub.drain(1.0) == []
    again.close()  # B's session stays; A has none left to resume
    back = Paho(a.port, "cw", clean=False, expiry=300)
    assert back.session_present is True  # B's session, moved back
    assert sub.drain(0.5) == []


def test_kill9_of_the_sessions_node_resumes_it_elsewhere_with_every_stored_message(cluster: Start) -> None:
    """QoS 1 messages queued while offline (before and after the kill) all reach the resumed session."""
    a, b, c = cluster(3)
    x = Paho(a.port, "survivor", clean=False, expiry=300)
    x.subscribe("sv/#", qos=1)
    pub = Paho(c.port, "svpub")
    wait_routed(pub, [x], "sv/probe")
    x.close()
    _settle()
    for i in range(20):
        pub.publish("sv/q", f"before-{i}".encode(), qos=1)
    a.kill9()
    for i in range(10):
        pub.publish("sv/q", f"after-{i}".encode(), qos=1)
    back = Paho(b.port, "survivor", clean=False, expiry=300)
    assert back.session_present is True
    got = [m.payload.decode() for m in back.drain(2.0)]
    want = [f"before-{i}" for i in range(20)] + [f"after-{i}" for i in range(10)]
    assert sorted(set(got)) == sorted(want), got  # every one (at least once)
    assert got == want  # and here, once each, in order
    pub.publish("sv/live", b"live", qos=1)  # the subscription came back with the session
    eventually(lambda: any(m.payload == b"live" for m in back.drain(0.2)), what="live message on b")


def test_will_of_a_client_of_a_killed_node_is_published_once(cluster: Start) -> None:
    a, b, c = cluster(3)
    subs = [Paho(b.port, "wsb"), Paho(c.port, "wsc")]
    for s in subs:
        s.subscribe("will/#", qos=1)
    Paho(a.port, "doomed", will=("will/doomed", b"gone", 1))
    pub = Paho(a.port, "wpub")
    wait_routed(pub, subs, "will/probe")
    _settle()
    killed_at = time.monotonic()
    a.kill9()
    got = subs[0].take(timeout=NODE_TIMEOUT + 5)
    took = time.monotonic() - killed_at
    assert (got.topic, got.payload) == ("will/doomed", b"gone")
    assert took <= NODE_TIMEOUT + 2, took
    time.sleep(1.0)
    assert [m.payload for m in subs[0].drain(0.5)] == []
    assert [m.payload for m in subs[1].drain(0.5)] == [b"gone"]


def test_a_live_takeover_keeps_the_messages_still_on_their_way_to_a(cluster: StartNodes, nats: Nats) -> None:
    """X is online on A and resumes on B while a publisher on node C (whose link to NATS is 0.3 s
    late) keeps publishing QoS 1 to it: forwards that reach A after the hand-over are passed on to B.
    Every acknowledged message arrives, once, but for what A had in flight at the hand-over (sent
    again by B, as a resumed session's unacknowledged messages are)."""
    a, b = cluster(2)
    slow = SlowLink(nats.port)
    try:
        (c,) = cluster(1, slow.url)
        x = Paho(a.port, "live-late", clean=False, expiry=300)
        x.subscribe("ll/#", qos=1)
        pub = Paho(c.port, "llpub")
        wait_routed(pub, [x], "ll/probe")
        slow.delay = 0.3
        acked: list[bytes] = []

        def publish_all() -> None:
            for i in range(60):
                payload = str(i).encode()
                info = pub.client.publish("ll/q", payload, 1)
                info.wait_for_publish(10)
                if info.is_published():
                    acked.append(payload)
                time.sleep(0.01)

        flow = threading.Thread(target=publish_all)
        flow.start()
        time.sleep(0.4)
        moved = Paho(b.port, "live-late", clean=False, expiry=300)
        assert x.gone.wait(5)
        x.close()
        assert moved.session_present is True
        flow.join()
        got_a = [m.payload for m in x.drain(0.1)]
        got_b = [m.payload for m in moved.drain(2.0)]
        assert len(acked) == 60
        missing = set(acked) - set(got_a) - set(got_b)
        assert not missing, (sorted(missing, key=int), got_a, got_b)
        assert len(got_a) == len(set(got_a)), got_a
        assert len(got_b) == len(set(got_b)), got_b
        # on both only what A had in flight when it handed the session over: its last ones, sent again
        again = [p for p in got_a if p in set(got_b)]
        assert again == got_a[len(got_a) - len(again) :], (got_a, got_b)
        pub.close()
        moved.close()
    finally:
        slow.close()


def _b_misses_one(a: Node, b: Node, slow: SlowLink, clientid: str, prefix: str) -> tuple[Paho, int]:
    """X (`clientid`, on `prefix`/#) is offline on B when B loses NATS for a moment (`slow` is B's link):
    a QoS 1 message published on A meanwhile goes into the stream but not to B (no one listens on B's
    inbox), the ones before and after go to both. Returns A's publisher and how many messages it sent
    on `prefix`/q (payloads 0, 1, ...; 1 is the one B missed)."""
    x = Paho(b.port, clientid, clean=False, expiry=300)
    x.subscribe(f"{prefix}/#", qos=1)
    witness = Paho(b.port, f"{prefix}-witness")  # sees when forwards reach B again
    witness.subscribe(f"{prefix}/#", qos=1)
    pub = Paho(a.port, f"{prefix}pub")
    wait_routed(pub, [x, witness], f"{prefix}/probe")
    x.close()
    _settle()
    topic = f"{prefix}/q"
    pub.publish(topic, b"0", qos=1)  # to B and to the stream
    assert witness.take().payload == b"0"
    slow.cut()
    time.sleep(0.3)  # the server dropped B's subscriptions; A still routes to B
    pub.publish(topic, b"1", qos=1)  # to the stream only: acknowledged once the stream has it
    slow.restore()
    sent = 2

    def back() -> bool:  # B listens again: a message published now reached it
        nonlocal sent
        pub.publish(topic, str(sent).encode(), qos=1)
        sent += 1
        return any(m.payload != b"1" for m in witness.drain(0.1))

    eventually(back, timeout=15, what="forwards from A to B again")
    for _ in range(3):
        pub.publish(topic, str(sent).encode(), qos=1)
        sent += 1
    return pub, sent


def test_an_offline_session_moved_gets_what_its_node_missed_in_order(cluster: StartNodes, nats: Nats) -> None:
    """X resumes on C after B missed one of its messages (`_b_misses_one`): the stream's copy of what B
    missed comes in its place, not after B's queue [MQTT-4.6.0-2]."""
    (a,) = cluster(1)
    slow = SlowLink(nats.port)
    try:
        (b,) = cluster(1, slow.url)
        (c,) = cluster(1)
        pub, sent = _b_misses_one(a, b, slow, "ordered", "od")
        _settle()
        moved = Paho(c.port, "ordered", clean=False, expiry=300)
        assert moved.session_present is True
        got = [int(m.payload) for m in moved.drain(2.0) if m.topic == "od/q"]
        assert got == list(range(sent)), got
        pub.close()
        moved.close()
    finally:
        slow.close()


@pytest.mark.parametrize("pause", [2.0, 0.0], ids=["after-catch-up", "before-catch-up"])
def test_an_offline_session_gets_on_its_node_what_that_node_missed_in_order(
    cluster: StartNodes, nats: Nats, pause: float
) -> None:
    """X resumes on B itself after B missed one of its messages (`_b_misses_one`): B read the stream
    when its link came back (or reads it first when X comes before that), so the missed one comes in
    its place, and nothing comes twice."""
    (a,) = cluster(1)
    slow = SlowLink(nats.port)
    try:
        (b,) = cluster(1, slow.url)
        pub, sent = _b_misses_one(a, b, slow, "stays", "st")
        time.sleep(pause)  # B's catch-up runs `CATCH_UP_AGAIN` after its link came back
        again = Paho(b.port, "stays", clean=False, expiry=300)
        assert again.session_present is True
        got = [int(m.payload) for m in again.drain(2.0) if m.topic == "st/q"]
        assert got == list(range(sent)), got
        pub.close()
        again.close()
    finally:
        slow.close()
