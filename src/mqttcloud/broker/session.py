"""Session: the per-client-id state that outlives a connection (spec 4.1).

Owns: subscriptions (options by filter), the outbound in-flight window keyed by packet id, the packet
id allocator, the bounded queue of messages waiting for a window slot or for the client to come back,
inbound QoS 2 packet ids awaiting PUBREL, and expiry bookkeeping.

Rules:
- [MQTT-4.4.0-1] in-flight QoS 1/2 messages stay in the session and are re-sent with
  DUP=1 (or PUBREL for QoS 2 after PUBREC) when the client reconnects with a resumed session.
- The queue holds at most `max_queue_len` deliveries; on overflow the *oldest* is dropped and
  counted (`dropped_queue_full`), as EMQX's mqueue does.
- Change the queue only through `enqueue` / `dequeue` / `drop_oldest_qos0` / `append_restored`: they
  keep `queued_qos0`, the number of QoS 0 deliveries queued, so a full queue without QoS 0 drops its
  oldest in O(1) instead of scanning it (measured 0.38 ms per enqueue at 1,000 queued QoS 1 before),
  and `queued_bytes`, the queue's share of the outbound memory budget (`broker.budget`).
- A session is *persistent* when its expiry interval is > 0; only persistent sessions produce
  durability records.
"""

from collections import deque
from dataclasses import dataclass, field

from mqttcloud.broker.actions import ChannelId
from mqttcloud.broker.message import Message
from mqttcloud.broker.subscriptions import Subscription

AWAIT_ACK = 0  # PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2)
AWAIT_COMP = 1  # PUBREL sent, waiting for PUBCOMP


@dataclass(slots=True)
class Delivery:
    """One message on its way to one session, with the facts that belong to this delivery."""

    message: Message
    qos: int  # min(message QoS, granted QoS)
    retain: bool  # the RETAIN flag to send
    subscription_ids: tuple[int, ...] = ()
    packet_id: int = 0
    state: int = AWAIT_ACK
    sent_at: float = 0.0


def delivery_size(d: Delivery) -> int:
    """The bytes a queued delivery stands for in the outbound budget: its payload, topic and headers."""
    msg = d.message
    return len(msg.payload) + len(msg.topic) + 16


@dataclass(slots=True)
class Session:
    clientid: str
    created_at: float
    expiry_interval: int = 0
    username: str | None = None
    proto_ver: int = 5
    max_queue_len: int = 1000
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    inflight: dict[int, Delivery] = field(default_factory=dict)
    queue: deque[Delivery] = field(default_factory=deque)
    awaiting_rel: dict[int, float] = field(default_factory=dict)  # inbound QoS 2 packet id -> when
    connected_channel: ChannelId | None = None  # while a connection holds the session
    disconnected_at: float | None = None
    stored: bool = False  # the durable log holds this session (a SessionUpserted was emitted)
    dropped: int = 0
    dropped_queue_full: int = 0
    dropped_expired: int = 0
    dropped_too_large: int = 0
    queued_qos0: int = 0  # QoS 0 deliveries in `queue` (`enqueue` / `dequeue` keep it)
    queued_bytes: int = 0  # `delivery_size` of everything in `queue` (the same methods keep it)
    _next_packet_id: int = 1

    @property
    def is_persistent(self) -> bool:
        return self.expiry_interval > 0

    def expires_at(self) -> float | None:
        """When a disconnected session ends [MQTT-3.1.2-23]; None while connected or never."""
        if self.connected_channel is not None or self.disconnected_at is None:
            return None
        if self.expiry_interval >= 0xFFFFFFFF:
            return None  # spec 3.1.2.11.2: 0xFFFFFFFF: the session does not expire
        return self.disconnected_at + self.expiry_interval

    def allocate_packet_id(self) -> int:
        """The next packet id not in flight [MQTT-2.2.1-3]. The caller checks the window first."""
        pid = self._next_packet_id
        for _ in range(65535):
            if pid not in self.inflight:
                break
            pid = pid % 65535 + 1
        else:  # pragma: no cover - the window is at most 65535
            raise RuntimeError("no free packet identifier")
        self._next_packet_id = pid % 65535 + 1
        return pid

    def enqueue(self, delivery: Delivery) -> Delivery | None:
        """Queue a delivery; returns the delivery dropped to make room (the oldest), if any."""
        dropped: Delivery | None = None
        queue = self.queue
        if self.max_queue_len > 0 and len(queue) >= self.max_queue_len:
            # prefer dropping the oldest QoS 0 message, as EMQX's mqueue does, else the oldest
            if self.queued_qos0:
                for i, d in enumerate(queue):
                    if d.qos == 0:
                        dropped = d
                        del queue[i]
                        self.queued_qos0 -= 1
                        break
            if dropped is None:  # no QoS 0 queued: the oldest goes, without a scan
                dropped = queue.popleft()
            self.queued_bytes -= delivery_size(dropped)
            self.dropped += 1
            self.dropped_queue_full += 1
        queue.append(delivery)
        self.queued_bytes += delivery_size(delivery)
        if delivery.qos == 0:
            self.queued_qos0 += 1
        return dropped

    def dequeue(self) -> Delivery:
        """Take the oldest queued delivery (the queue must not be empty)."""
        d = self.queue.popleft()
        self.queued_bytes -= delivery_size(d)
        if d.qos == 0:
            self.queued_qos0 -= 1
        return d

    def drop_oldest_qos0(self) -> Delivery | None:
        """Remove and return the oldest queued QoS 0 delivery (None when there is none)."""
        if not self.queued_qos0:
            return None
        queue = self.queue
        for i, d in enumerate(queue):
            if d.qos == 0:
                del queue[i]
                self.queued_qos0 -= 1
                self.queued_bytes -= delivery_size(d)
                self.dropped += 1
                return d
        raise AssertionError("queued_qos0 > 0 with no QoS 0 delivery queued")  # pragma: no cover

    def append_restored(self, delivery: Delivery) -> None:
        """Queue a delivery replayed from the durable log (no overflow check: it was admitted)."""
        self.queue.append(delivery)
        self.queued_bytes += delivery_size(delivery)
        if delivery.qos == 0:
            self.queued_qos0 += 1

    def add_subscription(self, sub: Subscription) -> bool:
        """Add or replace; True when new [MQTT-3.8.4-3]."""
        is_new = sub.topic_filter not in self.subscriptions
        self.subscriptions[sub.topic_filter] = sub
        return is_new

    def remove_subscription(self, topic_filter: str) -> bool:
        return self.subscriptions.pop(topic_filter, None) is not None
