"""Outbound delivery: put a message into a session and onto the wire (encode once, patch the id).

Owns: `deliver` (one message to one session: send now, queue, or drop), `drain` (fill the in-flight
window from the queue), `redeliver` (resend in-flight messages with DUP on session resume), and the
per-route `EncodeCache`.

Rules:
- Fast path: a QoS 0 message routed to N subscribers of one protocol version with the same
  properties is encoded once and the N `Send`s share the `bytes`; QoS 1/2 copies are patched with
  their packet id (`EncodedPublish.with_packet_id`), never re-encoded. A delivery with no shared cache
  (one receiver: `routing.route` passes none for a one-receiver plan; queued and retained deliveries)
  is encoded with its packet id at once (`encode_one`): 1→1 QoS 1 with the PUBACK, measured in-process
  on the loaded 2-core box, 24-25.5 → 18.5-21 µs per message.
- [MQTT-3.3.4-9] no more than the client's Receive Maximum (and `Limits.max_inflight`) QoS 1/2
  PUBLISHes are unacknowledged at once; the rest wait in the session queue.
- [MQTT-3.1.2-25] a packet larger than the client's Maximum Packet Size is not sent; it is dropped
  and counted (send_msg.dropped.too_large) as if sent.
- [MQTT-3.3.2-5] expired messages are dropped instead of sent; [MQTT-3.3.2-6] the expiry sent is the
  remaining time.
- Outbound memory budgets (`broker.budget`): a delivery to a congested connection waits in the
  session queue instead of adding to the unsent bytes, and the queue drains only under the soft budget.
- Persistent sessions get a `MessageQueued` record for every QoS 1/2 message they take in and a
  `MessageAcked` record when it leaves (acked, dropped, expired).
"""

from typing import TYPE_CHECKING

from mqttcloud.broker import budget
from mqttcloud.broker.actions import Action, Persist, Send
from mqttcloud.broker.durability import MessageAcked, MessageQueued, Record
from mqttcloud.broker.message import Message
from mqttcloud.broker.session import AWAIT_ACK, AWAIT_COMP, Delivery, Session
from mqttcloud.protocol.encode import EncodedPublish, encode, encode_publish_shared
from mqttcloud.protocol.packets import QOS_BY_VALUE, Publish, PubRel
from mqttcloud.protocol.primitives import encode_varint
from mqttcloud.protocol.properties import NO_PROPERTIES, Properties

if TYPE_CHECKING:
    from mqttcloud.broker.channel import Channel

_CacheKey = tuple[int, int, bool, tuple[int, ...], int | None]


class Out:
    """What one core call produces: actions, plus durability records that go first (as `Persist`)."""

    __slots__ = ("actions", "records")

    def __init__(self) -> None:
        self.actions: list[Action] = []
        self.records: list[Record] = []

    def result(self) -> list[Action]:
        """The batch: `Persist` first when there are records (see `actions` rule 1)."""
        if self.records:
            return [Persist(tuple(self.records)), *self.actions]
        return self.actions


class EncodeCache:
    """Encodings of one message, keyed by what differs between receivers."""

    __slots__ = ("_cache", "message")

    def __init__(self, message: Message) -> None:
        self.message = message
        self._cache: dict[_CacheKey, EncodedPublish] = {}

    def get(
        self, version: int, qos: int, retain: bool, sub_ids: tuple[int, ...], now: float
    ) -> EncodedPublish:
        msg = self.message
        expiry = msg.remaining_expiry(now) if version == 5 else None
        key = (version, qos, retain, sub_ids if version == 5 else (), expiry)
        enc = self._cache.get(key)
        if enc is None:
            props = message_properties(msg, sub_ids, expiry) if version == 5 else NO_PROPERTIES
            enc = encode_publish_shared(
                msg.topic, msg.payload, qos=qos, retain=retain, version=version, properties=props
            )
            self._cache[key] = enc
        return enc


def message_properties(msg: Message, sub_ids: tuple[int, ...], expiry: int | None) -> Properties:
    """The v5 PUBLISH properties forwarded to a subscriber (spec 3.3.2.3: forwarded unaltered)."""
    if (
        expiry is None
        and not sub_ids
        and msg.payload_format_indicator is None
        and msg.content_type is None
        and msg.response_topic is None
        and msg.correlation_data is None
        and not msg.user_properties
    ):
        return NO_PROPERTIES
    return Properties(
        payload_format_indicator=msg.payload_format_indicator,
        message_expiry_interval=expiry,
        content_type=msg.content_type,
        response_topic=msg.response_topic,
        correlation_data=msg.correlation_data,
        subscription_identifiers=sub_ids,
        user_properties=msg.user_properties,
    )


