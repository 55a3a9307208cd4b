"""What the session registry (`sessions`) keeps in NATS: entries, packed records, offline frames.

An `Entry` is the JSON value of one (tenant, client id) key of the bucket `mqc_<cluster>_sessions`:
node, online, checkpoint, the session's durable records and its will, packed with `pack_records`. An
offline frame is one message of the stream `mqc_<cluster>_offline`: the client ids it is for (a JSON
line), then the cluster codec's message bytes. `replayed_records` turns frames back into a session's
queue records; `merge_stored` puts them among a moved session's own, in the stream's order.

Rule: decoding never raises on foreign or broken values: an entry that does not decode is None, a
frame that does not decode is skipped.
"""

import base64
import binascii
import dataclasses
import json
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mqttcloud.broker import persistence
from mqttcloud.broker.durability import (
    CorruptRecordError,
    MessageQueued,
    Record,
    SessionUpserted,
    SubscriptionAdded,
    WillScheduled,
    decode_record,
    encode_record,
)
from mqttcloud.broker.subscriptions import Subscription, split_share
from mqttcloud.protocol.topics import match
from mqttcloud.runtime.cluster.codec import decode_message

if TYPE_CHECKING:
    from mqttcloud.runtime.tenants import TenantRuntime

Key = tuple[str, str]  # (tenant id, client id)


def pack_records(records: Iterable[Record]) -> bytes:
    """Records as length-prefixed `encode_record` bytes."""
    parts: list[bytes] = []
    for r in records:
        data = encode_record(r)
        parts.append(struct.pack(">I", len(data)))
        parts.append(data)
    return b"".join(parts)


def unpack_records(data: bytes) -> list[Record]:
    """The inverse of `pack_records`; raises CorruptRecordError on a truncated or foreign blob."""
    records: list[Record] = []
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            raise CorruptRecordError("truncated record length")
        (n,) = struct.unpack_from(">I", data, pos)
        pos += 4
        if pos + n > len(data):
            raise CorruptRecordError("truncated record")
        records.append(decode_record(data[pos : pos + n]))
        pos += n
    return records


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(slots=True)
class Entry:
    """One client id as the cluster knows it (the bucket's value, JSON)."""

    node: str
    online: bool
    checkpoint: int  # offline stream sequence: later messages for this session are not in its queue
    session: bytes = b""  # packed SessionUpserted + SubscriptionAdded records; b"" when not persistent
    will: bytes = b""  # packed [WillScheduled]; b"" when there is none
    delay: int | None = None  # an online client's will delay; None: the will's `due` is absolute
    revision: int = 0  # the bucket's revision of this value (0: written here, not seen back yet)

    def encode(self) -> bytes:
        return json.dumps({
            "node": self.node, "online": self.online, "checkpoint": self.checkpoint,
            "session": _b64(self.session), "will": _b64(self.will), "delay": self.delay,
        }).encode()  # fmt: skip

    @classmethod
    def decode(cls, data: bytes, revision: int) -> "Entry | None":
        """None for a value that is not an entry (it is ignored, never fatal)."""
        try:
            body = json.loads(data)
            delay = body["delay"]
            entry = cls(
                node=str(body["node"]), online=bool(body["online"]), checkpoint=int(body["checkpoint"]),
                session=base64.b64decode(body["session"]), will=base64.b64decode(body["will"]),
                delay=None if delay is None else int(delay), revision=revision,
            )  # fmt: skip
            entry.records()
            entry.will_record()
        except (ValueError, KeyError, TypeError, binascii.Error):  # CorruptRecordError is a ValueError
            return None
        return entry

    def same(self, other: "Entry") -> bool:
        return dataclasses.replace(self, revision=0) == dataclasses.replace(other, revision=0)

    def records(self) -> list[Record]:
        return unpack_records(self.session)

    @property
    def is_persistent(self) -> bool:
        return bool(self.session)

    def session_record(self) -> SessionUpserted | None:
        """The session's settings (expiry, creation, disconnection); None when it is not persistent."""
        return next((r for r in self.records() if isinstance(r, SessionUpserted)), None)

    def expires_at(self) -> float | None:
        """When the session of an offline entry ends [MQTT-3.1.2-23]; None: online, never, or no session."""
        r = self.session_record()
        if self.online or r is None or r.disconnected_at is None or r.expiry_interval >= 0xFFFFFFFF:
            return None
        return r.disconnected_at + r.expiry_interval

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(r.clientid, r.topic_filter, r.qos, r.no_local, r.retain_as_published,
                         r.retain_handling, r.subscription_id, split_share(r.topic_filter)[0])
            for r in self.records()
            if isinstance(r, SubscriptionAdded)
        ]  # fmt: skip

    def will_record(self) -> WillScheduled | None:
        records = unpack_records(self.will)
        found = records[0] if records else None
        if found is not None and not isinstance(found, WillScheduled):
            raise CorruptRecordError("not a will")
        return found


