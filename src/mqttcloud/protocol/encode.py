"""Packet encoding: packet value → complete wire bytes (fixed header included), for 3.1, 3.1.1, 5.0.

Owns: `encode(packet, version)`, one writer per packet class in `WRITERS`, and the PUBLISH fast
path used by the broker's fan-out.

Rules:
- Packets are version-independent. For MQTT 3.1.1 the writers drop what v3.1.1 cannot carry
  (properties, will properties, reason codes of PUBACK/PUBREC/PUBREL/PUBCOMP/UNSUBACK/DISCONNECT)
  and map CONNACK and SUBACK codes with `reason_codes.to_v3_connack` / `to_v3_suback`. AUTH has no
  v3.1.1 encoding and raises ValueError. MQTT 3.1 (version 3) is written as 3.1.1 is, except the
  CONNECT protocol name ("MQIsdp") and the CONNACK flags byte, which 3.1 reserves (always 0).
- Encoders trust the packet (it was built by us, or decoded and validated): values that cannot be
  represented at all (QoS 0 with a packet id [MQTT-2.2.1-2], strings over 65535 bytes) raise
  ValueError, a caller bug, never a peer's fault.

Fast path (PUBLISH fan-out):
- `encode_publish` builds the bytes with one `b"".join` and no property loop when the properties
  are the shared `NO_PROPERTIES` (the property block is then the single byte 0x00 in v5).
- `encode_publish_shared(topic, payload, qos=..., retain=..., version=...)` encodes once and
  returns an `EncodedPublish`. For QoS 0 its `data` is sent as-is to every subscriber of that
  version (one `bytes` object shared by all the `Send`s). For QoS 1/2 it is encoded with packet
  id 0 and `with_packet_id(pid, dup=...)` copies it and patches the two id bytes (and the DUP
  bit) instead of re-encoding. `PublishEncodings` caches one `EncodedPublish` per
  (version, qos, retain) for one routed message.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from mqttcloud.protocol.packets import (
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    Packet,
    PingReq,
    PingResp,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    SubAck,
    Subscribe,
    UnsubAck,
    Unsubscribe,
)
from mqttcloud.protocol.primitives import encode_binary, encode_utf8, encode_varint
from mqttcloud.protocol.properties import NO_PROPERTIES, Properties, encode_properties
from mqttcloud.protocol.reason_codes import to_v3_connack, to_v3_suback

V5: Final = 5
V31: Final = 3
_FIRST_BYTES: Final = tuple(bytes((i,)) for i in range(256))
_NO_PROPS: Final = b"\x00"


def _frame(first: int, body: bytes) -> bytes:
    return _FIRST_BYTES[first] + encode_varint(len(body)) + body


def _props(props: Properties) -> bytes:
    return _NO_PROPS if props is NO_PROPERTIES else encode_properties(props)


def encode(packet: Packet, version: int) -> bytes:
    """Encode one control packet for protocol level `version` (4 or 5).

    Raises:
        ValueError: the packet cannot be represented (see module rules), or AUTH for 3.1.1.
    """
    writer = WRITERS[type(packet)]
    return writer(packet, version)


# --- PUBLISH (hot path) -------------------------------------------------------------------------


def encode_publish(packet: Publish, version: int) -> bytes:
    """Encode a PUBLISH (see the module docstring for the fast path)."""
    topic = packet.topic.encode("utf-8")
    qos = packet.qos
    first = 0x30 | (qos << 1)
    if packet.retain:
        first |= 0x01
    if packet.dup:
        first |= 0x08
    if len(topic) > 0xFFFF:
        raise ValueError("topic longer than 65535 bytes")
    packet_id = packet.packet_id
    if qos:
        if packet_id is None:
            raise ValueError("QoS > 0 PUBLISH needs a packet id")
        head = len(topic).to_bytes(2, "big") + topic + packet_id.to_bytes(2, "big")
    else:
        if packet_id is not None:
            raise ValueError("QoS 0 PUBLISH must not have a packet id")  # [MQTT-2.2.1-2]
        head = len(topic).to_bytes(2, "big") + topic
    payload = packet.payload
    if version == V5:
        props = packet.properties
        pbytes = _NO_PROPS if props is NO_PROPERTIES else encode_properties(props)
        length = len(head) + len(pbytes) + len(payload)
        return b"".join((_FIRST_BYTES[first], encode_varint(length), head, pbytes, payload))
    length = len(head) + len(payload)
    return b"".join((_FIRST_BYTES[first], encode_varint(length), head, payload))


@dataclass(frozen=True, slots=True)
class EncodedPublish:
    """One PUBLISH encoded once for many receivers.

    Attributes:
        data: the complete packet. For QoS 1/2 its packet id bytes are 0 and must be patched with
            `with_packet_id` before sending.
        id_offset: index of the 2 packet id bytes in `data`, or -1 for QoS 0.
    """

    data: bytes
    id_offset: int

    def with_packet_id(self, packet_id: int, *, dup: bool = False) -> bytes:
        """Return a copy of `data` with `packet_id` (1..65535) and, if asked, the DUP bit set."""
        off = self.id_offset
        if off < 0:
            raise ValueError("QoS 0 PUBLISH has no packet id")  # [MQTT-2.2.1-2]
        data = self.data
        if dup:
            return _FIRST_BYTES[data[0] | 0x08] + data[1:off] + packet_id.to_bytes(2, "big") + data[off + 2 :]
        return data[:off] + packet_id.to_bytes(2, "big") + data[off + 2 :]


def encode_publish_shared(
    topic: str,
    payload: bytes,
    *,
    qos: int,
    retain: bool,
    version: int,
    properties: Properties = NO_PROPERTIES,
) -> EncodedPublish:
    """Encode a PUBLISH once so it can be sent to many subscribers (module docstring: fast path).

    Args:
        topic: the topic name to deliver under (never empty: the broker does not use aliases
            towards subscribers).
        payload: the application message.
        qos: the delivery QoS for these receivers (already min(message QoS, granted QoS)).
        retain: the RETAIN flag as these receivers must see it.
        version: protocol level of the receivers.
        properties: v5 properties shared by all these receivers (ignored for 3.1.1).
    """
    topic_bytes = topic.encode("utf-8")
    if len(topic_bytes) > 0xFFFF:
        raise ValueError("topic longer than 65535 bytes")
    first = 0x30 | (qos << 1) | (0x01 if retain else 0)
    head = len(topic_bytes).to_bytes(2, "big") + topic_bytes
    id_bytes = b"\x00\x00" if qos else b""
    pbytes = (
        (_NO_PROPS if properties is NO_PROPERTIES else encode_properties(properties))
        if version == V5
        else b""
    )
    length = len(head) + len(id_bytes) + len(pbytes) + len(payload)
    varint = encode_varint(length)
    data = b"".join((_FIRST_BYTES[first], varint, head, id_bytes, pbytes, payload))
    return EncodedPublish(data, 1 + len(varint) + len(head) if qos else -1)


def encode_publish_qos0(topic: str, payload: bytes, *, retain: bool, version: int) -> bytes:
    """A QoS 0 PUBLISH without properties: the bytes `encode_publish_shared` gives, in one join.

    The broker's fan-in hot path (one subscriber per message), where building an `EncodedPublish`
    and a cache key per message cost more than the encoding. `topic` must be a valid topic name
    (at most 65,535 UTF-8 bytes), which the broker checked on the way in.
    """
    tb = topic.encode("utf-8")
    n = len(tb)
    if version == V5:
        length = n + 3 + len(payload)
        return b"".join((_FIRST_BYTES[0x31 if retain else 0x30], encode_varint(length),
                         n.to_bytes(2, "big"), tb, _NO_PROPS, payload))  # fmt: skip
    length = n + 2 + len(payload)
    return b"".join(
        (_FIRST_BYTES[0x31 if retain else 0x30], encode_varint(length), n.to_bytes(2, "big"), tb, payload)
    )


class PublishEncodings:
    """Lazily encodes one routed message per (version, qos, retain) and reuses the result.

    The broker makes one per routed PUBLISH; subscribers that share version, delivery QoS and
    retain flag share one `EncodedPublish` (and, for QoS 0, one `bytes` object).
    """

    __slots__ = ("_cache", "payload", "properties", "topic")

    def __init__(self, topic: str, payload: bytes, properties: Properties = NO_PROPERTIES) -> None:
        self.topic = topic
        self.payload = payload
        self.properties = properties
        self._cache: dict[tuple[int, int, bool], EncodedPublish] = {}

    def get(self, version: int, qos: int, retain: bool) -> EncodedPublish:
        key = (version, qos, retain)
        encoded = self._cache.get(key)
        if encoded is None:
            encoded = encode_publish_shared(
                self.topic, self.payload, qos=qos, retain=retain, version=version, properties=self.properties
            )
            self._cache[key] = encoded
        return encoded


# --- the other packets --------------------------------------------------------------------------


def _write_connect(packet: Connect, version: int) -> bytes:
    v5 = version == V5
    flags = 0x02 if packet.clean_start else 0
    will = packet.will
    if will is not None:
        flags |= 0x04 | (will.qos << 3) | (0x20 if will.retain else 0)
    if packet.username is not None:
        flags |= 0x80
    if packet.password is not None:
        if version == 4 and packet.username is None:  # 3.1.1 [MQTT-3.1.2-22]; 3.1 allows it
            raise ValueError("MQTT 3.1.1 CONNECT cannot carry a password without a user name")
        flags |= 0x40
    name = b"\x00\x06MQIsdp" if version == V31 else b"\x00\x04MQTT"
    parts = [name, bytes((version, flags)), packet.keep_alive.to_bytes(2, "big")]
    if v5:
        parts.append(_props(packet.properties))
    parts.append(encode_utf8(packet.client_id))
    if will is not None:
        if v5:
            parts.append(_props(will.properties))
        parts.append(encode_utf8(will.topic))
        parts.append(encode_binary(will.payload))
    if packet.username is not None:
        parts.append(encode_utf8(packet.username))
    if packet.password is not None:
        parts.append(encode_binary(packet.password))
    return _frame(0x10, b"".join(parts))


def _write_connack(packet: ConnAck, version: int) -> bytes:
    if version == V5:
        body = bytes((int(packet.session_present), packet.reason_code)) + _props(packet.properties)
        return _frame(0x20, body)
    code = to_v3_connack(packet.reason_code)
    # [MQTT-3.2.2-4] (3.1.1) session present is 0 with a non-zero return code
    session_present = packet.session_present and code == 0 and version != V31
    return _frame(0x20, bytes((int(session_present), code)))


def _ack_writer(first: int) -> Callable[[Any, int], bytes]:
    def write(packet: PubAck | PubRec | PubRel | PubComp, version: int) -> bytes:
        pid = packet.packet_id.to_bytes(2, "big")
        if version != V5:
            return _FIRST_BYTES[first] + b"\x02" + pid
        props = packet.properties
        if props is NO_PROPERTIES or props == NO_PROPERTIES:
            if packet.reason_code == 0:
                return _FIRST_BYTES[first] + b"\x02" + pid  # 3.4.2.1: reason 0 may be omitted
            return _FIRST_BYTES[first] + b"\x03" + pid + bytes((packet.reason_code,))
        return _frame(first, pid + bytes((packet.reason_code,)) + encode_properties(props))

    return write


def _write_subscribe(packet: Subscribe, version: int) -> bytes:
    v5 = version == V5
    parts = [packet.packet_id.to_bytes(2, "big")]
    if v5:
        parts.append(_props(packet.properties))
    for sub in packet.subscriptions:
        parts.append(encode_utf8(sub.topic_filter))
        options = int(sub.qos)
        if v5:
            options |= (
                (0x04 if sub.no_local else 0)
                | (0x08 if sub.retain_as_published else 0)
                | (sub.retain_handling << 4)
            )
        parts.append(bytes((options,)))
    return _frame(0x82, b"".join(parts))


def _write_suback(packet: SubAck, version: int) -> bytes:
    pid = packet.packet_id.to_bytes(2, "big")
    if version == V5:
        return _frame(0x90, pid + _props(packet.properties) + bytes(packet.reason_codes))
    return _frame(0x90, pid + bytes(to_v3_suback(code) for code in packet.reason_codes))


def _write_unsubscribe(packet: Unsubscribe, version: int) -> bytes:
    parts = [packet.packet_id.to_bytes(2, "big")]
    if version == V5:
        parts.append(_props(packet.properties))
    parts.extend(encode_utf8(f) for f in packet.topic_filters)
    return _frame(0xA2, b"".join(parts))


def _write_unsuback(packet: UnsubAck, version: int) -> bytes:
    pid = packet.packet_id.to_bytes(2, "big")
    if version == V5:
        return _frame(0xB0, pid + _props(packet.properties) + bytes(packet.reason_codes))
    return _frame(0xB0, pid)


def _write_pingreq(_packet: PingReq, _version: int) -> bytes:
    return b"\xc0\x00"


def _write_pingresp(_packet: PingResp, _version: int) -> bytes:
    return b"\xd0\x00"


def _write_disconnect(packet: Disconnect, version: int) -> bytes:
    if version != V5:
        return b"\xe0\x00"
    props = packet.properties
    if props is NO_PROPERTIES or props == NO_PROPERTIES:
        if packet.reason_code == 0:
            return b"\xe0\x00"  # 3.14.2.1: reason 0 and no properties may be omitted
        return bytes((0xE0, 1, packet.reason_code))
    return _frame(0xE0, bytes((packet.reason_code,)) + encode_properties(props))


def _write_auth(packet: Auth, version: int) -> bytes:
    if version != V5:
        raise ValueError("AUTH does not exist in MQTT 3.1.1")
    props = packet.properties
    if packet.reason_code == 0 and (props is NO_PROPERTIES or props == NO_PROPERTIES):
        return b"\xf0\x00"  # 3.15.2.1
    return _frame(0xF0, bytes((packet.reason_code,)) + encode_properties(props))


# The values are typed `Callable[[Any, int], bytes]` because each writer takes its own packet
# class; `encode` looks the writer up by `type(packet)`, so the pairing is correct by construction.
WRITERS: Final[dict[type, Callable[[Any, int], bytes]]] = {
    Connect: _write_connect,
    ConnAck: _write_connack,
    Publish: encode_publish,
    PubAck: _ack_writer(0x40),
    PubRec: _ack_writer(0x50),
    PubRel: _ack_writer(0x62),  # [MQTT-3.6.1-1]
    PubComp: _ack_writer(0x70),
    Subscribe: _write_subscribe,
    SubAck: _write_suback,
    Unsubscribe: _write_unsubscribe,
    UnsubAck: _write_unsuback,
    PingReq: _write_pingreq,
    PingResp: _write_pingresp,
    Disconnect: _write_disconnect,
    Auth: _write_auth,
}
