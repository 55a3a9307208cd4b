"""Durability records: what the runtime must write (and fsync) so state survives restart and kill -9.

The core emits records inside `Persist` actions (see `actions` rule 1: a batch's records are durable
before its sends go out, so a PUBACK/PUBREC is never sent for a message a persistent session could
still lose). The runtime appends them to a log with `encode_record` and, at start, feeds the decoded
records back in order to `Broker.restore(records, now)`.

Rules:
- Only persistent sessions (clean start false or session expiry > 0, see `Session.is_persistent`)
  produce session/subscription/queue records; retained messages are always recorded.
- Records are idempotent in order: replaying a prefix of the log gives a consistent (older) state.
- The byte form is a small tagged binary codec (stdlib only, no pickle): `encode_record(r) -> bytes`,
  `decode_record(b) -> Record`, which raises only `CorruptRecordError`.
"""

import struct
from dataclasses import dataclass

from mqttcloud.broker.message import Message


class CorruptRecordError(ValueError):
    """A stored record cannot be decoded (torn write, foreign file)."""


@dataclass(frozen=True, slots=True)
class SessionUpserted:
    """A persistent session exists with these settings. `disconnected_at` None = connected."""

    clientid: str
    expiry_interval: int
    created_at: float
    disconnected_at: float | None
    proto_ver: int
    username: str | None


@dataclass(frozen=True, slots=True)
class SessionDeleted:
    clientid: str


@dataclass(frozen=True, slots=True)
class SubscriptionAdded:
    clientid: str
    topic_filter: str  # as subscribed, including "$share/group/"
    qos: int
    no_local: bool
    retain_as_published: bool
    retain_handling: int
    subscription_id: int | None


@dataclass(frozen=True, slots=True)
class SubscriptionRemoved:
    clientid: str
    topic_filter: str


@dataclass(frozen=True, slots=True)
class MessageQueued:
    """`message` was queued (or sent in flight) to a persistent session at granted `qos`."""

    clientid: str
    qos: int
    message: Message
    subscription_ids: tuple[int, ...] = ()
    retain: bool = False  # the RETAIN flag this delivery carries


@dataclass(frozen=True, slots=True)
class MessageAcked:
    """The message left the session: acknowledged (PUBACK/PUBCOMP), expired or dropped."""

    clientid: str
    message_id: bytes


@dataclass(frozen=True, slots=True)
class MessageReleased:
    """The client answered PUBREC for this QoS 2 message (sent with `packet_id`): after a restart the
    broker owes it a PUBREL with that id, not the PUBLISH again (exactly once across restarts)."""

    clientid: str
    message_id: bytes
    packet_id: int


@dataclass(frozen=True, slots=True)
class MessageSent:
    """The message went to the client with `packet_id` and is not yet acknowledged (QoS 1, or QoS 2
    before PUBREC). Only a session's hand-over between cluster nodes carries it, so the node the session
    moves to resends it with that id and DUP=1 [MQTT-4.4.0-1]; the durable log never holds it (after a
    restart in-flight messages are queued again)."""

    clientid: str
    message_id: bytes
    packet_id: int


@dataclass(frozen=True, slots=True)
class InboundQos2Received:
    """The client's QoS 2 PUBLISH with `packet_id` was routed at `at` and awaits its PUBREL (session
    state the server keeps, spec 4.1): after a restart a re-sent PUBLISH with this id is not routed
    again, and its PUBREL is answered with PUBCOMP 0x00."""

    clientid: str
    packet_id: int
    at: float


@dataclass(frozen=True, slots=True)
class InboundQos2Released:
    """PUBREL for `packet_id` arrived: the id is free for a new message."""

    clientid: str
    packet_id: int


@dataclass(frozen=True, slots=True)
class WillScheduled:
    """A disconnected persistent session's will, due at `due` (v5 Will Delay [MQTT-3.1.3-9]), with
    the identity its publish is authorized as. Kept across restarts until published or dropped."""

    clientid: str
    message: Message
    due: float
    username: str | None
    is_superuser: bool
    listener: str
    ip_address: str
    port: int
    peersni: str | None
    cn: str | None
    dn: str | None


@dataclass(frozen=True, slots=True)
class WillDone:
    """The scheduled will was published, or dropped because the client came back in time."""

    clientid: str


@dataclass(frozen=True, slots=True)
class RetainedSet:
    message: Message


@dataclass(frozen=True, slots=True)
class RetainedDeleted:
    topic: str


