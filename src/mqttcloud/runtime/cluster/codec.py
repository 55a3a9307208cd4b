"""The cluster's wire format: forwarded messages in a compact binary form, control messages in JSON.

A forward batch (one NATS message to one node's inbox) is `version (u8 = 1)` then runs of one tenant:
`tenant (u16 len + UTF-8) | count (u32) | count forwards`. A forward is one fixed head
`id (16) | flags (u8) | timestamp (f64) | topic len (u16) | publisher len (u16) | payload len (u32) |
group count (u8)`, then topic, publisher, payload, the groups (name, filter: u16 len + UTF-8 each) and,
when flag bit 4 is set, the properties. A stored message (`encode_message`, the retained and session
stores) is `id (16) | flags (u8) | timestamp (f64) | topic (u16 len) | payload (u32 len) |
[publisher (u16 len)] | [properties]`. Flags: QoS (bits 0-1), retain (2), has publisher (3), has
properties (4). Properties: a presence byte, then expiry (f64), payload format (u8), content type,
response topic (u16 len each), correlation data (u32 len), user properties (u16 count, then name/value
pairs) for the bits set. Rule: `decode(encode(m)) == m`, and malformed input raises `ValueError` only.
"""

import struct
from collections.abc import Sequence

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
#: One tenant's forwards in a batch, in order: (tenant, [(groups, message), ...]).
Run = tuple[str, list[tuple[tuple[GroupKey, ...], Message]]]

BATCH_VERSION = 1
_VERSION = bytes([BATCH_VERSION])
#: id, flags, timestamp, topic length, publisher length, payload length, group count
_FORWARD = struct.Struct("!16sBdHHIB")


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
        _read_properties(r, msg)
    return msg


def _read_properties(r: _Reader, msg: Message) -> None:
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


def decode_message(data: bytes) -> Message:
    r = _Reader(data)
    msg = _read_message(r)
    if not r.done:
        raise ValueError("trailing bytes after a cluster message")
    return msg


def encode_batches(frames: Sequence[Frame], limit: int) -> list[bytes]:
    """The forward batches for one node, each at most `limit` bytes unless one forward alone is larger.

    Consecutive frames of one tenant share a run (the tenant is written once per run).
    """
    batches: list[bytes] = []
    parts: list[bytes] = [_VERSION]
    size = 1
    tenant: str | None = None
    count_at = count = 0
    pack = _FORWARD.pack
    for tenant_id, groups, msg in frames:
        topic = msg.topic.encode()
        publisher = msg.publisher
        pub = b"" if publisher is None else publisher.encode()
        payload = msg.payload
        flags = msg.qos
        if msg.retain:
            flags |= _RETAIN
        if publisher is not None:
            flags |= _PUBLISHER
        props = (
            _properties(msg)
            if msg.expires_at is not None
            or msg.payload_format_indicator is not None
            or msg.content_type is not None
            or msg.response_topic is not None
            or msg.correlation_data is not None
            or msg.user_properties
            else b""
        )
        if props:
            flags |= _PROPS
        head = pack(msg.id, flags, msg.timestamp, len(topic), len(pub), len(payload), len(groups))
        extra = b"".join(_str(name) + _str(flt) for name, flt in groups) + props if groups or props else b""
        n = _FORWARD.size + len(topic) + len(pub) + len(payload) + len(extra)
        if count and size + n > limit:  # close this batch, the frame opens the next one
            parts[count_at] = _U32.pack(count)
            batches.append(b"".join(parts))
            parts, size, tenant = [_VERSION], 1, None
        if tenant_id != tenant:
            if tenant is not None:
                parts[count_at] = _U32.pack(count)
            tenant = tenant_id
            name = _str(tenant_id)
            parts.append(name)
            count_at, count = len(parts), 0
            parts.append(b"")
            size += len(name) + 4
        parts += (head, topic, pub, payload, extra)
        size += n
        count += 1
    if tenant is not None:
        parts[count_at] = _U32.pack(count)
        batches.append(b"".join(parts))
    return batches


def decode_batch(data: bytes) -> list[Run]:
    """Every forward of one batch, by runs of one tenant. Raises ValueError on malformed input."""
    if not data or data[0] != BATCH_VERSION:
        raise ValueError("not a version 1 cluster forward batch")
    end = len(data)
    pos = 1
    runs: list[Run] = []
    unpack_head = _FORWARD.unpack_from
    head_size = _FORWARD.size
    u16 = _U16.unpack_from
    try:
        while pos < end:
            (n,) = u16(data, pos)
            pos += 2 + n
            tenant = data[pos - n : pos].decode()
            (count,) = _U32.unpack_from(data, pos)
            pos += 4
            items: list[tuple[tuple[GroupKey, ...], Message]] = []
            for _ in range(count):
                mid, flags, timestamp, tlen, plen, ylen, ngroups = unpack_head(data, pos)
                pos += head_size + tlen
                topic = data[pos - tlen : pos].decode()
                pos += plen
                publisher = data[pos - plen : pos].decode() if flags & _PUBLISHER else None
                pos += ylen
                payload = data[pos - ylen : pos]
                if pos > end:
                    raise ValueError("truncated cluster forward")
                groups: tuple[GroupKey, ...] = ()
                if ngroups:
                    r = _Reader(data)
                    r.pos = pos
                    groups = tuple((r.str(), r.str()) for _ in range(ngroups))
                    pos = r.pos
                msg = Message(mid, topic, payload, flags & 3, bool(flags & _RETAIN), publisher, timestamp)
                if flags & _PROPS:
                    r = _Reader(data)
                    r.pos = pos
                    _read_properties(r, msg)
                    pos = r.pos
                items.append((groups, msg))
            runs.append((tenant, items))
    except struct.error:
        raise ValueError("truncated cluster forward batch") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"bad UTF-8 in cluster forward batch: {exc}") from None
    if pos != end:
        raise ValueError("truncated cluster forward batch")
    return runs
