"""The cluster's wire format: forwarded messages in a compact binary form, control messages in JSON.

A forward batch (one NATS message to one node's inbox) is a sequence of frames:
`tenant (u16 len + UTF-8) | group count (u8) | groups (name, filter: u16 len + UTF-8 each) |
message (u32 len + bytes)`. A message is `id (16) | flags (u8) | timestamp (f64) | topic (u16 len) |
payload (u32 len) | [publisher (u16 len)] | [properties]`, flags: QoS (bits 0-1), retain (2), has
publisher (3), has properties (4). Properties: a presence byte, then expiry (f64), payload format
(u8), content type, response topic (u16 len each), correlation data (u32 len), user properties
(u16 count, then name/value pairs) for the bits set. Rule: `decode(encode(m)) == m`, and malformed
input raises `ValueError` only.
"""

import struct

from mqttcloud.broker.message import Message

_HEAD = struct.Struct("!16sBd")
_U8 = struct.Struct("!B")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_F64 = struct.Struct("!d")

_RETAIN, _PUBLISHER, _PROPS = 0x04, 0x08, 0x10
_EXPIRY, _FORMAT, _CTYPE, _RESPONSE, _CORRELATION, _USER = 1, 2, 4, 8, 16, 32

GroupKey = tuple[str, str]
Frame = tuple[str, tuple[GroupKey, ...], Message]


def _str(s: str) -> bytes:
    raw = s.encode()
    return _U16.pack(len(raw)) + raw


def encode_message(msg: Message) -> bytes:
    flags = msg.qos | (_RETAIN if msg.retain else 0)
    parts = [
        b"",
        _U16.pack(len(msg.topic.encode())),
        msg.topic.encode(),
        _U32.pack(len(msg.payload)),
        msg.payload,
    ]
    if msg.publisher is not None:
        flags |= _PUBLISHER
        parts.append(_str(msg.publisher))
    props = _properties(msg)
    if props:
        flags |= _PROPS
        parts.append(props)
    parts[0] = _HEAD.pack(msg.id, flags, msg.timestamp)
    return b"".join(parts)


def _properties(msg: Message) -> bytes:
    present = 0
    parts: list[bytes] = []
    if msg.expires_at is not None:
        present |= _EXPIRY
        parts.append(_F64.pack(msg.expires_at))
    if msg.payload_format_indicator is not None:
        present |= _FORMAT
        parts.append(_U8.pack(msg.payload_format_indicator))
    if msg.content_type is not None:
        present |= _CTYPE
        parts.append(_str(msg.content_type))
    if msg.response_topic is not None:
        present |= _RESPONSE
        parts.append(_str(msg.response_topic))
    if msg.correlation_data is not None:
        present |= _CORRELATION
        parts.append(_U32.pack(len(msg.correlation_data)) + msg.correlation_data)
    if msg.user_properties:
        present |= _USER
        parts.append(_U16.pack(len(msg.user_properties)))
        parts.extend(_str(k) + _str(v) for k, v in msg.user_properties)
    return _U8.pack(present) + b"".join(parts) if present else b""


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise ValueError("truncated cluster frame")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def u8(self) -> int:
        value: int = _U8.unpack(self.take(1))[0]
        return value

    def u16(self) -> int:
        value: int = _U16.unpack(self.take(2))[0]
        return value

    def u32(self) -> int:
        value: int = _U32.unpack(self.take(4))[0]
        return value

    def f64(self) -> float:
        value: float = _F64.unpack(self.take(8))[0]
        return value

    def str(self) -> str:
        try:
            return self.take(self.u16()).decode()
        except UnicodeDecodeError as exc:
            raise ValueError(f"bad UTF-8 in cluster frame: {exc}") from None

    @property
    def done(self) -> bool:
        return self.pos >= len(self.data)


def _read_message(r: _Reader) -> Message:
    mid, flags, timestamp = _HEAD.unpack(r.take(_HEAD.size))
    topic = r.str()
    payload = r.take(r.u32())
    publisher = r.str() if flags & _PUBLISHER else None
    msg = Message(mid, topic, payload, flags & 3, bool(flags & _RETAIN), publisher, timestamp)
    if flags & _PROPS:
        present = r.u8()
        if present & _EXPIRY:
            msg.expires_at = r.f64()
        if present & _FORMAT:
            msg.payload_format_indicator = r.u8()
        if present & _CTYPE:
            msg.content_type = r.str()
        if present & _RESPONSE:
            msg.response_topic = r.str()
        if present & _CORRELATION:
            msg.correlation_data = r.take(r.u32())
        if present & _USER:
            msg.user_properties = tuple((r.str(), r.str()) for _ in range(r.u16()))
    return msg


def decode_message(data: bytes) -> Message:
    r = _Reader(data)
    msg = _read_message(r)
    if not r.done:
        raise ValueError("trailing bytes after a cluster message")
    return msg


def encode_frame(tenant: str, groups: tuple[GroupKey, ...], msg: Message) -> bytes:
    body = encode_message(msg)
    head = [_str(tenant), _U8.pack(len(groups))]
    head.extend(_str(name) + _str(flt) for name, flt in groups)
    return b"".join(head) + _U32.pack(len(body)) + body


def decode_frames(data: bytes) -> list[Frame]:
    """Every frame of one forward batch. Raises ValueError on malformed input."""
    r = _Reader(data)
    frames: list[Frame] = []
    while not r.done:
        tenant = r.str()
        groups = tuple((r.str(), r.str()) for _ in range(r.u8()))
        body = _Reader(r.take(r.u32()))
        msg = _read_message(body)
        if not body.done:
            raise ValueError("trailing bytes after a cluster message")
        frames.append((tenant, groups, msg))
    return frames