Record = (
    SessionUpserted
    | SessionDeleted
    | SubscriptionAdded
    | SubscriptionRemoved
    | MessageQueued
    | MessageAcked
    | MessageReleased
    | MessageSent
    | InboundQos2Received
    | InboundQos2Released
    | WillScheduled
    | WillDone
    | RetainedSet
    | RetainedDeleted
)

# ---------------------------------------------------------------------------------------------------
# Tuple form
# ---------------------------------------------------------------------------------------------------

Value = None | bool | int | float | str | bytes | tuple["Value", ...]


def message_to_tuple(m: Message) -> tuple[Value, ...]:
    return (
        m.id,
        m.topic,
        m.payload,
        m.qos,
        m.retain,
        m.publisher,
        m.timestamp,
        m.expires_at,
        m.payload_format_indicator,
        m.content_type,
        m.response_topic,
        m.correlation_data,
        tuple((k, v) for k, v in m.user_properties),
    )


def _t(v: Value) -> tuple[Value, ...]:
    if not isinstance(v, tuple):
        raise CorruptRecordError("expected a tuple")
    return v


def _s(v: Value) -> str:
    if not isinstance(v, str):
        raise CorruptRecordError("expected a string")
    return v


def _os(v: Value) -> str | None:
    return None if v is None else _s(v)


def _b(v: Value) -> bytes:
    if not isinstance(v, bytes):
        raise CorruptRecordError("expected bytes")
    return v


def _i(v: Value) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise CorruptRecordError("expected an int")
    return v


def _oi(v: Value) -> int | None:
    return None if v is None else _i(v)


def _f(v: Value) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise CorruptRecordError("expected a number")
    return float(v)


def _of(v: Value) -> float | None:
    return None if v is None else _f(v)


def _bool(v: Value) -> bool:
    if not isinstance(v, bool):
        raise CorruptRecordError("expected a bool")
    return v


def message_from_tuple(v: Value) -> Message:
    t = _t(v)
    if len(t) != 13:
        raise CorruptRecordError("bad message arity")
    ups = tuple((_s(_t(p)[0]), _s(_t(p)[1])) for p in _t(t[12]) if len(_t(p)) == 2)
    return Message(
        id=_b(t[0]),
        topic=_s(t[1]),
        payload=_b(t[2]),
        qos=_i(t[3]),
        retain=_bool(t[4]),
        publisher=_os(t[5]),
        timestamp=_f(t[6]),
        expires_at=_of(t[7]),
        payload_format_indicator=_oi(t[8]),
        content_type=_os(t[9]),
        response_topic=_os(t[10]),
        correlation_data=None if t[11] is None else _b(t[11]),
        user_properties=ups,
    )


def record_to_tuple(r: Record) -> tuple[Value, ...]:
    """The compact tuple form: (tag, fields...)."""
    match r:
        case SessionUpserted():
            return (
                1,
                r.clientid,
                r.expiry_interval,
                r.created_at,
                r.disconnected_at,
                r.proto_ver,
                r.username,
            )
        case SessionDeleted():
            return (2, r.clientid)
        case SubscriptionAdded():
            return (
                3,
                r.clientid,
                r.topic_filter,
                r.qos,
                r.no_local,
                r.retain_as_published,
                r.retain_handling,
                r.subscription_id,
            )
        case SubscriptionRemoved():
            return (4, r.clientid, r.topic_filter)
        case MessageQueued():
            return (5, r.clientid, r.qos, message_to_tuple(r.message), r.subscription_ids, r.retain)
        case MessageAcked():
            return (6, r.clientid, r.message_id)
        case MessageReleased():
            return (9, r.clientid, r.message_id, r.packet_id)
        case MessageSent():
            return (14, r.clientid, r.message_id, r.packet_id)
        case InboundQos2Received():
            return (10, r.clientid, r.packet_id, r.at)
        case InboundQos2Released():
            return (11, r.clientid, r.packet_id)
        case WillScheduled():
            return (
                12, r.clientid, message_to_tuple(r.message), r.due, r.username, r.is_superuser,
                r.listener, r.ip_address, r.port, r.peersni, r.cn, r.dn,
            )  # fmt: skip
        case WillDone():
            return (13, r.clientid)
        case RetainedSet():
            return (7, message_to_tuple(r.message))
        case RetainedDeleted():
            return (8, r.topic)