def entry_key(tenant: str, clientid: str) -> str:
    return base64.urlsafe_b64encode(f"{tenant}\x00{clientid}".encode()).decode().rstrip("=")


def key_owner(key: str) -> Key:
    tenant, _, clientid = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4)).decode().partition("\x00")
    return tenant, clientid


def build_entry(tenant: "TenantRuntime", clientid: str, node: str, now: float) -> Entry | None:
    """What this node knows of `clientid` now; None when the cluster needs no entry for it."""
    broker = tenant.broker
    session = broker.sessions.get(clientid)
    chid = session.connected_channel if session is not None else None
    ch = broker.channels.get(chid) if chid is not None else None
    will = b""
    delay: int | None = None
    if ch is not None and ch.will is not None:
        w = ch.will
        msg = broker.make_message(
            w.topic, w.payload, qos=int(w.qos), retain=w.retain, properties=w.properties,
            publisher=clientid, now=now,
        )  # fmt: skip
        will = pack_records([persistence.will_record(clientid, 0.0, msg, ch.context)])
        delay = (w.properties.will_delay_interval or 0) if ch.version == 5 else 0
    elif clientid in broker.wills:
        due, msg, ctx = broker.wills[clientid]
        will = pack_records([persistence.will_record(clientid, due, msg, ctx)])
    state = b""
    if session is not None and session.is_persistent:
        records: list[Record] = [persistence.session_record(session)]
        records.extend(persistence.subscription_record(s) for s in session.subscriptions.values())
        state = pack_records(records)
    if not state and not will:
        return None
    return Entry(node, ch is not None, 0, state, will, delay)


def offline_frame(clientids: tuple[str, ...], payload: bytes) -> bytes:
    """A stored message: the client ids it is for (one JSON line), then the codec's message bytes."""
    return json.dumps(clientids).encode() + b"\n" + payload


def read_offline_frame(data: bytes) -> tuple[list[str], bytes]:
    head, sep, payload = data.partition(b"\n")
    ids = json.loads(head) if sep else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValueError("not an offline frame")
    return ids, payload


def replayed_records(clientid: str, subs: list[Subscription], frames: Iterable[bytes]) -> list[Record]:
    """The stored messages for `clientid`, as its queue records (QoS and RETAIN as its subscriptions ask)."""
    records: list[Record] = []
    plain = [s for s in subs if s.share_group is None]
    for data in frames:
        try:
            ids, payload = read_offline_frame(data)
            if clientid not in ids:
                continue
            msg = decode_message(payload)
        except ValueError:
            continue
        matched = [s for s in plain if match(s.topic_filter, msg.topic)]
        if not matched:
            continue
        qos = max(min(s.qos, msg.qos) for s in matched)
        retain = msg.retain and any(s.retain_as_published for s in matched)
        sids = tuple(s.subscription_id for s in matched if s.subscription_id is not None)
        if qos:
            records.append(MessageQueued(clientid, qos, msg, sids, retain))
    return records


def merge_stored(records: Sequence[Record], stored: Sequence[Record]) -> tuple[list[Record], list[Record]]:
    """Place the stream's messages for a moved session (`stored`, in stream order) that its records do
    not hold: each one the stream has before a message it holds goes just before the first such one
    (in the records returned first); the rest, after all it holds, are returned second, in stream
    order, for `lifecycle.catch_up` (which queues them as routing would, within the queue's limits).

    The session's node can miss a message the stream has (its forward was published while that node
    was away from NATS, with no one on its inbox) and hold the ones published after it: appended, the
    missed one would come after them, out of its publisher's order [MQTT-4.6.0-2]."""
    position: dict[bytes, int] = {}
    for i, r in enumerate(stored):
        if isinstance(r, MessageQueued):
            position.setdefault(r.message.id, i)
    held = {r.message.id for r in records if isinstance(r, MessageQueued)}
    missed: list[tuple[int, MessageQueued]] = []
    for r in stored:
        if isinstance(r, MessageQueued) and r.message.id not in held:
            held.add(r.message.id)
            missed.append((position[r.message.id], r))
    merged: list[Record] = []
    taken = 0
    for r in records:
        at = position.get(r.message.id) if isinstance(r, MessageQueued) else None
        while at is not None and taken < len(missed) and missed[taken][0] < at:
            merged.append(missed[taken][1])
            taken += 1
        merged.append(r)
    return merged, [r for _, r in missed[taken:]]
