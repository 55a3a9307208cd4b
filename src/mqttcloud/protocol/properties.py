"""MQTT 5.0 properties: one table (id → name, type, packets allowed), the `Properties` value, and the
codec driven by that table.

Owns: `PROPERTY_TABLE`, `Properties`, `decode_properties`, `encode_properties`.

Rule: nothing outside this module knows property ids or wire types; every check (type, allowed
packet, duplicates, value range) is derived from `PROPERTY_TABLE`, as mosquitto
`lib/property_mosq.c` and emqx `emqx_mqtt_props.erl` do.
"""

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from enum import IntEnum
from typing import Final

from mqttcloud.protocol.errors import MalformedPacket, ProtocolError
from mqttcloud.protocol.primitives import (
    decode_binary,
    decode_utf8,
    decode_varint,
    encode_binary,
    encode_utf8,
    encode_varint,
)


class PropertyType(IntEnum):
    """Wire data type of a property value (spec 1.5)."""

    BYTE = 1
    TWO_BYTE_INT = 2
    FOUR_BYTE_INT = 3
    VARINT = 4
    UTF8 = 5
    BINARY = 6
    UTF8_PAIR = 7
    BOOL = 8  # a Byte that must be 0 or 1; decoded to bool


#: Property contexts: packet type numbers (1 = CONNECT … 15 = AUTH) plus WILL for the will
#: properties inside CONNECT's payload.
WILL: Final = 0
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, DISCONNECT, AUTH = 8, 9, 10, 11, 14, 15

_ACKS = frozenset({CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH})
_ALL = frozenset(
    {WILL, CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP}
    | {SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, DISCONNECT, AUTH}
)


@dataclass(frozen=True, slots=True)
class PropertySpec:
    """One row of the property table."""

    id: int
    name: str  # field name on `Properties`
    type: PropertyType
    allowed: frozenset[int]  # contexts where the property may appear
    repeatable: bool = False  # user properties; subscription identifiers in PUBLISH
    nonzero: bool = False  # value 0 is a Protocol Error


def _row(
    pid: int,
    name: str,
    ptype: PropertyType,
    allowed: frozenset[int] | set[int],
    *,
    repeatable: bool = False,
    nonzero: bool = False,
) -> PropertySpec:
    return PropertySpec(pid, name, ptype, frozenset(allowed), repeatable, nonzero)


T = PropertyType
#: The property table (spec 2.2.2.2, table 2-4).
PROPERTY_TABLE: Final[tuple[PropertySpec, ...]] = (
    _row(0x01, "payload_format_indicator", T.BYTE, {PUBLISH, WILL}),
    _row(0x02, "message_expiry_interval", T.FOUR_BYTE_INT, {PUBLISH, WILL}),
    _row(0x03, "content_type", T.UTF8, {PUBLISH, WILL}),
    _row(0x08, "response_topic", T.UTF8, {PUBLISH, WILL}),
    _row(0x09, "correlation_data", T.BINARY, {PUBLISH, WILL}),
    # [MQTT-3.3.4-3] a server PUBLISH may carry several; SUBSCRIBE allows one (checked in decode).
    _row(0x0B, "subscription_identifiers", T.VARINT, {PUBLISH, SUBSCRIBE}, repeatable=True, nonzero=True),
    _row(0x11, "session_expiry_interval", T.FOUR_BYTE_INT, {CONNECT, CONNACK, DISCONNECT}),
    _row(0x12, "assigned_client_identifier", T.UTF8, {CONNACK}),
    _row(0x13, "server_keep_alive", T.TWO_BYTE_INT, {CONNACK}),
    _row(0x15, "authentication_method", T.UTF8, {CONNECT, CONNACK, AUTH}),
    _row(0x16, "authentication_data", T.BINARY, {CONNECT, CONNACK, AUTH}),
    _row(0x17, "request_problem_information", T.BOOL, {CONNECT}),
    _row(0x18, "will_delay_interval", T.FOUR_BYTE_INT, {WILL}),
    _row(0x19, "request_response_information", T.BOOL, {CONNECT}),
    _row(0x1A, "response_information", T.UTF8, {CONNACK}),
    _row(0x1C, "server_reference", T.UTF8, {CONNACK, DISCONNECT}),
    _row(0x1F, "reason_string", T.UTF8, _ACKS),
    _row(0x21, "receive_maximum", T.TWO_BYTE_INT, {CONNECT, CONNACK}, nonzero=True),
    _row(0x22, "topic_alias_maximum", T.TWO_BYTE_INT, {CONNECT, CONNACK}),
    _row(0x23, "topic_alias", T.TWO_BYTE_INT, {PUBLISH}, nonzero=True),
    _row(0x24, "maximum_qos", T.BYTE, {CONNACK}),
    _row(0x25, "retain_available", T.BOOL, {CONNACK}),
    _row(0x26, "user_properties", T.UTF8_PAIR, _ALL, repeatable=True),
    _row(0x27, "maximum_packet_size", T.FOUR_BYTE_INT, {CONNECT, CONNACK}, nonzero=True),
    _row(0x28, "wildcard_subscription_available", T.BOOL, {CONNACK}),
    _row(0x29, "subscription_identifier_available", T.BOOL, {CONNACK}),
    _row(0x2A, "shared_subscription_available", T.BOOL, {CONNACK}),
)
BY_ID: Final[dict[int, PropertySpec]] = {row.id: row for row in PROPERTY_TABLE}
BY_NAME: Final[dict[str, PropertySpec]] = {row.name: row for row in PROPERTY_TABLE}
# Byte properties whose only legal values are 0 and 1 (payload format, maximum QoS).
_ZERO_OR_ONE: Final = frozenset({0x01, 0x24})


