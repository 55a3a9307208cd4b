"""The two exceptions the protocol layer raises, each carrying the ReasonCode to send.

Rule: decoders and the framer raise only `MalformedPacket` or `ProtocolError`; any other
exception escaping `protocol/` is a bug. The runtime turns these into wire responses in one
place (DISCONNECT for v5, a bare close for v3.1.1, CONNACK before the connection is accepted).
"""

from typing import ClassVar

from mqttcloud.protocol.reason_codes import ReasonCode


class MQTTError(Exception):
    """Base class: an MQTT-level failure with the reason code the peer should be told.

    Attributes:
        reason_code: the v5 reason code to put in the CONNACK/DISCONNECT (the v3.1.1 encoder maps
            it with `reason_codes.to_v3_connack` where a v3.1.1 answer exists).
        protocol_level: the protocol level of the CONNECT being decoded when the error happened,
            if it was already known (4 or 5, or the unsupported number the client sent). Lets the
            runtime answer a bad CONNECT with a CONNACK in the client's own format.
    """

    # ClassVar: without it mypyc makes an instance attribute that subclasses cannot override.
    default_reason_code: ClassVar[ReasonCode] = ReasonCode.UNSPECIFIED_ERROR

    def __init__(
        self,
        message: str,
        reason_code: ReasonCode | None = None,
        *,
        protocol_level: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason_code: ReasonCode = self.default_reason_code if reason_code is None else reason_code
        self.protocol_level = protocol_level

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, {self.reason_code.name})"


class MalformedPacket(MQTTError):  # noqa: N818  # the spec's name for reason 0x81
    """The bytes cannot be parsed as the packet they claim to be (spec 1.2, reason 0x81)."""

    default_reason_code: ClassVar[ReasonCode] = ReasonCode.MALFORMED_PACKET


class ProtocolError(MQTTError):
    """The bytes parse, but the packet breaks a protocol rule (reason 0x82 unless more specific).

    Examples: unsupported protocol level (0x84), oversized packet (0x95), wildcard in a topic
    name (0x90), a property that is not allowed in this packet (0x82).
    """

    default_reason_code: ClassVar[ReasonCode] = ReasonCode.PROTOCOL_ERROR
