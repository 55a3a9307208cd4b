"""SubscriptionTrie, RetainedStore, Session queue and the import rule of the sans-I/O core."""

import ast
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mqttcloud.broker.delivery import EncodeCache, encode_one
from mqttcloud.broker.message import Message
from mqttcloud.broker.retained import RetainedStore
from mqttcloud.broker.session import Delivery, Session
from mqttcloud.broker.subscriptions import Subscription, SubscriptionTrie
from mqttcloud.protocol.topics import match


def subs_for(trie: SubscriptionTrie, topic: str) -> set[str]:
    plain, groups = trie.match(topic)
    return {s.topic_filter for s in plain} | {g.name for g in groups}


def trie_with(*filters: str) -> SubscriptionTrie:
    trie = SubscriptionTrie()
    for i, f in enumerate(filters):
        trie.add(Subscription(clientid=f"c{i}", topic_filter=f, qos=0))
    return trie


def test_trie_wildcards() -> None:
    trie = trie_with("a/b", "a/+", "a/#", "#", "+/+", "a/b/c", "+")
    assert subs_for(trie, "a/b") == {"a/b", "a/+", "a/#", "#", "+/+"}
    assert subs_for(trie, "a") == {"a/#", "#", "+"}  # '#' matches the parent level
    assert subs_for(trie, "a/b/c") == {"a/#", "#", "a/b/c"}


def test_trie_dollar_topics_not_matched_by_leading_wildcards() -> None:
    """[MQTT-4.7.2-1]"""
    trie = trie_with("#", "+/x", "$SYS/#", "$SYS/+")
    assert subs_for(trie, "$SYS/x") == {"$SYS/#", "$SYS/+"}


def test_trie_empty_levels() -> None:
    trie = trie_with("a//b", "a/+/b", "/+")
    assert subs_for(trie, "a//b") == {"a//b", "a/+/b"}
    assert subs_for(trie, "/x") == {"/+"}


def test_trie_remove_prunes_and_counts() -> None:
    trie = trie_with("a/b/c", "a/b")
    assert trie.count == 2
    assert trie.remove("c0", "a/b/c")
    assert not trie.remove("c0", "a/b/c")
    assert trie.count == 1
    assert trie.topics_count == 1
    assert trie.remove("c1", "a/b")
    assert trie._root.children == {}


def test_shared_group_round_robin_and_counts() -> None:
    trie = SubscriptionTrie()
    for cid in ("x", "y", "z"):
        trie.add(Subscription(clientid=cid, topic_filter="$share/g/t", qos=0, share_group="g"))
    assert trie.shared_count == 3
    _, groups = trie.match("t")
    picks = [p.clientid for p in (groups[0].pick(lambda _c: True) for _ in range(6)) if p is not None]
    assert picks == ["x", "y", "z", "x", "y", "z"]


def test_retained_match_and_expiry() -> None:
    store = RetainedStore()
    store.store(Message(b"1", "a/b", b"v", 0, True, None, 0.0))
    store.store(Message(b"2", "a/c", b"v", 0, True, None, 0.0, expires_at=10.0))
    assert {m.topic for m in store.match("a/+", 5.0)} == {"a/b", "a/c"}
    assert {m.topic for m in store.match("a/+", 10.0)} == {"a/b"}
    assert len(store) == 1


def test_retained_size_limit() -> None:
    store = RetainedStore(max_size=3)
    assert store.store(Message(b"1", "a", b"toolong", 0, True, None, 0.0)) is None
    assert len(store) == 0


def test_session_queue_drops_oldest_qos0_first() -> None:
    s = Session("c", created_at=0.0, max_queue_len=2)
    m = Message(b"1", "t", b"", 1, False, None, 0.0)
    s.enqueue(Delivery(m, 1, False))
    s.enqueue(Delivery(m, 0, False))
    dropped = s.enqueue(Delivery(m, 1, False))
    assert dropped is not None
    assert dropped.qos == 0
    assert s.dropped_queue_full == 1


