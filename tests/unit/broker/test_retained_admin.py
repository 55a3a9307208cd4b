"""Admin ops on retained messages (`broker/queries.py`): list by topic order and filter, read one with its
payload, delete without delivering anything; a deletion reaches the durable log, expired messages are
never returned, a bad filter is a ValueError."""

import base64

import pytest
from tests.unit.broker.pair import Harness, publish
from tests.unit.broker.test_durability import restart

from mqttcloud import contracts
from mqttcloud.broker import queries
from mqttcloud.contracts.retained import MAX_RETAINED_PAYLOAD
from mqttcloud.protocol.packets import Publish, QoS, Subscribe, Subscription
from mqttcloud.protocol.properties import Properties


def retained_harness() -> Harness:
    h = Harness()
    pub, _ = h.connect("pub")
    pub.send(publish("r/b", b"bee", retain=True))
    pub.send(publish("r/a/2", b"two", retain=True, qos=1, packet_id=1))
    pub.send(publish("r/a/1", b"one", retain=True))
    pub.send(publish("r/plain", b"not retained"))
    return h


def test_list_is_in_topic_order_paged_and_filtered() -> None:
    h = retained_harness()
    every = queries.retained_page(h.broker, None, 1, 100, h.now)
    assert [m.topic for m in every.data] == ["r/a/1", "r/a/2", "r/b"]
    assert (every.count, every.hasnext) == (3, False)
    assert every.data[1].qos == 1
    assert every.data[0].from_clientid == "pub"
    assert every.data[0].payload_size == 3
    second = queries.retained_page(h.broker, None, 2, 2, h.now)
    assert ([m.topic for m in second.data], second.hasnext) == (["r/b"], False)
    first = queries.retained_page(h.broker, None, 1, 2, h.now)
    assert first.hasnext is True
    assert [m.topic for m in queries.retained_page(h.broker, "r/a/+", 1, 100, h.now).data] == [
        "r/a/1",
        "r/a/2",
    ]
    assert queries.retained_page(h.broker, "r/b", 1, 100, h.now).count == 1
    for bad, why in (("r/#/x", "misplaced '#'"), ("r/a+", "misplaced '[+]'"), ("$share/g/r/#", "shared")):
        with pytest.raises(ValueError, match=why):
            queries.retained_page(h.broker, bad, 1, 100, h.now)


def test_get_returns_the_payload_of_a_name_or_the_first_match_of_a_filter() -> None:
    h = retained_harness()
    found = queries.retained_message(h.broker, "r/a/2", h.now)
    assert found is not None
    assert base64.b64decode(found.payload_b64 or "") == b"two"
    assert found.message.msgid == h.broker.retained.get("r/a/2").id_hex  # type: ignore[union-attr]  # stored
    by_filter = queries.retained_message(h.broker, "r/a/#", h.now)
    assert by_filter is not None
    assert by_filter.message.topic == "r/a/1"
    assert queries.retained_message(h.broker, "r/plain", h.now) is None


def test_payload_over_the_limit_is_left_out() -> None:
    h = Harness(contracts.Limits(max_packet_size=2 * MAX_RETAINED_PAYLOAD))
    pub, _ = h.connect("pub")
    pub.send(publish("big", b"x" * (MAX_RETAINED_PAYLOAD + 1), retain=True))
    found = queries.retained_message(h.broker, "big", h.now)
    assert found is not None
    assert (found.payload_b64, found.message.payload_size) == (None, MAX_RETAINED_PAYLOAD + 1)


def test_delete_delivers_nothing_and_is_durable() -> None:
    h = retained_harness()
    sub, _ = h.connect("sub")
    sub.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="r/#", qos=QoS(1)),)))
    sub.only(Publish)  # the retained messages sent on subscribe
    deleted, actions = queries.delete_retained(h.broker, "r/a/1", h.now)
    h.perform(actions)
    assert deleted == 1
    assert sub.only(Publish) == []  # unlike an empty retained PUBLISH, nothing is routed
    assert h.broker.retained.get("r/a/1") is None
    assert queries.delete_retained(h.broker, "r/a/1", h.now)[0] == 0
    assert [m.topic for m in restart(h).retained] == ["r/b", "r/a/2"]  # the log has the deletion
    deleted, actions = queries.delete_retained(h.broker, "r/#", h.now)
    h.perform(actions)
    assert deleted == 2
    assert len(h.broker.retained) == 0
    assert list(restart(h).retained) == []


def test_expired_messages_are_not_returned() -> None:
    h = Harness()
    pub, _ = h.connect("pub")
    pub.send(publish("exp", b"soon gone", retain=True, properties=Properties(message_expiry_interval=5)))
    assert queries.retained_page(h.broker, None, 1, 10, h.now).count == 1
    later = h.now + 6
    assert queries.retained_page(h.broker, None, 1, 10, later).count == 0
    assert queries.retained_message(h.broker, "exp", later) is None
