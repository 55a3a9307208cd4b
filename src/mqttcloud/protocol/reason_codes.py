"""MQTT reason codes: every MQTT 5.0 code, and the mapping to/from MQTT 3.1.1 return codes.

Owns: `ReasonCode` (the v5 code space, used everywhere in the core regardless of the client's
protocol version), the per-packet sets of codes the v5 spec allows, and the only place where
v3.1.1 CONNACK return codes and SUBACK return codes are translated.

Rule: the broker core only ever speaks `ReasonCode`; the v3.1.1 encoder calls `to_v3_connack` /
`to_v3_suback`, and the v3.1.1 decoder calls `from_v3_connack` / `from_v3_suback`.
"""

from enum import IntEnum


class ReasonCode(IntEnum):
    """MQTT 5.0 reason codes (section 2.4). Aliases share a value, as in the spec table."""

    SUCCESS = 0x00
    NORMAL_DISCONNECTION = 0x00
    GRANTED_QOS_0 = 0x00
    GRANTED_QOS_1 = 0x01
    GRANTED_QOS_2 = 0x02
    DISCONNECT_WITH_WILL_MESSAGE = 0x04
    NO_MATCHING_SUBSCRIBERS = 0x10
    NO_SUBSCRIPTION_EXISTED = 0x11
    CONTINUE_AUTHENTICATION = 0x18
    RE_AUTHENTICATE = 0x19
    UNSPECIFIED_ERROR = 0x80
    MALFORMED_PACKET = 0x81
    PROTOCOL_ERROR = 0x82
    IMPLEMENTATION_SPECIFIC_ERROR = 0x83
    UNSUPPORTED_PROTOCOL_VERSION = 0x84
    CLIENT_IDENTIFIER_NOT_VALID = 0x85
    BAD_USER_NAME_OR_PASSWORD = 0x86
    NOT_AUTHORIZED = 0x87
    SERVER_UNAVAILABLE = 0x88
    SERVER_BUSY = 0x89
    BANNED = 0x8A
    SERVER_SHUTTING_DOWN = 0x8B
    BAD_AUTHENTICATION_METHOD = 0x8C
    KEEP_ALIVE_TIMEOUT = 0x8D
    SESSION_TAKEN_OVER = 0x8E
    TOPIC_FILTER_INVALID = 0x8F
    TOPIC_NAME_INVALID = 0x90
    PACKET_IDENTIFIER_IN_USE = 0x91
    PACKET_IDENTIFIER_NOT_FOUND = 0x92
    RECEIVE_MAXIMUM_EXCEEDED = 0x93
    TOPIC_ALIAS_INVALID = 0x94
    PACKET_TOO_LARGE = 0x95
    MESSAGE_RATE_TOO_HIGH = 0x96
    QUOTA_EXCEEDED = 0x97
    ADMINISTRATIVE_ACTION = 0x98
    PAYLOAD_FORMAT_INVALID = 0x99
    RETAIN_NOT_SUPPORTED = 0x9A
    QOS_NOT_SUPPORTED = 0x9B
    USE_ANOTHER_SERVER = 0x9C
    SERVER_MOVED = 0x9D
    SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9E
    CONNECTION_RATE_EXCEEDED = 0x9F
    MAXIMUM_CONNECT_TIME = 0xA0
    SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED = 0xA1
    WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED = 0xA2

    @property
    def is_error(self) -> bool:
        """True for failure codes (0x80 and above), as section 2.4 defines them."""
        return self.value >= 0x80


RC = ReasonCode

