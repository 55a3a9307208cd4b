"""The cluster wire format: messages and forward batches round-trip; bad bytes raise ValueError only."""

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mqttcloud.broker.message import Message
from mqttcloud.runtime.cluster.codec import decode_frames, decode_message, encode_frame, encode_message

FULL = Message(
    b"\x01" * 16, "a/b", b"payload", 2, True, "pub-1", 1_700_000_000.25,
    expires_at=1_700_000_060.5, payload_format_indicator=1, content_type="text/plain",
    response_topic="reply/1", correlation_data=b"\x00\x01", user_properties=(("k", "v"), ("k", "w")),
)  # fmt: skip


def test_message_with_every_property_round_trips() -> None:
    assert decode_message(encode_message(FULL)) == FULL


def test_bare_message_round_trips() -> None:
    msg = Message(b"\x02" * 16, "t", b"", 0, False, None, 1.0)
    assert decode_message(encode_message(msg)) == msg


def test_batch_of_frames_keeps_tenants_groups_and_order() -> None:
    other = Message(b"\x03" * 16, "x/ü", b"y" * 70_000, 1, False, None, 2.0)
    data = encode_frame("t1", (("g", "a/+"),), FULL) + encode_frame("t2", (), other)
    assert decode_frames(data) == [("t1", (("g", "a/+"),), FULL), ("t2", (), other)]


@given(st.binary(max_size=200))
def test_random_bytes_raise_value_error_only(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        decode_frames(data)


def test_every_prefix_of_a_frame_is_refused() -> None:
    data = encode_frame("t1", (("g", "f"),), FULL)
    for n in range(1, len(data)):
        with pytest.raises(ValueError, match=r"truncated|trailing"):
            decode_frames(data[:n])
