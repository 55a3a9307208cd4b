"""Property tests: round trip, every prefix needs more, random bytes raise only our two errors."""

from typing import get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.strategies import V3, V5, V31, packets

from mqttcloud.protocol.decode import decode
from mqttcloud.protocol.encode import encode
from mqttcloud.protocol.errors import MalformedPacket, ProtocolError
from mqttcloud.protocol.framer import Framer
from mqttcloud.protocol.packets import PACKET_TYPES, Packet

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# The stream/prefix/mutation properties run the framer many times per example: fewer examples keep
# the whole protocol suite within a few seconds.
LIGHT = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


VERSIONED_PACKETS = st.one_of(st.tuples(st.just(V3), packets(V3)), st.tuples(st.just(V5), packets(V5)))


def _decode_one(data: bytes, version: int) -> Packet:
    frames = Framer().feed(data)
    assert len(frames) == 1
    first, body = frames[0]
    packet = decode(first, body, version)
    # The runtime may hand the decoder a memoryview slice of a larger buffer: same result.
    padded = memoryview(b"\xff" + body + b"\xff")[1:-1]
    assert decode(first, padded, version) == packet
    return packet


@FAST
@given(packets(V5))
def test_roundtrip_v5(packet: Packet) -> None:
    assert _decode_one(encode(packet, V5), V5) == packet


@FAST
@given(packets(V3))
def test_roundtrip_v311(packet: Packet) -> None:
    assert _decode_one(encode(packet, V3), V3) == packet


@FAST
@given(packets(V31))
def test_roundtrip_v31(packet: Packet) -> None:
    """MQTT 3.1 ("MQIsdp"): CONNECT keeps its level 3, a password may come without a user name."""
    assert _decode_one(encode(packet, V31), V31) == packet


@LIGHT
@given(VERSIONED_PACKETS)
def test_every_strict_prefix_yields_no_frame(case: tuple[int, Packet]) -> None:
    version, packet = case
    data = encode(packet, version)
    for cut in range(len(data)):
        assert Framer().feed(data[:cut]) == []
    framer = Framer()
    for i in range(len(data) - 1):
        assert framer.feed(data[i : i + 1]) == []
    assert len(framer.feed(data[-1:])) == 1
    assert framer.buffered == 0


@LIGHT
@given(st.lists(packets(V5), min_size=1, max_size=5), st.data())
def test_stream_split_anywhere_gives_same_packets(batch: list[Packet], data: st.DataObject) -> None:
    stream = b"".join(encode(p, V5) for p in batch)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    framer = Framer()
    frames = []
    last = 0
    for cut in [*cuts, len(stream)]:
        frames.extend(framer.feed(stream[last:cut]))
        last = cut
    assert [decode(first, body, V5) for first, body in frames] == batch


@FAST
@given(st.binary(max_size=64), st.sampled_from([V3, V5]))
def test_random_bytes_raise_only_protocol_errors(data: bytes, version: int) -> None:
    framer = Framer(max_packet_size=1024)
    try:
        for first, body in framer.feed(data):
            decode(first, body, version)
    except (MalformedPacket, ProtocolError):
        pass


@FAST
@given(st.integers(0, 255), st.binary(max_size=48), st.sampled_from([V3, V5]))
def test_random_bodies_raise_only_protocol_errors(first: int, body: bytes, version: int) -> None:
    """Any first byte with any body: decode returns a packet or raises one of our two errors."""
    try:
        packet = decode(first, body, version)
    except (MalformedPacket, ProtocolError):
        return
    # What decodes must re-encode (Any other exception would be a codec bug).
    encode(packet, version)


@LIGHT
@given(VERSIONED_PACKETS, st.data())
def test_mutated_encodings_raise_only_protocol_errors(case: tuple[int, Packet], data: st.DataObject) -> None:
    version, packet = case
    encoded = bytearray(encode(packet, version))
    index = data.draw(st.integers(0, len(encoded) - 1))
    encoded[index] = data.draw(st.integers(0, 255))
    try:
        for first, body in Framer().feed(bytes(encoded)):
            decode(first, body, version)
    except (MalformedPacket, ProtocolError):
        pass


@pytest.mark.parametrize("version", [V3, V5])
def test_packet_type_zero_is_malformed(version: int) -> None:
    with pytest.raises(MalformedPacket):
        decode(0x00, b"", version)


def test_packet_types_names_every_packet_class() -> None:
    assert set(PACKET_TYPES) == set(get_args(Packet))


@FAST
@given(packets(V5))
def test_packet_type_is_the_fixed_header_type_the_encoder_writes(packet: Packet) -> None:
    assert encode(packet, V5)[0] >> 4 == PACKET_TYPES[type(packet)]