#: Reason codes the v5 spec allows in each packet (sections 3.2.2.2, 3.4.2.1, 3.5.2.1, 3.6.2.1,
#: 3.7.2.1, 3.9.3, 3.11.3, 3.14.2.1, 3.15.2.1). Keys are packet type numbers.
CONNACK_CODES: frozenset[ReasonCode] = frozenset(
    {
        RC.SUCCESS,
        RC.UNSPECIFIED_ERROR,
        RC.MALFORMED_PACKET,
        RC.PROTOCOL_ERROR,
        RC.IMPLEMENTATION_SPECIFIC_ERROR,
        RC.UNSUPPORTED_PROTOCOL_VERSION,
        RC.CLIENT_IDENTIFIER_NOT_VALID,
        RC.BAD_USER_NAME_OR_PASSWORD,
        RC.NOT_AUTHORIZED,
        RC.SERVER_UNAVAILABLE,
        RC.SERVER_BUSY,
        RC.BANNED,
        RC.BAD_AUTHENTICATION_METHOD,
        RC.TOPIC_NAME_INVALID,
        RC.PACKET_TOO_LARGE,
        RC.QUOTA_EXCEEDED,
        RC.PAYLOAD_FORMAT_INVALID,
        RC.RETAIN_NOT_SUPPORTED,
        RC.QOS_NOT_SUPPORTED,
        RC.USE_ANOTHER_SERVER,
        RC.SERVER_MOVED,
        RC.CONNECTION_RATE_EXCEEDED,
    }
)
PUBACK_CODES: frozenset[ReasonCode] = frozenset(
    {
        RC.SUCCESS,
        RC.NO_MATCHING_SUBSCRIBERS,
        RC.UNSPECIFIED_ERROR,
        RC.IMPLEMENTATION_SPECIFIC_ERROR,
        RC.NOT_AUTHORIZED,
        RC.TOPIC_NAME_INVALID,
        RC.PACKET_IDENTIFIER_IN_USE,
        RC.QUOTA_EXCEEDED,
        RC.PAYLOAD_FORMAT_INVALID,
    }
)
PUBREC_CODES = PUBACK_CODES
PUBREL_CODES: frozenset[ReasonCode] = frozenset({RC.SUCCESS, RC.PACKET_IDENTIFIER_NOT_FOUND})
PUBCOMP_CODES = PUBREL_CODES
SUBACK_CODES: frozenset[ReasonCode] = frozenset(
    {
        RC.GRANTED_QOS_0,
        RC.GRANTED_QOS_1,
        RC.GRANTED_QOS_2,
        RC.UNSPECIFIED_ERROR,
        RC.IMPLEMENTATION_SPECIFIC_ERROR,
        RC.NOT_AUTHORIZED,
        RC.TOPIC_FILTER_INVALID,
        RC.PACKET_IDENTIFIER_IN_USE,
        RC.QUOTA_EXCEEDED,
        RC.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED,
        RC.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED,
        RC.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED,
    }
)
UNSUBACK_CODES: frozenset[ReasonCode] = frozenset(
    {
        RC.SUCCESS,
        RC.NO_SUBSCRIPTION_EXISTED,
        RC.UNSPECIFIED_ERROR,
        RC.IMPLEMENTATION_SPECIFIC_ERROR,
        RC.NOT_AUTHORIZED,
        RC.TOPIC_FILTER_INVALID,
        RC.PACKET_IDENTIFIER_IN_USE,
    }
)
DISCONNECT_CODES: frozenset[ReasonCode] = frozenset(
    {
        RC.NORMAL_DISCONNECTION,
        RC.DISCONNECT_WITH_WILL_MESSAGE,
        RC.UNSPECIFIED_ERROR,
        RC.MALFORMED_PACKET,
        RC.PROTOCOL_ERROR,
        RC.IMPLEMENTATION_SPECIFIC_ERROR,
        RC.NOT_AUTHORIZED,
        RC.SERVER_BUSY,
        RC.SERVER_SHUTTING_DOWN,
        RC.KEEP_ALIVE_TIMEOUT,
        RC.SESSION_TAKEN_OVER,
        RC.TOPIC_FILTER_INVALID,
        RC.TOPIC_NAME_INVALID,
        RC.RECEIVE_MAXIMUM_EXCEEDED,
        RC.TOPIC_ALIAS_INVALID,
        RC.PACKET_TOO_LARGE,
        RC.MESSAGE_RATE_TOO_HIGH,
        RC.QUOTA_EXCEEDED,
        RC.ADMINISTRATIVE_ACTION,
        RC.PAYLOAD_FORMAT_INVALID,
        RC.RETAIN_NOT_SUPPORTED,
        RC.QOS_NOT_SUPPORTED,
        RC.USE_ANOTHER_SERVER,
        RC.SERVER_MOVED,
        RC.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED,
        RC.CONNECTION_RATE_EXCEEDED,
        RC.MAXIMUM_CONNECT_TIME,
        RC.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED,
        RC.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED,
    }
)
AUTH_CODES: frozenset[ReasonCode] = frozenset({RC.SUCCESS, RC.CONTINUE_AUTHENTICATION, RC.RE_AUTHENTICATE})

#: Lookup from wire byte to member; faster than calling `ReasonCode(x)` on the hot path.
BY_VALUE: dict[int, ReasonCode] = {int(rc): rc for rc in ReasonCode}


