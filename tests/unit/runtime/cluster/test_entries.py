"""The session registry's stored forms: record packing, entries, offline frames and their replay."""

import pytest

from mqttcloud.broker.durability import (
    CorruptRecordError,
    MessageQueued,
    Record,
    SessionUpserted,
    SubscriptionAdded,
)
from mqttcloud.broker.message import Message
from mqttcloud.broker.subscriptions import Subscription
from mqttcloud.runtime.cluster.codec import encode_message
from mqttcloud.runtime.cluster.entries import (
    Entry,
    entry_key,
    key_owner,
    merge_stored,
    offline_frame,
    pack_records,
    read_offline_frame,
    replayed_records,
    unpack_records,
)

RECORDS: list[Record] = [
    SessionUpserted("x", 300, 1.0, None, 5, "u"),
    SubscriptionAdded("x", "a/#", 1, False, True, 0, 7),
]


def _msg(topic: str, qos: int = 1, retain: bool = False) -> Message:
    return Message(b"\x01" * 16, topic, b"p", qos, retain, "pub", 2.0)


def test_records_pack_and_unpack_and_truncation_raises() -> None:
    data = pack_records(RECORDS)
    assert unpack_records(data) == RECORDS
    with pytest.raises(CorruptRecordError):
        unpack_records(data[:-1])


def test_entry_round_trips_and_garbage_is_ignored() -> None:
    entry = Entry("n1", True, 42, pack_records(RECORDS), b"", 5, revision=3)
    back = Entry.decode(entry.encode(), 9)
    assert back is not None
    assert back.same(entry)
    assert back.revision == 9
    assert [s.topic_filter for s in back.subscriptions()] == ["a/#"]
    assert Entry.decode(b"{}", 1) is None
    assert Entry.decode(b"not json", 1) is None


def test_entry_keys_carry_tenant_and_client_id() -> None:
    key = entry_key("t1", "dev/1 x")
    assert key_owner(key) == ("t1", "dev/1 x")
    assert all(c.isalnum() or c in "-_" for c in key)


def test_replay_keeps_frames_for_the_client_at_its_granted_qos() -> None:
    subs = [
        Subscription("x", "a/#", 1, retain_as_published=True, subscription_id=7),
        Subscription("x", "b", 0),
    ]
    frames = [
        offline_frame(("x", "y"), encode_message(_msg("a/1", qos=2, retain=True))),
        offline_frame(("y",), encode_message(_msg("a/2"))),  # for another session
        offline_frame(("x",), encode_message(_msg("b"))),  # matches only a QoS 0 subscription
        b"garbage",
    ]
    [record] = replayed_records("x", subs, frames)
    assert isinstance(record, MessageQueued)
    assert (record.message.topic, record.qos, record.retain, record.subscription_ids) == (
        "a/1",
        1,
        True,
        (7,),
    )
    assert read_offline_frame(frames[1])[0] == ["y"]


def _queued(n: int) -> MessageQueued:
    return MessageQueued("x", 1, Message(bytes([n]) * 16, "a/q", str(n).encode(), 1, False, "pub", 2.0))


def _payloads(records: list[Record]) -> list[int]:
    return [int(r.message.payload) for r in records if isinstance(r, MessageQueued)]


def test_merge_puts_what_the_node_missed_in_its_stream_place() -> None:
    held = [*RECORDS, _queued(0), _queued(4), _queued(5), _queued(9)]  # 9: not in the stream
    stream = [_queued(n) for n in (0, 1, 2, 3, 4, 5, 6, 7)]
    merged, after = merge_stored(held, stream)
    assert merged[:2] == RECORDS
    assert _payloads(merged) == [0, 1, 2, 3, 4, 5, 9]
    assert _payloads(after) == [6, 7]  # after all it holds: queued as routing would


def test_merge_adds_each_message_once() -> None:
    held = [*RECORDS, _queued(2)]
    stream = [_queued(1), _queued(1), _queued(2), _queued(3)]
    merged, after = merge_stored(held, stream)
    assert (_payloads(merged), _payloads(after)) == ([1, 2], [3])
    assert merge_stored(RECORDS, []) == (RECORDS, [])
    merged, after = merge_stored(RECORDS, stream)  # a dead node's session: no queue of its own
    assert (merged, _payloads(after)) == (RECORDS, [1, 2, 3])
