"""Packet decoding: (first byte, body) → packet value, for MQTT 3.1, 3.1.1 or 5.0.

Owns: `decode(first_byte, body, version)` and one reader per packet type in `READERS`, keyed by
packet type (h11 `READERS`, mosquitto `read_handle.c`).

Rules:
- Readers raise only `MalformedPacket` or `ProtocolError`, each with the reason code to send.
  Every normative check the bytes allow is made here and cites its `[MQTT-x.y.z-n]` id; checks
  that need state or direction (topic alias ranges, a client PUBLISH carrying a Subscription
  Identifier [MQTT-3.3.4-6], an empty v3.1.1 client id without clean session [MQTT-3.1.3-8])
  belong to the broker.
- CONNECT is decoded without knowing the version: it reads the Protocol Level, and every error
  after that point carries `protocol_level` so the runtime can answer in the client's format.
- MQTT 3.1 ("MQIsdp", level 3) is read as 3.1.1 is, as EMQX and mosquitto accept it: after
  CONNECT its packets are the 3.1.1 bytes, so every reader treats any level but 5 alike.
- Fast path: PUBLISH is decoded by `_read_publish` with direct indexing and slicing, skips the
  property codec when the property length byte is 0 (the common case, giving the shared
  `NO_PROPERTIES`), and builds the value with `packets.make_publish`, which sets the slots
  directly instead of going through the frozen dataclass `__init__` (~3x cheaper).
- Fast path: a 2-byte PUBACK (0x00, no properties; what QoS 1 subscribers send for every delivery)
  returns one shared immutable `PubAck` per packet id instead of building one per packet.
"""

from collections.abc import Callable
from typing import Final

from mqttcloud.protocol.errors import MalformedPacket, MQTTError, ProtocolError
from mqttcloud.protocol.packets import (
    PINGREQ,
    PINGRESP,
    QOS_BY_VALUE,
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    Packet,
    ProtocolVersion,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    RetainHandling,
    SubAck,
    Subscribe,
    Subscription,
    UnsubAck,
    Unsubscribe,
    Will,
    make_publish,
)
from mqttcloud.protocol.primitives import decode_binary, decode_u16, decode_utf8
from mqttcloud.protocol.properties import NO_PROPERTIES, WILL, Properties, decode_properties
from mqttcloud.protocol.reason_codes import (
    AUTH_CODES,
    BY_VALUE,
    CONNACK_CODES,
    DISCONNECT_CODES,
    PUBACK_CODES,
    PUBCOMP_CODES,
    PUBREC_CODES,
    PUBREL_CODES,
    SUBACK_CODES,
    UNSUBACK_CODES,
    ReasonCode,
    from_v3_connack,
    from_v3_suback,
)
from mqttcloud.protocol.topics import SHARE_PREFIX

Buffer = bytes | memoryview
Reader = Callable[[int, Buffer, int], Packet]

V5: Final = 5
# The protocol name each accepted level must come with (spec 3.1.2.1; "MQIsdp" in MQTT 3.1)
_PROTOCOL_NAMES: Final = {3: "MQIsdp", 4: "MQTT", 5: "MQTT"}
# (a dict read, not the `ProtocolVersion(level)` enum call: once per CONNECT, a connect storm's path)
_PROTOCOL_LEVELS: Final = {int(v): v for v in ProtocolVersion}
_RETAIN_HANDLING: Final = (
    RetainHandling.SEND_ON_SUBSCRIBE,
    RetainHandling.SEND_IF_NEW_SUBSCRIPTION,
    RetainHandling.DO_NOT_SEND,
)


