"""Framer: complete frames only, bounded buffer, maximum packet size, malformed Remaining Length."""

import pytest

from mqttcloud.protocol.errors import MalformedPacket, ProtocolError
from mqttcloud.protocol.framer import Framer
from mqttcloud.protocol.reason_codes import ReasonCode


def test_one_feed_with_several_packets_and_a_partial_one() -> None:
    framer = Framer()
    frames = framer.feed(b"\xc0\x00" + b"\x30\x03\x00\x01t" + b"\xd0")
    assert frames == [(0xC0, b""), (0x30, b"\x00\x01t")]
    assert framer.buffered == 1
    assert framer.feed(b"\x00") == [(0xD0, b"")]
    assert framer.buffered == 0


def test_empty_feed_yields_nothing() -> None:
    assert Framer().feed(b"") == []


def test_two_byte_remaining_length() -> None:
    body = bytes(200)
    framer = Framer()
    assert framer.feed(b"\x30\xc8") == []
    assert framer.feed(b"\x01" + body[:100]) == []
    assert framer.feed(body[100:]) == [(0x30, body)]


def test_large_packet_in_many_chunks_is_joined_once_complete() -> None:
    body = bytes(range(256)) * 4096  # 1 MiB
    header = b"\x30\x80\x80\x40"  # remaining length 1,048,576
    data = header + body
    framer = Framer()
    frames = []
    for start in range(0, len(data), 65536):
        frames.extend(framer.feed(data[start : start + 65536]))
        if start + 65536 < len(data):
            assert frames == []
    assert frames == [(0x30, body)]
    assert framer.buffered == 0


def test_packet_following_a_chunked_packet_in_the_same_feed() -> None:
    framer = Framer()
    assert framer.feed(b"\x30\x05\x00") == []
    assert framer.feed(b"\x01") == []
    assert framer.feed(b"t" + b"ab" + b"\xc0\x00") == [(0x30, b"\x00\x01tab"), (0xC0, b"")]


def test_packet_over_maximum_raises_packet_too_large_from_header_alone() -> None:
    """Spec 3.1.2.11.4: the size counts the whole packet; raised before the body is buffered."""
    framer = Framer(max_packet_size=10)
    with pytest.raises(ProtocolError) as info:
        framer.feed(b"\x30\x09")  # 2 + 9 = 11 bytes
    assert info.value.reason_code == ReasonCode.PACKET_TOO_LARGE


def test_packet_of_exactly_the_maximum_is_accepted() -> None:
    framer = Framer(max_packet_size=10)
    assert framer.feed(b"\x30\x08" + bytes(8)) == [(0x30, bytes(8))]


def test_maximum_can_be_changed_after_connect() -> None:
    framer = Framer()
    framer.max_packet_size = 4
    with pytest.raises(ProtocolError):
        framer.feed(b"\x30\x03\x00\x01t")


def test_remaining_length_of_five_bytes_is_malformed() -> None:
    """[MQTT-1.5.5-1] at most 4 bytes."""
    with pytest.raises(MalformedPacket):
        Framer().feed(b"\x30\xff\xff\xff\xff\x01")


def test_remaining_length_four_continuation_bytes_is_malformed_before_the_fifth_arrives() -> None:
    with pytest.raises(MalformedPacket):
        Framer().feed(b"\x30\xff\xff\xff\xff")


def test_partial_remaining_length_waits() -> None:
    framer = Framer()
    assert framer.feed(b"\x30\xff\xff") == []
    assert framer.buffered == 3


def test_non_minimal_remaining_length_is_malformed() -> None:
    """[MQTT-1.5.5-1]"""
    with pytest.raises(MalformedPacket):
        Framer().feed(b"\x30\x80\x00")
