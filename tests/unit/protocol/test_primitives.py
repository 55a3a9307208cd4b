"""Data representations (spec 1.5): Variable Byte Integer, integers, UTF-8 strings, binary data."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mqttcloud.protocol.errors import MalformedPacket
from mqttcloud.protocol.primitives import (
    MAX_VARINT,
    decode_binary,
    decode_u16,
    decode_u32,
    decode_utf8,
    decode_varint,
    encode_binary,
    encode_utf8,
    encode_varint,
)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
        (2_097_151, b"\xff\xff\x7f"),
        (2_097_152, b"\x80\x80\x80\x01"),
        (268_435_455, b"\xff\xff\xff\x7f"),
    ],
)
def test_varint_boundaries_from_spec_table(value: int, encoded: bytes) -> None:
    """Spec 1.5.5, table 1-1."""
    assert encode_varint(value) == encoded
    assert decode_varint(encoded, 0) == (value, len(encoded))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, MAX_VARINT))
def test_varint_roundtrip(value: int) -> None:
    data = encode_varint(value)
    assert decode_varint(data + b"tail", 0) == (value, len(data))


@pytest.mark.parametrize("value", [-1, MAX_VARINT + 1])
def test_varint_out_of_range_cannot_be_encoded(value: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        encode_varint(value)


def test_varint_longer_than_four_bytes_is_malformed() -> None:
    with pytest.raises(MalformedPacket):
        decode_varint(b"\xff\xff\xff\xff\x01", 0)


def test_varint_not_shortest_form_is_malformed() -> None:
    """[MQTT-1.5.5-1] the minimum number of bytes MUST be used."""
    with pytest.raises(MalformedPacket):
        decode_varint(b"\x80\x00", 0)


def test_varint_truncated_is_malformed() -> None:
    with pytest.raises(MalformedPacket):
        decode_varint(b"\x80\x80", 0)


def test_varint_respects_end_bound() -> None:
    with pytest.raises(MalformedPacket):
        decode_varint(b"\x80\x01", 0, 1)


def test_integers_decode_big_endian_and_check_bounds() -> None:
    assert decode_u16(b"\x01\x02", 0, 2) == (0x0102, 2)
    assert decode_u32(b"\x01\x02\x03\x04", 0, 4) == (0x01020304, 4)
    with pytest.raises(MalformedPacket):
        decode_u16(b"\x01\x02", 1, 2)
    with pytest.raises(MalformedPacket):
        decode_u32(b"\x01\x02\x03\x04", 0, 3)


def test_utf8_string_roundtrip_with_multibyte_characters() -> None:
    text = "température/€/𝄞"
    data = encode_utf8(text)
    assert data[:2] == len(text.encode()).to_bytes(2, "big")
    assert decode_utf8(data, 0, len(data)) == (text, len(data))
    assert decode_utf8(memoryview(data), 0, len(data)) == (text, len(data))


def test_utf8_string_length_past_end_is_malformed() -> None:
    with pytest.raises(MalformedPacket):
        decode_utf8(b"\x00\x05abc", 0, 5)


def test_utf8_string_cannot_encode_null_or_surrogate_or_oversize() -> None:
    """[MQTT-1.5.4-1] [MQTT-1.5.4-2]; a string is at most 65535 bytes."""
    with pytest.raises(ValueError, match="U\\+0000"):
        encode_utf8("a\x00")
    with pytest.raises(UnicodeEncodeError):
        encode_utf8("\ud800")
    with pytest.raises(ValueError, match="65535"):
        encode_utf8("x" * 65536)


def test_binary_data_roundtrip_and_bounds() -> None:
    data = encode_binary(b"\x00\xff")
    assert data == b"\x00\x02\x00\xff"
    assert decode_binary(data, 0, 4) == (b"\x00\xff", 4)
    with pytest.raises(MalformedPacket):
        decode_binary(data, 0, 3)
    with pytest.raises(ValueError, match="65535"):
        encode_binary(bytes(65536))
