"""The property table and the codec it drives (spec 2.2.2.2)."""

from dataclasses import fields

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import properties

from mqttcloud.protocol.errors import MalformedPacket, ProtocolError
from mqttcloud.protocol.properties import (
    BY_ID,
    CONNACK,
    NO_PROPERTIES,
    PROPERTY_TABLE,
    PUBLISH,
    SUBSCRIBE,
    WILL,
    Properties,
    decode_properties,
    encode_properties,
)

ALL_CONTEXTS = [WILL, *range(1, 12), 14, 15]


def test_table_has_every_v5_property_once() -> None:
    """Spec 2.2.2.2, table 2-4: 27 properties."""
    assert len(PROPERTY_TABLE) == 27
    assert sorted(BY_ID) == [
        0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17, 0x18, 0x19,
        0x1A, 0x1C, 0x1F, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A,
    ]  # fmt: skip
    assert {f.name for f in fields(Properties)} == {row.name for row in PROPERTY_TABLE}


def test_empty_properties_encode_as_one_zero_byte() -> None:
    assert encode_properties(NO_PROPERTIES) == b"\x00"
    assert encode_properties(Properties()) == b"\x00"
    assert decode_properties(memoryview(b"\x00"), 0, PUBLISH) == (NO_PROPERTIES, 1)
    assert Properties().is_empty()
    assert not Properties(topic_alias=1).is_empty()


def test_exact_bytes_for_a_few_properties() -> None:
    props = Properties(message_expiry_interval=1, content_type="a", user_properties=(("k", "v"),))
    data = encode_properties(props)
    assert data == b"\x10\x02\x00\x00\x00\x01\x03\x00\x01a\x26\x00\x01k\x00\x01v"
    assert decode_properties(memoryview(data), 0, PUBLISH) == (props, len(data))


@settings(max_examples=100, deadline=None)
@given(st.one_of([st.tuples(st.just(c), properties(c)) for c in ALL_CONTEXTS]))
def test_roundtrip_in_every_context(case: tuple[int, Properties]) -> None:
    context, props = case
    data = encode_properties(props)
    assert decode_properties(memoryview(b"xx" + data), 2, context) == (props, len(data) + 2)


@pytest.mark.parametrize("context", ALL_CONTEXTS)
def test_each_property_is_accepted_exactly_where_the_table_allows(context: int) -> None:
    for row in PROPERTY_TABLE:
        value = {
            "payload_format_indicator": 1,
            "maximum_qos": 1,
        }.get(row.name)
        sample = _sample(row.name, value)
        data = memoryview(encode_properties(sample))
        if context in row.allowed:
            assert decode_properties(data, 0, context)[0] == sample
        else:
            with pytest.raises(ProtocolError):
                decode_properties(data, 0, context)


def _sample(name: str, preset: int | None) -> Properties:
    row = next(r for r in PROPERTY_TABLE if r.name == name)
    kind = row.type.name
    value: object
    if preset is not None:
        value = preset
    elif kind == "BOOL":
        value = True
    elif kind in ("TWO_BYTE_INT", "FOUR_BYTE_INT", "VARINT"):
        value = 3
    elif kind == "UTF8":
        value = "s"
    elif kind == "BINARY":
        value = b"\x00b"
    else:
        value = ("k", "v")
    if row.repeatable:
        value = (value,)
    return Properties(**{name: value})  # type: ignore[arg-type]  # name comes from the table


@pytest.mark.parametrize(
    ("context", "block"),
    [
        (CONNACK, b"\x02\x25\x02"),  # Retain Available must be 0 or 1
        (CONNACK, b"\x02\x24\x02"),  # Maximum QoS must be 0 or 1
        (CONNACK, b"\x03\x21\x00\x00"),  # Receive Maximum 0
        (PUBLISH, b"\x03\x23\x00\x00"),  # Topic Alias 0 [MQTT-3.3.2-8]
        (SUBSCRIBE, b"\x02\x0b\x00"),  # Subscription Identifier 0
        (PUBLISH, b"\x04\x01\x00\x01\x00"),  # Payload Format Indicator twice
    ],
)
def test_forbidden_values_are_protocol_errors(context: int, block: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_properties(memoryview(block), 0, context)


@pytest.mark.parametrize(
    "block",
    [
        b"\x05\x02\x00\x00",  # length beyond the buffer
        b"\x02\x02\x00",  # value truncated by the property length
        b"\x02\x80\x00",  # id as a non-minimal varint (0x80 0x00)
        b"\x01\x00",  # id 0 does not exist
        b"\x04\x03\x00\x01\xff",  # ill-formed UTF-8 [MQTT-1.5.4-1]
        b"\x06\x26\x00\x01k\x00\x05",  # user property value truncated
    ],
)
def test_malformed_blocks(block: bytes) -> None:
    with pytest.raises(MalformedPacket):
        decode_properties(memoryview(block), 0, PUBLISH)