_FIRST: tuple[bytes, ...] = tuple(bytes((i,)) for i in range(256))


def encode_one(
    version: int,
    msg: Message,
    *,
    qos: int,
    retain: bool,
    sub_ids: tuple[int, ...],
    packet_id: int,
    now: float,
) -> bytes:
    """The PUBLISH for one receiver, packet id included (no `EncodedPublish` to patch).

    The same bytes as `EncodeCache.get(...).with_packet_id(packet_id)` (`.data` for QoS 0); without
    v5 properties to forward it is one join (QoS 1 to one subscriber: the latency bench's path).
    """
    expiry = msg.remaining_expiry(now) if version == 5 else None
    props = message_properties(msg, sub_ids, expiry) if version == 5 else NO_PROPERTIES
    if props is not NO_PROPERTIES:
        enc = encode_publish_shared(
            msg.topic, msg.payload, qos=qos, retain=retain, version=version, properties=props
        )
        return enc.data if qos == 0 else enc.with_packet_id(packet_id)
    tb = msg.topic.encode("utf-8")
    n = len(tb)
    first = 0x30 | (qos << 1) | (0x01 if retain else 0)
    payload = msg.payload
    head = n.to_bytes(2, "big") + tb + packet_id.to_bytes(2, "big") if qos else n.to_bytes(2, "big") + tb
    if version == 5:
        head += b"\x00"  # no properties
    return b"".join((_FIRST[first], encode_varint(len(head) + len(payload)), head, payload))


def _wire(ch: "Channel", d: Delivery, cache: EncodeCache | None, now: float, dup: bool) -> bytes | None:
    """The bytes for one delivery on one channel, or None when too large for the client."""
    msg = d.message
    limit = ch.client_maximum_packet_size
    if ch.client_topic_alias_maximum and ch.version == 5:
        return _wire_with_alias(ch, d, now, dup, limit)
    if cache is None or cache.message is not msg:
        cache = EncodeCache(msg)
    enc = cache.get(ch.version, d.qos, d.retain, d.subscription_ids, now)
    data = enc.data if d.qos == 0 else enc.with_packet_id(d.packet_id, dup=dup)
    if limit and len(data) > limit:
        return None
    return data


def _wire_with_alias(ch: "Channel", d: Delivery, now: float, dup: bool, limit: int) -> bytes | None:
    """Outbound topic alias (spec 3.3.2.3.4): first use sends topic + alias, later ones only the alias.

    A new alias is only kept if its packet is actually sent (fits the client's maximum size);
    otherwise a later alias-only PUBLISH would name a topic the client never saw.
    """
    msg = d.message
    props = message_properties(msg, d.subscription_ids, msg.remaining_expiry(now))
    topic = msg.topic
    aliases = ch.outbound_aliases
    alias = aliases.get(topic)
    new_alias = False
    if alias is not None:
        topic = ""
    elif len(aliases) < ch.client_topic_alias_maximum:
        # (spec 3.3.2.3.4) never more aliases than the client's Topic Alias Maximum
        alias = len(aliases) + 1
        new_alias = True
    if alias is not None:
        props = props.evolve(topic_alias=alias)
    pkt = Publish(
        topic=topic,
        payload=msg.payload,
        qos=QOS_BY_VALUE[d.qos],
        retain=d.retain,
        dup=dup,
        packet_id=d.packet_id if d.qos else None,
        properties=props,
    )
    data = encode(pkt, 5)
    if limit and len(data) > limit:
        return None
    if new_alias:
        aliases[msg.topic] = len(aliases) + 1
    return data


def _count_sent(ch: "Channel", qos: int) -> None:
    c = ch.counters
    c.send_pkt += 1
    c.send_msg += 1
    m = ch.broker.counters.values
    m["packets.sent"] += 1
    m["packets.publish.sent"] += 1
    m["messages.sent"] += 1
    m["messages.delivered"] += 1
    if qos == 0:
        c.send_msg_qos0 += 1
        m["messages.qos0.sent"] += 1
    elif qos == 1:
        c.send_msg_qos1 += 1
        m["messages.qos1.sent"] += 1
    else:
        c.send_msg_qos2 += 1
        m["messages.qos2.sent"] += 1


def _drop(ch: "Channel | None", session: Session, d: Delivery, why: str, out: Out, *, now: float) -> None:
    m = ch.broker.counters if ch is not None else None
    session.dropped += 1
    if why == "expired":
        session.dropped_expired += 1
    elif why == "too_large":
        session.dropped_too_large += 1
    if ch is not None:
        ch.counters.send_msg_dropped += 1
        if why == "expired":
            ch.counters.send_msg_dropped_expired += 1
        elif why == "too_large":
            ch.counters.send_msg_dropped_too_large += 1
    if m is not None:
        m.inc("delivery.dropped")
        m.inc(f"delivery.dropped.{why}")
        if ch is not None and ch.broker.history is not None:
            ch.broker.history.dropped(session.clientid, d.message.topic, why, now)
    if d.qos and session.stored:
        out.records.append(MessageAcked(session.clientid, d.message.id))


