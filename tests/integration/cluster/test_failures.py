"""The failure cases of a real cluster (#12): deleted retained messages, restarts, wills, expiry, NATS."""

from collections.abc import Callable

from tests.integration.cluster.clients import Paho, eventually
from tests.integration.cluster.conftest import TENANT, Node

Start = Callable[[int], list[Node]]


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