def record_from_tuple(t: tuple[Value, ...]) -> Record:
    try:
        match t:
            case (1, cid, exp, created, disc, ver, user):
                return SessionUpserted(_s(cid), _i(exp), _f(created), _of(disc), _i(ver), _os(user))
            case (2, cid):
                return SessionDeleted(_s(cid))
            case (3, cid, flt, qos, nl, rap, rh, sid):
                return SubscriptionAdded(_s(cid), _s(flt), _i(qos), _bool(nl), _bool(rap), _i(rh), _oi(sid))
            case (4, cid, flt):
                return SubscriptionRemoved(_s(cid), _s(flt))
            case (5, cid, qos, msg, sids, retain):
                return MessageQueued(
                    _s(cid), _i(qos), message_from_tuple(msg), tuple(_i(x) for x in _t(sids)), _bool(retain)
                )
            case (6, cid, mid):
                return MessageAcked(_s(cid), _b(mid))
            case (7, msg):
                return RetainedSet(message_from_tuple(msg))
            case (8, topic):
                return RetainedDeleted(_s(topic))
            case (9, cid, mid, pid):
                return MessageReleased(_s(cid), _b(mid), _i(pid))
            case (14, cid, mid, pid):
                return MessageSent(_s(cid), _b(mid), _i(pid))
            case (10, cid, pid, at):
                return InboundQos2Received(_s(cid), _i(pid), _f(at))
            case (11, cid, pid):
                return InboundQos2Released(_s(cid), _i(pid))
            case (12, cid, msg, due, user, superuser, listener, ip, port, sni, cn, dn):
                return WillScheduled(
                    _s(cid), message_from_tuple(msg), _f(due), _os(user), _bool(superuser),
                    _s(listener), _s(ip), _i(port), _os(sni), _os(cn), _os(dn),
                )  # fmt: skip
            case (13, cid):
                return WillDone(_s(cid))
    except IndexError as exc:
        raise CorruptRecordError("bad tuple") from exc
    raise CorruptRecordError(f"unknown record {t[:1]!r}")


# ---------------------------------------------------------------------------------------------------
# Byte form: one tag byte per value. N none, T/F bool, i int64, I big int (text), d float64,
# s utf-8 string (u32 length), b bytes (u32 length), t tuple (u32 count).
# ---------------------------------------------------------------------------------------------------

_U32 = struct.Struct(">I")
_I64 = struct.Struct(">q")
_F64 = struct.Struct(">d")


def _enc(v: Value, out: bytearray) -> None:
    if v is None:
        out += b"N"
    elif v is True:
        out += b"T"
    elif v is False:
        out += b"F"
    elif isinstance(v, int):
        if -(2**63) <= v < 2**63:
            out += b"i" + _I64.pack(v)
        else:
            raw = str(v).encode()
            out += b"I" + _U32.pack(len(raw)) + raw
    elif isinstance(v, float):
        out += b"d" + _F64.pack(v)
    elif isinstance(v, str):
        raw = v.encode()
        out += b"s" + _U32.pack(len(raw)) + raw
    elif isinstance(v, bytes):
        out += b"b" + _U32.pack(len(v)) + v
    else:
        out += b"t" + _U32.pack(len(v))
        for item in v:
            _enc(item, out)


def _dec(data: memoryview, pos: int, depth: int) -> tuple[Value, int]:
    if depth > 8:
        raise CorruptRecordError("nested too deep")
    try:
        tag = data[pos]
        pos += 1
        if tag == 0x4E:  # N
            return None, pos
        if tag == 0x54:  # T
            return True, pos
        if tag == 0x46:  # F
            return False, pos
        if tag == 0x69:  # i
            return _I64.unpack_from(data, pos)[0], pos + 8
        if tag == 0x64:  # d
            return _F64.unpack_from(data, pos)[0], pos + 8
        if tag in (0x49, 0x73, 0x62, 0x74):  # I s b t
            (n,) = _U32.unpack_from(data, pos)
            pos += 4
            if tag == 0x74:
                items: list[Value] = []
                for _ in range(n):
                    item, pos = _dec(data, pos, depth + 1)
                    items.append(item)
                return tuple(items), pos
            if pos + n > len(data):
                raise CorruptRecordError("truncated")
            raw = bytes(data[pos : pos + n])
            pos += n
            if tag == 0x62:
                return raw, pos
            text = raw.decode()
            return (int(text) if tag == 0x49 else text), pos
    except (IndexError, struct.error, UnicodeDecodeError, ValueError) as exc:
        raise CorruptRecordError(str(exc)) from exc
    raise CorruptRecordError(f"bad tag {tag:#x}")


def encode_record(r: Record) -> bytes:
    out = bytearray()
    _enc(record_to_tuple(r), out)
    return bytes(out)


def decode_record(data: bytes) -> Record:
    """Decode one record written by `encode_record`. Raises only `CorruptRecordError`."""
    value, pos = _dec(memoryview(data), 0, 0)
    if pos != len(data):
        raise CorruptRecordError("trailing bytes")
    return record_from_tuple(_t(value))