@dataclass(frozen=True, slots=True, kw_only=True)
class Properties:
    """MQTT 5.0 properties of one packet (or of a will). `None`/empty means absent.

    Deviation from "one optional field per property": Subscription Identifier is
    `subscription_identifiers: tuple[int, ...]` because a PUBLISH sent by the server carries one per
    matching subscription [MQTT-3.3.4-3]; SUBSCRIBE carries at most one.
    """

    payload_format_indicator: int | None = None
    message_expiry_interval: int | None = None
    content_type: str | None = None
    response_topic: str | None = None
    correlation_data: bytes | None = None
    subscription_identifiers: tuple[int, ...] = ()
    session_expiry_interval: int | None = None
    assigned_client_identifier: str | None = None
    server_keep_alive: int | None = None
    authentication_method: str | None = None
    authentication_data: bytes | None = None
    request_problem_information: bool | None = None
    will_delay_interval: int | None = None
    request_response_information: bool | None = None
    response_information: str | None = None
    server_reference: str | None = None
    reason_string: str | None = None
    receive_maximum: int | None = None
    topic_alias_maximum: int | None = None
    topic_alias: int | None = None
    maximum_qos: int | None = None
    retain_available: bool | None = None
    user_properties: tuple[tuple[str, str], ...] = field(default=())
    maximum_packet_size: int | None = None
    wildcard_subscription_available: bool | None = None
    subscription_identifier_available: bool | None = None
    shared_subscription_available: bool | None = None

    def is_empty(self) -> bool:
        """True when no property is set (cheap identity check first: the shared empty value)."""
        return self is NO_PROPERTIES or self == NO_PROPERTIES

    def evolve(self, **changes: object) -> "Properties":
        """Return a copy with some fields replaced (thin `dataclasses.replace`)."""
        return replace(self, **changes)  # type: ignore[arg-type]  # field names checked at runtime


#: The shared empty value. Packets default to it, and encoders test `is NO_PROPERTIES` first.
NO_PROPERTIES: Final = Properties()

_FIELD_NAMES: Final = tuple(f.name for f in fields(Properties))
assert set(_FIELD_NAMES) == set(BY_NAME), "Properties fields and PROPERTY_TABLE disagree"

# Slot setters (member descriptors) and defaults: `_build` fills a new instance directly, about
# twice as fast as the frozen dataclass `__init__` with 27 keyword arguments. `vars()`, because mypyc
# refuses `Properties.__dict__` (no such attribute on its native class in mypy's eyes).
_SETTERS: Final[dict[str, Callable[[object, object], None]]] = {
    f.name: vars(Properties)[f.name].__set__ for f in fields(Properties)
}
_DEFAULTS: Final = tuple((_SETTERS[f.name], f.default) for f in fields(Properties))


def _build(values: dict[str, object]) -> Properties:
    """Make an ordinary (equal, immutable) Properties from field values checked by the decoder."""
    obj = Properties.__new__(Properties)  # not object.__new__: a mypyc-compiled class refuses it
    for setter, default in _DEFAULTS:
        setter(obj, default)
    for name, value in values.items():
        _SETTERS[name](obj, value)
    return obj


def _context_name(context: int) -> str:
    return "will" if context == WILL else f"packet type {context}"