def decode(first_byte: int, body: Buffer, version: int) -> Packet:
    """Decode one control packet.

    Args:
        first_byte: the fixed header's first byte (type and flags), as the Framer returns it.
        body: the variable header and payload (exactly Remaining Length bytes).
        version: the connection's protocol level (3, 4 or 5). Ignored for CONNECT, which carries its
            own; pass anything (e.g. 5) before the connection has one.

    Raises:
        MalformedPacket: the bytes do not form a valid packet.
        ProtocolError: the packet is well formed but breaks a protocol rule.
    """
    reader = READERS[first_byte >> 4]
    if reader is None:
        # [MQTT-2.1.2] packet type 0 is reserved; 15 (AUTH) is reserved in 3.1.1
        raise MalformedPacket(f"reserved packet type {first_byte >> 4}")
    return reader(first_byte, body, version)


def _check_flags(first_byte: int, expected: int) -> None:
    if first_byte & 0x0F != expected:
        # [MQTT-2.2.2-1] [MQTT-2.2.2-2] reserved flag bits must be exactly as the table says
        raise MalformedPacket(f"invalid fixed header flags {first_byte & 0x0F:#x}")


def _packet_id(body: Buffer, offset: int, end: int) -> tuple[int, int]:
    packet_id, offset = decode_u16(body, offset, end)
    if packet_id == 0:
        raise MalformedPacket("packet identifier 0")  # [MQTT-2.2.1-3] non-zero packet identifier
    return packet_id, offset


def _reason(byte: int, allowed: frozenset[ReasonCode]) -> ReasonCode:
    code = BY_VALUE.get(byte)
    if code is None or code not in allowed:
        raise MalformedPacket(f"reason code {byte:#04x} not valid in this packet")
    return code


def _props(body: Buffer, offset: int, end: int, context: int) -> tuple[Properties, int]:
    if offset < end and body[offset] == 0:
        return NO_PROPERTIES, offset + 1
    if offset >= end:
        raise MalformedPacket("missing property length")
    mv = body if isinstance(body, memoryview) else memoryview(body)
    props, offset = decode_properties(mv[:end], offset, context)
    return props, offset


# --- CONNECT ------------------------------------------------------------------------------------


def _read_connect(first_byte: int, body: Buffer, _version: int) -> Connect:
    _check_flags(first_byte, 0)
    end = len(body)
    name, offset = decode_utf8(body, 0, end)
    if offset >= end:
        raise MalformedPacket("truncated CONNECT variable header")
    level = body[offset]
    offset += 1
    if _PROTOCOL_NAMES.get(level) != name:
        if name not in ("MQTT", "MQIsdp"):
            # [MQTT-3.1.2-1] a wrong protocol name: close without processing further
            raise MalformedPacket(f"unknown protocol name {name!r}")
        # [MQTT-3.1.2-2] unsupported level, or a name and level that do not pair (as EMQX checks):
        # CONNACK 0x84 (v5) / 0x01 (3.1 and 3.1.1), then close
        raise ProtocolError(
            f"unsupported protocol level {level} for {name!r}",
            ReasonCode.UNSUPPORTED_PROTOCOL_VERSION,
            protocol_level=level,
        )
    try:
        return _read_connect_rest(body, offset, end, level)
    except MQTTError as exc:
        exc.protocol_level = level
        raise


