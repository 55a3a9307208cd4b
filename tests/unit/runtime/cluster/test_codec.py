"""The cluster wire format: messages and forward batches round-trip; bad bytes raise ValueError only."""

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mqttcloud.broker.message import Message
from mqttcloud.runtime.cluster.codec import (
    Frame,
    decode_batch,
    decode_message,
    encode_batches,
    encode_message,
)

FULL = Message(
    b"\x01" * 16, "a/b", b"payload", 2, True, "pub-1", 1_700_000_000.25,
    expires_at=1_700_000_060.5, payload_format_indicator=1, content_type="text/plain",
    response_topic="reply/1", correlation_data=b"\x00\x01", user_properties=(("k", "v"), ("k", "w")),
)  # fmt: skip
BARE = Message(b"\x02" * 16, "t", b"", 0, False, None, 1.0)
BIG = Message(b"\x03" * 16, "x/ü", b"y" * 70_000, 1, False, "", 2.0)


def frames_of(batches: list[bytes]) -> list[Frame]:
    return [
        (tenant, groups, msg)
        for data in batches
        for tenant, items in decode_batch(data)
        for groups, msg in items
    ]


def test_message_with_every_property_round_trips() -> None:
    assert decode_message(encode_message(FULL)) == FULL


def test_bare_message_round_trips() -> None:
    assert decode_message(encode_message(BARE)) == BARE


def test_batch_keeps_tenants_groups_properties_and_order() -> None:
    frames: list[Frame] = [
        ("t1", (("g", "a/+"), ("h", "#")), FULL),
        ("t1", (), BARE),
        ("t2", (), BIG),
        ("t1", (), FULL),
    ]
    batches = encode_batches(frames, 1 << 20)
    assert len(batches) == 1
    assert frames_of(batches) == frames
    # one run per stretch of a tenant: the tenant is written once per run, not per message
    assert [(tenant, len(items)) for tenant, items in decode_batch(batches[0])] == [
        ("t1", 2),
        ("t2", 1),
        ("t1", 1),
    ]


def test_publisher_none_and_empty_stay_apart() -> None:
    empty = Message(b"\x04" * 16, "t", b"p", 0, False, "", 1.0)
    assert frames_of(encode_batches([("t", (), BARE), ("t", (), empty)], 1000)) == [
        ("t", (), BARE),
        ("t", (), empty),
    ]


def test_batches_are_split_at_the_limit_in_order() -> None:
    msgs = [Message(bytes([i]) * 16, f"t/{i}", b"x" * 100, 0, False, "p", float(i)) for i in range(50)]
    frames: list[Frame] = [("t1" if i % 7 else "t2", (), m) for i, m in enumerate(msgs)]
    batches = encode_batches(frames, 1000)
    assert len(batches) > 5
    assert all(len(b) <= 1000 for b in batches)
    assert frames_of(batches) == frames


def test_a_forward_larger_than_the_limit_goes_alone() -> None:
    frames: list[Frame] = [("t", (), BARE), ("t", (), BIG), ("t", (), BARE)]
    batches = encode_batches(frames, 1000)
    assert [len(b) > 1000 for b in batches] == [False, True, False]
    assert frames_of(batches) == frames


def test_nothing_to_send_is_no_batch() -> None:
    assert encode_batches([], 1000) == []


@given(st.binary(max_size=200))
def test_random_bytes_raise_value_error_only(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        decode_batch(data)
    with contextlib.suppress(ValueError):
        decode_batch(b"\x01" + data)


@given(st.binary(min_size=1, max_size=300), st.integers(min_value=0, max_value=299))
def test_a_corrupted_batch_raises_value_error_only(noise: bytes, at: int) -> None:
    data = bytearray(encode_batches([("t1", (("g", "f"),), FULL), ("t2", (), BARE)], 1000)[0])
    at %= len(data)
    data[at : at + len(noise)] = noise
    with contextlib.suppress(ValueError):
        decode_batch(bytes(data))


def test_every_prefix_of_a_batch_is_refused() -> None:
    data = encode_batches([("t1", (("g", "f"),), FULL), ("t1", (), BARE)], 1000)[0]
    assert decode_batch(data[:1]) == []  # the version alone: an empty batch
    for n in [0, *range(2, len(data))]:
        with pytest.raises(ValueError, match=r"truncated|version"):
            decode_batch(data[:n])


def test_another_version_is_refused() -> None:
    data = encode_batches([("t1", (), BARE)], 1000)[0]
    with pytest.raises(ValueError, match="version"):
        decode_batch(b"\x02" + data[1:])
