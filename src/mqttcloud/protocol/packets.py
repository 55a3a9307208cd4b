"""MQTT control packets as values: one frozen dataclass per packet type, for both protocol versions.

Owns: `Connect`, `ConnAck`, `Publish`, `PubAck`, `PubRec`, `PubRel`, `PubComp`, `Subscribe`,
`SubAck`, `Unsubscribe`, `UnsubAck`, `PingReq`, `PingResp`, `Disconnect`, `Auth`, the `Packet`
union, and the small enums they use (`ProtocolVersion`, `PacketType`, `QoS`, `RetainHandling`).

Rule: packets do not depend on the protocol version. Reason codes are always v5 `ReasonCode`s and
properties are always present (empty by default); `encode(packet, version)` drops what v3.1.1 cannot
carry and maps reason codes, and `decode(..., version)` fills the defaults.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final

from mqttcloud.protocol.properties import NO_PROPERTIES, Properties
from mqttcloud.protocol.reason_codes import ReasonCode


class ProtocolVersion(IntEnum):
    """The Protocol Level byte of CONNECT ("MQIsdp" names level 3, "MQTT" levels 4 and 5)."""

    MQTT_3_1 = 3
    MQTT_3_1_1 = 4
    MQTT_5 = 5


class PacketType(IntEnum):
    """Control packet type: the high nibble of the fixed header's first byte (spec 2.1.2)."""

    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14
    AUTH = 15


class QoS(IntEnum):
    AT_MOST_ONCE = 0
    AT_LEAST_ONCE = 1
    EXACTLY_ONCE = 2


#: Index by wire value instead of calling `QoS(x)` (an Enum call costs ~0.3 µs on the hot path).
QOS_BY_VALUE: Final[tuple[QoS, QoS, QoS]] = (QoS.AT_MOST_ONCE, QoS.AT_LEAST_ONCE, QoS.EXACTLY_ONCE)


class RetainHandling(IntEnum):
    """Subscription option bits 4-5 (spec 3.8.3.1)."""

    SEND_ON_SUBSCRIBE = 0
    SEND_IF_NEW_SUBSCRIPTION = 1
    DO_NOT_SEND = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Will:
    """The will message carried in CONNECT (spec 3.1.2.5 / 3.1.3.2)."""

    topic: str
    payload: bytes
    qos: QoS = QoS.AT_MOST_ONCE
    retain: bool = False
    properties: Properties = field(default=NO_PROPERTIES)  # will properties (WILL context)


@dataclass(frozen=True, slots=True, kw_only=True)
class Connect:
    """CONNECT. `decode` sets `protocol_level` from the bytes; `encode` writes its `version`
    argument as the level (the two agree whenever the caller encodes for the packet's own version).
    """

    client_id: str
    protocol_level: ProtocolVersion = ProtocolVersion.MQTT_5
    clean_start: bool = True  # "Clean Session" in v3.1.1
    keep_alive: int = 60
    username: str | None = None
    password: bytes | None = None
    will: Will | None = None
    properties: Properties = field(default=NO_PROPERTIES)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnAck:
    session_present: bool = False
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = field(default=NO_PROPERTIES)


@dataclass(frozen=True, slots=True, kw_only=True)
class Publish:
    """PUBLISH. `packet_id` is None exactly when `qos` is 0 [MQTT-2.2.1-2].

    `topic` may be "" in v5 when `properties.topic_alias` is set; the broker resolves the alias.
    """

    topic: str
    payload: bytes = b""
    qos: QoS = QoS.AT_MOST_ONCE
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None
    properties: Properties = field(default=NO_PROPERTIES)


def _slot_setter(cls: type, name: str) -> Callable[[object, object], None]:
    # The slot's member descriptor: setting through it skips the frozen dataclass __setattr__.
    setter: Callable[[object, object], None] = cls.__dict__[name].__set__
    return setter


_PUB_SETTERS = tuple(
    _slot_setter(Publish, n) for n in ("topic", "payload", "qos", "retain", "dup", "packet_id", "properties")
)