def _read_connect_rest(body: Buffer, offset: int, end: int, level: int) -> Connect:
    if offset + 3 > end:
        raise MalformedPacket("truncated CONNECT variable header")
    flags = body[offset]
    keep_alive = (body[offset + 1] << 8) | body[offset + 2]
    offset += 3
    if flags & 0x01:
        raise MalformedPacket("CONNECT reserved flag set")  # [MQTT-3.1.2-3]
    has_will = bool(flags & 0x04)
    will_qos = (flags >> 3) & 0x03
    will_retain = bool(flags & 0x20)
    has_password = bool(flags & 0x40)
    has_username = bool(flags & 0x80)
    if will_qos == 3:
        raise MalformedPacket("will QoS 3")  # [MQTT-3.1.2-12]
    if not has_will and (will_qos or will_retain):
        # [MQTT-3.1.2-11] [MQTT-3.1.2-13] will QoS and retain must be 0 without a will
        raise MalformedPacket("will QoS/retain set without will flag")
    if level == 4 and has_password and not has_username:
        # 3.1.1 [MQTT-3.1.2-22]; 3.1 allows it, and the password is read (as EMQX reads it)
        raise MalformedPacket("password flag without user name flag")
    properties = NO_PROPERTIES
    if level == V5:
        properties, offset = _props(body, offset, end, 1)
        if properties.authentication_data is not None and properties.authentication_method is None:
            # 3.1.2.11.10: Authentication Data without Authentication Method is a Protocol Error
            raise ProtocolError("authentication data without authentication method")
    client_id, offset = decode_utf8(body, offset, end)
    will = None
    if has_will:
        will_props = NO_PROPERTIES
        if level == V5:
            will_props, offset = _props(body, offset, end, WILL)
        will_topic, offset = decode_utf8(body, offset, end)
        if not will_topic or "+" in will_topic or "#" in will_topic:
            # [MQTT-3.1.3-11] the will topic is a valid topic name [MQTT-4.7.1-1] [MQTT-4.7.3-1]
            raise ProtocolError("invalid will topic", ReasonCode.TOPIC_NAME_INVALID)
        will_payload, offset = decode_binary(body, offset, end)
        will = Will(
            topic=will_topic,
            payload=will_payload,
            qos=QOS_BY_VALUE[will_qos],
            retain=will_retain,
            properties=will_props,
        )
    username = None
    if has_username:
        username, offset = decode_utf8(body, offset, end)
    password = None
    if has_password:
        password, offset = decode_binary(body, offset, end)
    if offset != end:
        raise MalformedPacket("trailing bytes after CONNECT payload")
    return Connect(
        protocol_level=_PROTOCOL_LEVELS[level],
        clean_start=bool(flags & 0x02),
        keep_alive=keep_alive,
        client_id=client_id,
        username=username,
        password=password,
        will=will,
        properties=properties,
    )


def _read_connack(first_byte: int, body: Buffer, version: int) -> ConnAck:
    _check_flags(first_byte, 0)
    end = len(body)
    if end < 2:
        raise MalformedPacket("truncated CONNACK")
    ack_flags = body[0]
    if ack_flags & 0xFE:
        raise MalformedPacket("CONNACK reserved flags set")  # [MQTT-3.2.2-1]
    session_present = bool(ack_flags)
    if version == V5:
        code = _reason(body[1], CONNACK_CODES)
        properties, offset = _props(body, 2, end, 2) if end > 2 else (NO_PROPERTIES, 2)
    else:
        if end != 2:
            raise MalformedPacket("CONNACK remaining length must be 2")
        try:
            code = from_v3_connack(body[1])
        except ValueError as exc:
            raise MalformedPacket(str(exc)) from None
        properties, offset = NO_PROPERTIES, 2
    if offset != end:
        raise MalformedPacket("trailing bytes in CONNACK")
    if session_present and code.is_error:
        raise ProtocolError("session present with a failure code")  # [MQTT-3.2.2-6]
    return ConnAck(session_present=session_present, reason_code=code, properties=properties)


# --- PUBLISH (hot path) -------------------------------------------------------------------------