def send_now(
    ch: "Channel", session: Session, d: Delivery, now: float, out: Out, *, cache: EncodeCache | None = None
) -> None:
    """Send a delivery that has its window slot (QoS 1/2) or needs none (QoS 0).

    Hot for QoS 1/2 fan-out: the common case (no alias, fits the client) is inlined here.
    """
    msg = d.message
    expires = msg.expires_at
    if expires is not None and now >= expires:
        _drop(ch, session, d, "expired", out, now=now)
        return
    qos = d.qos
    pid = 0
    if qos:
        pid = d.packet_id = session.allocate_packet_id()
        d.state = AWAIT_ACK
        d.sent_at = now
        session.inflight[pid] = d
    data: bytes | None
    if ch.client_topic_alias_maximum:
        data = _wire_with_alias(ch, d, now, False, ch.client_maximum_packet_size)
    else:
        if cache is None or cache.message is not msg:
            # One receiver (or a queued delivery): encode with its packet id at once, no patching.
            data = encode_one(
                ch.version, msg, qos=qos, retain=d.retain, sub_ids=d.subscription_ids, packet_id=pid, now=now
            )
        else:
            enc = cache.get(ch.version, qos, d.retain, d.subscription_ids, now)
            data = enc.data if qos == 0 else enc.with_packet_id(pid)
        limit = ch.client_maximum_packet_size
        if limit and len(data) > limit:
            data = None
    if data is None:
        if qos:
            del session.inflight[pid]
        _drop(ch, session, d, "too_large", out, now=now)
        return
    _count_sent(ch, qos)
    ch.unsent += len(data)
    out.actions.append(Send(ch.channel_id, data))


def deliver(
    ch: "Channel | None",
    session: Session,
    d: Delivery,
    now: float,
    out: Out,
    *,
    cache: EncodeCache | None = None,
) -> None:
    """Route one delivery into `session`: send now, queue (window full / congested / offline), or drop."""
    if d.qos and session.stored:
        out.records.append(MessageQueued(session.clientid, d.qos, d.message, d.subscription_ids, d.retain))
    congested = False
    if ch is not None:
        congested = ch.unsent >= ch.broker.soft_budget
        if not congested and (d.qos == 0 or (not session.queue and len(session.inflight) < ch.send_window)):
            send_now(ch, session, d, now, out, cache=cache)
            return
    if ch is None and not session.is_persistent:
        return  # nobody will ever read it
    dropped = session.enqueue(d)
    if dropped is not None:
        if ch is not None:
            ch.counters.send_msg_dropped += 1
            ch.counters.send_msg_dropped_queue_full += 1
            if ch.broker.history is not None:
                ch.broker.history.dropped(session.clientid, dropped.message.topic, "queue_full", now)
        if dropped.qos and session.stored:
            out.records.append(MessageAcked(session.clientid, dropped.message.id))
    if congested:
        assert ch is not None
        ch.congested = True
        budget.enforce(ch, session, now, out)


def drain(ch: "Channel", session: Session, now: float, out: Out) -> None:
    """Move queued deliveries onto the wire while the in-flight window and the soft budget have room."""
    limit = ch.send_window
    queue = session.queue
    soft = ch.broker.soft_budget
    while queue and (queue[0].qos == 0 or len(session.inflight) < limit):
        if ch.unsent >= soft:
            ch.congested = True  # the rest goes when the runtime reports the socket drained
            return
        send_now(ch, session, session.dequeue(), now, out)


def redeliver(ch: "Channel", session: Session, now: float, out: Out) -> None:
    """[MQTT-4.4.0-1] on resume, resend unacknowledged PUBLISH with DUP=1 and PUBREL, in order."""
    for d in list(session.inflight.values()):
        d.sent_at = now
        if d.state == AWAIT_COMP:
            out.actions.append(ch.send(PubRel(packet_id=d.packet_id)))
            ch.broker.counters.inc("packets.pubrel.sent")
            continue
        data = None if d.message.is_expired(now) else _wire(ch, d, None, now, dup=True)
        if data is None:
            del session.inflight[d.packet_id]
            _drop(ch, session, d, "expired" if d.message.is_expired(now) else "too_large", out, now=now)
            continue
        _count_sent(ch, d.qos)
        ch.unsent += len(data)
        out.actions.append(Send(ch.channel_id, data))