def decode_properties(buf: memoryview, offset: int, context: int) -> tuple[Properties, int]:
    """Decode a property block (length varint + properties) starting at `offset`.

    Args:
        buf: the packet body.
        offset: where the Property Length starts.
        context: packet type number, or `WILL` for will properties.

    Returns:
        The properties and the offset just after the block.

    Raises:
        MalformedPacket: truncated block, unknown property id, bad value encoding.
        ProtocolError: property not allowed in `context`, duplicated where not allowed, or a value
            the spec forbids (e.g. Receive Maximum 0).
    """
    length, offset = decode_varint(buf, offset)
    end = offset + length
    if end > len(buf):
        raise MalformedPacket("property length exceeds packet")
    if length == 0:
        return NO_PROPERTIES, offset
    values: dict[str, object] = {}
    user: list[tuple[str, str]] = []
    sub_ids: list[int] = []
    while offset < end:
        pid, offset = decode_varint(buf, offset)
        spec = BY_ID.get(pid)
        if spec is None:
            raise MalformedPacket(f"unknown property id {pid:#04x}")
        if context not in spec.allowed:
            # Spec 2.2.2.2: a property not allowed in this packet makes it malformed; the spec's
            # reason for the server is Protocol Error (emqx and mosquitto answer 0x82 too).
            raise ProtocolError(f"property {spec.name} not allowed in {_context_name(context)}")
        value: object
        ptype = spec.type
        if ptype is T.BYTE or ptype is T.BOOL:
            if offset + 1 > end:
                raise MalformedPacket(f"truncated property {spec.name}")
            byte = buf[offset]
            offset += 1
            if (ptype is T.BOOL or pid in _ZERO_OR_ONE) and byte > 1:
                raise ProtocolError(f"property {spec.name} must be 0 or 1, got {byte}")
            # Not `bool(byte) if ... else byte`: mypyc types that expression as the join of bool
            # and int, int, and would store 1 where the field is a bool.
            if ptype is T.BOOL:  # noqa: SIM108  # see above
                value = bool(byte)
            else:
                value = byte
        elif ptype is T.TWO_BYTE_INT:
            if offset + 2 > end:
                raise MalformedPacket(f"truncated property {spec.name}")
            value = (buf[offset] << 8) | buf[offset + 1]
            offset += 2
        elif ptype is T.FOUR_BYTE_INT:
            if offset + 4 > end:
                raise MalformedPacket(f"truncated property {spec.name}")
            value = int.from_bytes(buf[offset : offset + 4], "big")
            offset += 4
        elif ptype is T.VARINT:
            value, offset = decode_varint(buf, offset, end)
        elif ptype is T.UTF8:
            value, offset = decode_utf8(buf, offset, end)
        elif ptype is T.BINARY:
            value, offset = decode_binary(buf, offset, end)
        else:  # UTF8_PAIR
            key, offset = decode_utf8(buf, offset, end)
            val, offset = decode_utf8(buf, offset, end)
            user.append((key, val))
            continue
        if spec.nonzero and value == 0:
            raise ProtocolError(f"property {spec.name} must not be 0")
        if pid == 0x0B:
            assert isinstance(value, int)
            # [MQTT-3.8.2.1-?] SUBSCRIBE carries at most one Subscription Identifier.
            if context != PUBLISH and sub_ids:
                raise ProtocolError("subscription identifier repeated")
            sub_ids.append(value)
            continue
        if spec.name in values:
            # Spec 2.2.2.2: including a property more than once is a Protocol Error.
            raise ProtocolError(f"property {spec.name} repeated")
        values[spec.name] = value
    if offset != end:
        raise MalformedPacket("property overruns property length")
    if user:
        values["user_properties"] = tuple(user)
    if sub_ids:
        values["subscription_identifiers"] = tuple(sub_ids)
    return _build(values), end


def _encode_value(spec: PropertySpec, value: object, out: list[bytes]) -> None:
    ident = spec.id.to_bytes(1, "big")  # every id < 0x80: one varint byte
    ptype = spec.type
    if ptype is T.BYTE or ptype is T.BOOL:
        assert isinstance(value, int)
        out.append(ident + int(value).to_bytes(1, "big"))
    elif ptype is T.TWO_BYTE_INT:
        assert isinstance(value, int)
        out.append(ident + value.to_bytes(2, "big"))
    elif ptype is T.FOUR_BYTE_INT:
        assert isinstance(value, int)
        out.append(ident + value.to_bytes(4, "big"))
    elif ptype is T.VARINT:
        assert isinstance(value, int)
        out.append(ident + encode_varint(value))
    elif ptype is T.UTF8:
        assert isinstance(value, str)
        out.append(ident + encode_utf8(value))
    elif ptype is T.BINARY:
        assert isinstance(value, bytes)
        out.append(ident + encode_binary(value))
    else:  # UTF8_PAIR
        assert isinstance(value, tuple)
        key, val = value
        out.append(ident + encode_utf8(key) + encode_utf8(val))


def encode_properties(props: Properties) -> bytes:
    """Encode a property block: Property Length varint followed by the properties.

    Empty properties encode as the single byte 0x00. Order follows `PROPERTY_TABLE`; user
    properties keep their order [MQTT-3.3.2-18].
    """
    if props is NO_PROPERTIES:
        return b"\x00"
    out: list[bytes] = []
    for spec in PROPERTY_TABLE:
        value = getattr(props, spec.name)
        if spec.repeatable:
            for item in value:
                _encode_value(spec, item, out)
        elif value is not None:
            _encode_value(spec, value, out)
    body = b"".join(out)
    return encode_varint(len(body)) + body