def _read_publish(first_byte: int, body: Buffer, version: int) -> Publish:
    qos = (first_byte >> 1) & 0x03
    if qos == 3:
        raise MalformedPacket("PUBLISH QoS 3")  # [MQTT-3.3.1-4]
    dup = bool(first_byte & 0x08)
    if dup and not qos:
        raise MalformedPacket("DUP set on a QoS 0 PUBLISH")  # [MQTT-3.3.1-2]
    end = len(body)
    if end < 2:
        raise MalformedPacket("truncated PUBLISH topic")
    offset = ((body[0] << 8) | body[1]) + 2
    if offset > end:
        raise MalformedPacket("topic length exceeds packet")
    raw_topic = body[2:offset]
    try:
        topic = str(raw_topic, "utf-8")
    except UnicodeDecodeError:
        raise MalformedPacket("ill-formed UTF-8 topic") from None  # [MQTT-1.5.4-1]
    if "+" in topic or "#" in topic:
        # [MQTT-3.3.2-2] the Topic Name in a PUBLISH MUST NOT contain wildcard characters
        raise ProtocolError("wildcard in PUBLISH topic name", ReasonCode.TOPIC_NAME_INVALID)
    if "\x00" in topic:
        raise MalformedPacket("topic contains U+0000")  # [MQTT-1.5.4-2]
    packet_id = None
    if qos:
        if offset + 2 > end:
            raise MalformedPacket("truncated PUBLISH packet identifier")
        packet_id = (body[offset] << 8) | body[offset + 1]
        if not packet_id:
            raise MalformedPacket("packet identifier 0")  # [MQTT-2.2.1-3]
        offset += 2
    properties = NO_PROPERTIES
    if version == V5:
        if offset >= end:
            raise MalformedPacket("missing PUBLISH property length")
        if body[offset]:
            properties, offset = _props(body, offset, end, 3)
        else:
            offset += 1
        if not topic and properties.topic_alias is None:
            # [MQTT-3.3.2-1] a zero-length Topic Name needs a Topic Alias
            raise ProtocolError("empty topic name without topic alias")
    elif not topic:
        raise ProtocolError("empty topic name", ReasonCode.TOPIC_NAME_INVALID)  # [MQTT-4.7.3-1]
    return make_publish(
        topic, bytes(body[offset:]), QOS_BY_VALUE[qos], bool(first_byte & 0x01), dup, packet_id, properties
    )


# --- PUBACK / PUBREC / PUBREL / PUBCOMP -----------------------------------------------------------


def _read_ack_fields(
    first_byte: int,
    body: Buffer,
    version: int,
    *,
    flags: int,
    allowed: frozenset[ReasonCode],
    context: int,
) -> tuple[int, ReasonCode, Properties]:
    _check_flags(first_byte, flags)
    end = len(body)
    packet_id, offset = _packet_id(body, 0, end)
    if version != V5 or end == 2:
        if end != 2:
            raise MalformedPacket("acknowledgement remaining length must be 2")
        return packet_id, ReasonCode.SUCCESS, NO_PROPERTIES
    code = _reason(body[2], allowed)
    properties = NO_PROPERTIES
    offset = 3
    if end > 3:  # 3.4.2.2: no Property Length when the remaining length is < 4
        properties, offset = _props(body, 3, end, context)
    if offset != end:
        raise MalformedPacket("trailing bytes in acknowledgement")
    return packet_id, code, properties


class _PlainPubAcks(dict[int, PubAck]):
    """PUBACK 0x00 without properties, one shared immutable `PubAck` per packet id (made on first use)."""

    def __missing__(self, packet_id: int) -> PubAck:
        ack = self[packet_id] = PubAck(packet_id=packet_id)
        return ack


_PLAIN_PUBACKS = _PlainPubAcks()


def _read_puback(first_byte: int, body: Buffer, version: int) -> PubAck:
    if first_byte == 0x40 and len(body) == 2:
        # Fast path (QoS 1 subscribers ack every delivery): the 2-byte form, both versions.
        packet_id = (body[0] << 8) | body[1]
        if packet_id:
            return _PLAIN_PUBACKS[packet_id]
    pid, code, props = _read_ack_fields(first_byte, body, version, flags=0, allowed=PUBACK_CODES, context=4)
    return PubAck(packet_id=pid, reason_code=code, properties=props)


def _read_pubrec(first_byte: int, body: Buffer, version: int) -> PubRec:
    pid, code, props = _read_ack_fields(first_byte, body, version, flags=0, allowed=PUBREC_CODES, context=5)
    return PubRec(packet_id=pid, reason_code=code, properties=props)