# --- MQTT 3.1.1 CONNACK return codes (section 3.2.2.3 of the 3.1.1 spec) ------------------------

V3_CONNACK_ACCEPTED = 0x00
V3_CONNACK_UNACCEPTABLE_PROTOCOL_VERSION = 0x01
V3_CONNACK_IDENTIFIER_REJECTED = 0x02
V3_CONNACK_SERVER_UNAVAILABLE = 0x03
V3_CONNACK_BAD_USER_NAME_OR_PASSWORD = 0x04
V3_CONNACK_NOT_AUTHORIZED = 0x05

_FROM_V3_CONNACK: dict[int, ReasonCode] = {
    V3_CONNACK_ACCEPTED: RC.SUCCESS,
    V3_CONNACK_UNACCEPTABLE_PROTOCOL_VERSION: RC.UNSUPPORTED_PROTOCOL_VERSION,
    V3_CONNACK_IDENTIFIER_REJECTED: RC.CLIENT_IDENTIFIER_NOT_VALID,
    V3_CONNACK_SERVER_UNAVAILABLE: RC.SERVER_UNAVAILABLE,
    V3_CONNACK_BAD_USER_NAME_OR_PASSWORD: RC.BAD_USER_NAME_OR_PASSWORD,
    V3_CONNACK_NOT_AUTHORIZED: RC.NOT_AUTHORIZED,
}
# Same grouping as emqx `emqx_reason_codes:compat(connack, _)`: credential failures become 4,
# policy refusals become 5, everything else that is not "bad version/id" becomes 3.
_TO_V3_CONNACK: dict[ReasonCode, int] = {
    RC.SUCCESS: V3_CONNACK_ACCEPTED,
    RC.UNSUPPORTED_PROTOCOL_VERSION: V3_CONNACK_UNACCEPTABLE_PROTOCOL_VERSION,
    RC.CLIENT_IDENTIFIER_NOT_VALID: V3_CONNACK_IDENTIFIER_REJECTED,
    RC.BAD_USER_NAME_OR_PASSWORD: V3_CONNACK_BAD_USER_NAME_OR_PASSWORD,
    RC.BAD_AUTHENTICATION_METHOD: V3_CONNACK_BAD_USER_NAME_OR_PASSWORD,
    RC.NOT_AUTHORIZED: V3_CONNACK_NOT_AUTHORIZED,
    RC.BANNED: V3_CONNACK_NOT_AUTHORIZED,
}


# Keyed by plain int: looking an IntEnum member up hashes it through `Enum.__hash__`, a Python call
_TO_V3_CONNACK_BY_VALUE: dict[int, int] = {int(rc): v3 for rc, v3 in _TO_V3_CONNACK.items()}


def to_v3_connack(code: ReasonCode) -> int:
    """Map a v5 CONNACK reason code to the closest v3.1.1 return code (0..5)."""
    return _TO_V3_CONNACK_BY_VALUE.get(int(code), V3_CONNACK_SERVER_UNAVAILABLE)


def from_v3_connack(return_code: int) -> ReasonCode:
    """Map a v3.1.1 CONNACK return code to a ReasonCode.

    Raises:
        ValueError: the byte is not one of the six v3.1.1 return codes (the decoder turns this
            into MalformedPacket).
    """
    try:
        return _FROM_V3_CONNACK[return_code]
    except KeyError:
        raise ValueError(f"invalid MQTT 3.1.1 CONNACK return code {return_code:#04x}") from None


# --- MQTT 3.1.1 SUBACK return codes (section 3.9.3 of the 3.1.1 spec) ---------------------------

V3_SUBACK_FAILURE = 0x80


def to_v3_suback(code: ReasonCode) -> int:
    """Map a v5 SUBACK reason code to v3.1.1: granted QoS stays, every failure becomes 0x80."""
    value = int(code)
    return value if value <= 2 else V3_SUBACK_FAILURE


def from_v3_suback(return_code: int) -> ReasonCode:
    """Map a v3.1.1 SUBACK return code (0, 1, 2 or 0x80) to a ReasonCode.

    Raises:
        ValueError: any other byte [MQTT-3.9.3-2] (the decoder turns this into MalformedPacket).
    """
    if return_code <= 2:
        return BY_VALUE[return_code]
    if return_code == V3_SUBACK_FAILURE:
        return RC.UNSPECIFIED_ERROR
    raise ValueError(f"invalid MQTT 3.1.1 SUBACK return code {return_code:#04x}")