def make_publish(  # noqa: PLR0917  # positional on purpose: keyword parsing costs on the hot path
    topic: str,
    payload: bytes,
    qos: QoS,
    retain: bool,
    dup: bool,
    packet_id: int | None,
    properties: Properties,
) -> Publish:
    """Build a Publish ~3x faster than `Publish(...)` (hot path: the decoder and the broker).

    A frozen dataclass's `__init__` sets each field through `object.__setattr__`; this sets the
    slots directly. The result is an ordinary, equal, immutable `Publish`. Positional arguments
    in field order; all are required.
    """
    obj = Publish.__new__(Publish)  # not object.__new__: a mypyc-compiled class refuses it
    s_topic, s_payload, s_qos, s_retain, s_dup, s_pid, s_props = _PUB_SETTERS
    s_topic(obj, topic)
    s_payload(obj, payload)
    s_qos(obj, qos)
    s_retain(obj, retain)
    s_dup(obj, dup)
    s_pid(obj, packet_id)
    s_props(obj, properties)
    return obj


@dataclass(frozen=True, slots=True, kw_only=True)
class PubAck:
    packet_id: int
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = field(default=NO_PROPERTIES)


@dataclass(frozen=True, slots=True, kw_only=True)
class PubRec:
    packet_id: int
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = field(default=NO_PROPERTIES)


@dataclass(frozen=True, slots=True, kw_only=True)
class PubRel:
    packet_id: int
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = field(default=NO_PROPERTIES)


@dataclass(frozen=True, slots=True, kw_only=True)
class PubComp:
    packet_id: int
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = field(default=NO_PROPERTIES)


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    """One topic filter and its options in SUBSCRIBE (spec 3.8.3.1).

    `topic_filter` is the filter exactly as sent, including any `$share/group/` prefix.
    """

    topic_filter: str
    qos: QoS = QoS.AT_MOST_ONCE
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: RetainHandling = RetainHandling.SEND_ON_SUBSCRIBE


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscribe:
    packet_id: int
    subscriptions: tuple[Subscription, ...]
    properties: Properties = field(default=NO_PROPERTIES)


@dataclass(frozen=True, slots=True, kw_only=True)
class SubAck:
    packet_id: int
    reason_codes: tuple[ReasonCode, ...]  # one per subscription, in order [MQTT-3.8.4-6]
    properties: Properties = field(default=NO_PROPERTIES)


@dataclass(frozen=True, slots=True, kw_only=True)
class Unsubscribe:
    packet_id: int
    topic_filters: tuple[str, ...]
    properties: Properties = field(default=NO_PROPERTIES)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsubAck:
    """UNSUBACK. v3.1.1 carries no reason codes: they are dropped on encode and () on decode."""

    packet_id: int
    reason_codes: tuple[ReasonCode, ...] = ()
    properties: Properties = field(default=NO_PROPERTIES)


@dataclass(frozen=True, slots=True, kw_only=True)
class PingReq:
    """PINGREQ: no variable header, no payload."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PingResp:
    """PINGRESP: no variable header, no payload."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Disconnect:
    """DISCONNECT. v3.1.1 carries neither reason code nor properties."""

    reason_code: ReasonCode = ReasonCode.NORMAL_DISCONNECTION
    properties: Properties = field(default=NO_PROPERTIES)


@dataclass(frozen=True, slots=True, kw_only=True)
class Auth:
    """AUTH (v5 only)."""

    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = field(default=NO_PROPERTIES)


Packet = (
    Connect
    | ConnAck
    | Publish
    | PubAck
    | PubRec
    | PubRel
    | PubComp
    | Subscribe
    | SubAck
    | Unsubscribe
    | UnsubAck
    | PingReq
    | PingResp
    | Disconnect
    | Auth
)

#: The control packet type of each packet class: a table rather than a ClassVar on each dataclass,
#: which mypyc would compile into an instance field (mypyc/mypyc#1122).
PACKET_TYPES: Final[dict[type[Packet], PacketType]] = {
    Connect: PacketType.CONNECT,
    ConnAck: PacketType.CONNACK,
    Publish: PacketType.PUBLISH,
    PubAck: PacketType.PUBACK,
    PubRec: PacketType.PUBREC,
    PubRel: PacketType.PUBREL,
    PubComp: PacketType.PUBCOMP,
    Subscribe: PacketType.SUBSCRIBE,
    SubAck: PacketType.SUBACK,
    Unsubscribe: PacketType.UNSUBSCRIBE,
    UnsubAck: PacketType.UNSUBACK,
    PingReq: PacketType.PINGREQ,
    PingResp: PacketType.PINGRESP,
    Disconnect: PacketType.DISCONNECT,
    Auth: PacketType.AUTH,
}

#: Singletons for the packets with no fields.
PINGREQ: Final = PingReq()
PINGRESP: Final = PingResp()