def _read_pubrel(first_byte: int, body: Buffer, version: int) -> PubRel:
    # [MQTT-3.6.1-1] PUBREL fixed header flags are 0010
    pid, code, props = _read_ack_fields(
        first_byte, body, version, flags=0x02, allowed=PUBREL_CODES, context=6
    )
    return PubRel(packet_id=pid, reason_code=code, properties=props)


def _read_pubcomp(first_byte: int, body: Buffer, version: int) -> PubComp:
    pid, code, props = _read_ack_fields(first_byte, body, version, flags=0, allowed=PUBCOMP_CODES, context=7)
    return PubComp(packet_id=pid, reason_code=code, properties=props)


# --- SUBSCRIBE / SUBACK / UNSUBSCRIBE / UNSUBACK ---------------------------------------------------


def _read_subscribe(first_byte: int, body: Buffer, version: int) -> Subscribe:
    _check_flags(first_byte, 0x02)  # [MQTT-3.8.1-1]
    end = len(body)
    packet_id, offset = _packet_id(body, 0, end)
    properties = NO_PROPERTIES
    if version == V5:
        properties, offset = _props(body, offset, end, 8)
    subscriptions: list[Subscription] = []
    while offset < end:
        topic_filter, offset = decode_utf8(body, offset, end)
        if offset >= end:
            raise MalformedPacket("missing subscription options")
        options = body[offset]
        offset += 1
        qos = options & 0x03
        if qos == 3:
            raise MalformedPacket("subscription QoS 3")  # [MQTT-3-8.3-4] (v3.1.1) / 3.8.3.1
        if version == V5:
            if options & 0xC0:
                raise MalformedPacket("subscription options reserved bits set")  # [MQTT-3.8.3-5]
            retain_handling = (options >> 4) & 0x03
            if retain_handling == 3:
                raise ProtocolError("retain handling 3")  # 3.8.3.1: Retain Handling 3 is an error
            no_local = bool(options & 0x04)
            if no_local and topic_filter.startswith(SHARE_PREFIX):
                # [MQTT-3.8.3-4] No Local on a Shared Subscription is a Protocol Error
                raise ProtocolError("no local on a shared subscription")
            subscriptions.append(
                Subscription(
                    topic_filter=topic_filter,
                    qos=QOS_BY_VALUE[qos],
                    no_local=no_local,
                    retain_as_published=bool(options & 0x08),
                    retain_handling=_RETAIN_HANDLING[retain_handling],
                )
            )
        else:
            if options & 0xFC:
                raise MalformedPacket("requested QoS reserved bits set")  # 3.1.1 [MQTT-3-8.3-4]
            subscriptions.append(Subscription(topic_filter=topic_filter, qos=QOS_BY_VALUE[qos]))
    if not subscriptions:
        # [MQTT-3.8.3-3] (3.1.1) / [MQTT-3.8.3-2] (5.0): at least one topic filter
        raise ProtocolError("SUBSCRIBE without topic filters")
    return Subscribe(packet_id=packet_id, subscriptions=tuple(subscriptions), properties=properties)


def _read_suback(first_byte: int, body: Buffer, version: int) -> SubAck:
    _check_flags(first_byte, 0)
    end = len(body)
    packet_id, offset = _packet_id(body, 0, end)
    properties = NO_PROPERTIES
    if version == V5:
        properties, offset = _props(body, offset, end, 9)
        codes = tuple(_reason(body[i], SUBACK_CODES) for i in range(offset, end))
    else:
        try:
            codes = tuple(from_v3_suback(body[i]) for i in range(offset, end))
        except ValueError as exc:
            raise MalformedPacket(str(exc)) from None  # [MQTT-3.9.3-2] (3.1.1)
    if not codes:
        raise MalformedPacket("SUBACK without reason codes")
    return SubAck(packet_id=packet_id, reason_codes=codes, properties=properties)


