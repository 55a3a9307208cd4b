"""The `Router` seam: `LocalRouter` restricted to named shared groups, and `Broker.release`."""

from tests.unit.broker.pair import Harness, publish
from tests.unit.broker.test_subscribe import subscribe

from mqttcloud.broker.delivery import Out
from mqttcloud.protocol.packets import Disconnect, Publish
from mqttcloud.protocol.properties import NO_PROPERTIES
from mqttcloud.protocol.reason_codes import ReasonCode


def _route(h: Harness, topic: str, groups: frozenset[tuple[str, str]] | None) -> int:
    msg = h.broker.make_message(
        topic, b"x", qos=0, retain=False, properties=NO_PROPERTIES, publisher=None, now=h.now
    )
    out = Out()
    matched = h.broker.local_router.route(msg, h.now, out, groups)
    h.perform(out.result())
    return matched


def test_local_router_delivers_only_to_the_shared_groups_named() -> None:
    """A cluster picked another node for group g: here only the plain subscriber receives it."""
    h = Harness()
    plain, _ = h.connect("plain")
    member, _ = h.connect("member")
    subscribe(plain, "t/1")
    subscribe(member, "$share/g/t/+")
    assert _route(h, "t/1", frozenset()) == 1
    assert len(plain.only(Publish)) == 1
    assert member.only(Publish) == []
    assert _route(h, "t/1", frozenset({("g", "t/+")})) == 2
    assert len(member.only(Publish)) == 1
    assert _route(h, "t/1", None) == 2  # one node: every group takes part
    assert len(member.only(Publish)) == 1


def test_release_disconnects_an_older_connection_with_0x8e() -> None:
    h = Harness()
    client, _ = h.connect("c1")
    h.perform(h.broker.release("c1", claimed_at=h.now + 1, now=h.now + 1))
    assert client.closed
    assert [d.reason_code for d in client.only(Disconnect)] == [ReasonCode.SESSION_TAKEN_OVER]
    assert not h.broker.is_online("c1")


def test_release_keeps_a_connection_newer_than_the_claim() -> None:
    """The claim raced with a reconnect here: the later connection wins, wherever it is."""
    h = Harness()
    client, _ = h.connect("c1")
    h.perform(h.broker.release("c1", claimed_at=h.now - 1, now=h.now))
    assert not client.closed
    assert h.broker.is_online("c1")


def test_publish_routes_through_the_broker_router() -> None:
    """Everything the core routes goes through `Broker.router`: a wrapper sees client PUBLISHes."""
    h = Harness()
    seen: list[str] = []
    local = h.broker.local_router

    class Recording:
        def add(self, sub, out):  # type: ignore[no-untyped-def]  # structural stand-in
            return local.add(sub, out)

        def remove(self, clientid, topic_filter, out):  # type: ignore[no-untyped-def]
            return local.remove(clientid, topic_filter, out)

        def route(self, msg, now, out):  # type: ignore[no-untyped-def]
            seen.append(msg.topic)
            return local.route(msg, now, out)

        def retained_match(self, topic_filter, now):  # type: ignore[no-untyped-def]
            return local.retained_match(topic_filter, now)

    h.broker.router = Recording()
    sub, _ = h.connect("s")
    subscribe(sub, "a/#")
    pub, _ = h.connect("p")
    pub.send(publish("a/b"))
    assert seen == ["a/b"]
    assert len(sub.only(Publish)) == 1