def test_session_queue_full_of_qos1_drops_the_oldest_after_qos0_left() -> None:
    """A QoS 0 delivery that was dequeued is no longer preferred: the oldest QoS 1 goes instead."""
    s = Session("c", created_at=0.0, max_queue_len=2)
    m = Message(b"1", "t", b"", 1, False, None, 0.0)
    first_qos0 = Delivery(m, 0, False)
    oldest = Delivery(m, 1, False)
    s.enqueue(first_qos0)
    s.enqueue(oldest)
    assert s.queued_qos0 == 1
    assert s.dequeue() is first_qos0
    assert s.queued_qos0 == 0
    s.enqueue(Delivery(m, 1, False))
    assert s.enqueue(Delivery(m, 1, False)) is oldest
    assert [d.qos for d in s.queue] == [1, 1]
    s.enqueue(Delivery(m, 0, False))  # drops a QoS 1 (none of QoS 0 was queued), then counts this one
    assert s.queued_qos0 == 1
    assert s.dropped_queue_full == 2


def test_packet_ids_skip_ids_in_flight_and_wrap() -> None:
    """[MQTT-2.2.1-3] a new packet id is one not currently in use."""
    s = Session("c", created_at=0.0)
    m = Message(b"1", "t", b"", 1, False, None, 0.0)
    s.inflight[1] = Delivery(m, 1, False, packet_id=1)
    assert s.allocate_packet_id() == 2
    s._next_packet_id = 65535
    assert s.allocate_packet_id() == 65535
    assert s.allocate_packet_id() == 2


BANNED_MODULES = {"asyncio", "socket", "ssl", "selectors", "threading"}


def test_broker_core_is_sans_io() -> None:
    """No asyncio/socket/ssl imports and no clock reads anywhere in `mqttcloud.broker`."""
    root = Path(__file__).resolve().parents[3] / "src" / "mqttcloud" / "broker"
    offenders: list[str] = []
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [(node.module or "").split(".")[0]]
            else:
                names = []
            offenders += [f"{path.name}: import {n}" for n in names if n in BANNED_MODULES or n == "time"]
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mqttcloud."):
                # passwords: the stdlib-only hash leaf module P3's access.py shares with the control plane
                allowed = (
                    "mqttcloud.broker",
                    "mqttcloud.protocol",
                    "mqttcloud.contracts",
                    "mqttcloud.passwords",
                )
                if not node.module.startswith(allowed):
                    offenders.append(f"{path.name}: from {node.module}")
    assert offenders == []


LEVELS = st.sampled_from(["a", "b", "", "$x"])
FILTERS = st.tuples(
    st.lists(st.sampled_from(["a", "b", "", "$x", "+"]), min_size=1, max_size=4), st.booleans()
).map(lambda t: "/".join([*t[0], "#"] if t[1] else t[0]))


@settings(max_examples=100, deadline=None)
@given(st.lists(FILTERS, min_size=1, max_size=8), st.lists(LEVELS, min_size=1, max_size=4))
def test_trie_agrees_with_reference_match(flts: list[str], levels: list[str]) -> None:
    """The trie returns exactly the filters `protocol.topics.match` accepts."""
    topic = "/".join(levels)
    trie = SubscriptionTrie()
    for f in set(flts):
        trie.add(Subscription(clientid="c", topic_filter=f, qos=0))
    plain, _ = trie.match(topic)
    assert sorted(s.topic_filter for s in plain) == sorted(f for f in set(flts) if match(f, topic))


def test_encode_one_matches_the_shared_encoding_patched_with_its_packet_id() -> None:
    """`delivery.encode_one` (one receiver) gives the bytes of `EncodeCache` + `with_packet_id`."""
    plain = Message(b"1", "a/é", b"payload", 1, False, None, 100.0)
    rich = Message(
        b"2", "a/b", b"p" * 200, 2, True, None, 100.0,
        expires_at=160.0, content_type="text/plain", user_properties=(("k", "v"),),
    )  # fmt: skip
    for msg in (plain, rich):
        for version in (4, 5):
            for qos in (0, 1, 2):
                for retain in (False, True):
                    for sids in ((), (7,)):
                        enc = EncodeCache(msg).get(version, qos, retain, sids, 130.0)
                        want = enc.data if qos == 0 else enc.with_packet_id(513)
                        got = encode_one(
                            version, msg, qos=qos, retain=retain, sub_ids=sids, packet_id=513, now=130.0
                        )
                        assert got == want, (msg.id, version, qos, retain, sids)
    one = encode_one(4, plain, qos=1, retain=False, sub_ids=(), packet_id=513, now=130.0)
    assert one[-len(plain.payload) - 2 :][:2] == b"\x02\x01"