def _read_unsubscribe(first_byte: int, body: Buffer, version: int) -> Unsubscribe:
    _check_flags(first_byte, 0x02)  # [MQTT-3.10.1-1]
    end = len(body)
    packet_id, offset = _packet_id(body, 0, end)
    properties = NO_PROPERTIES
    if version == V5:
        properties, offset = _props(body, offset, end, 10)
    filters: list[str] = []
    while offset < end:
        topic_filter, offset = decode_utf8(body, offset, end)
        filters.append(topic_filter)
    if not filters:
        raise ProtocolError("UNSUBSCRIBE without topic filters")  # [MQTT-3.10.3-2]
    return Unsubscribe(packet_id=packet_id, topic_filters=tuple(filters), properties=properties)


def _read_unsuback(first_byte: int, body: Buffer, version: int) -> UnsubAck:
    _check_flags(first_byte, 0)
    end = len(body)
    packet_id, offset = _packet_id(body, 0, end)
    if version != V5:
        if end != 2:
            raise MalformedPacket("UNSUBACK remaining length must be 2")
        return UnsubAck(packet_id=packet_id)
    properties, offset = _props(body, offset, end, 11)
    codes = tuple(_reason(body[i], UNSUBACK_CODES) for i in range(offset, end))
    if not codes:
        raise MalformedPacket("UNSUBACK without reason codes")
    return UnsubAck(packet_id=packet_id, reason_codes=codes, properties=properties)


# --- PINGREQ / PINGRESP / DISCONNECT / AUTH ---------------------------------------------------------


def _read_pingreq(first_byte: int, body: Buffer, _version: int) -> Packet:
    _check_flags(first_byte, 0)
    if len(body):
        raise MalformedPacket("PINGREQ has a body")
    return PINGREQ


def _read_pingresp(first_byte: int, body: Buffer, _version: int) -> Packet:
    _check_flags(first_byte, 0)
    if len(body):
        raise MalformedPacket("PINGRESP has a body")
    return PINGRESP


def _read_reason_and_props(
    body: Buffer, allowed: frozenset[ReasonCode], context: int
) -> tuple[ReasonCode, Properties]:
    end = len(body)
    if end == 0:
        return ReasonCode.SUCCESS, NO_PROPERTIES  # 3.14.2.1 / 3.15.2.1: absent means 0x00
    code = _reason(body[0], allowed)
    if end == 1:
        return code, NO_PROPERTIES
    properties, offset = _props(body, 1, end, context)
    if offset != end:
        raise MalformedPacket("trailing bytes after properties")
    return code, properties


def _read_disconnect(first_byte: int, body: Buffer, version: int) -> Disconnect:
    _check_flags(first_byte, 0)
    if version != V5:
        if len(body):
            raise MalformedPacket("DISCONNECT has a body")
        return Disconnect()
    code, properties = _read_reason_and_props(body, DISCONNECT_CODES, 14)
    return Disconnect(reason_code=code, properties=properties)


def _read_auth(first_byte: int, body: Buffer, version: int) -> Auth:
    _check_flags(first_byte, 0)
    if version != V5:
        raise MalformedPacket("AUTH is reserved in MQTT 3.1.1")
    code, properties = _read_reason_and_props(body, AUTH_CODES, 15)
    if len(body) and properties.authentication_method is None:
        # 3.15.2.2.2: AUTH with a reason code carries the Authentication Method
        raise ProtocolError("AUTH without authentication method")
    return Auth(reason_code=code, properties=properties)


#: Readers indexed by packet type (index 0 is the reserved type).
READERS: Final[tuple[Reader | None, ...]] = (
    None,
    _read_connect,
    _read_connack,
    _read_publish,
    _read_puback,
    _read_pubrec,
    _read_pubrel,
    _read_pubcomp,
    _read_subscribe,
    _read_suback,
    _read_unsubscribe,
    _read_unsuback,
    _read_pingreq,
    _read_pingresp,
    _read_disconnect,
    _read_auth,
)
