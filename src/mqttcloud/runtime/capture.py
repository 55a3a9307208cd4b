"""Message capture: the messages a tenant routes on chosen topic filters, queued for control-plane consumers.

`TenantTap` is the tenant broker's `MessageTap` (set on `Broker.tap` by the admin `capture` op, see
`contracts.CaptureArgs`): it keeps one bounded `Capture` queue per consumer (the shadow service, later
the rule engine) and wakes the consumer's waiting long-poll.

Rules this module must not break:
- `offer` runs on the PUBLISH hot path: a topic's matching consumers are computed once and cached
  (`MAX_CACHED_TOPICS`), so a message no consumer wants costs one dict lookup.
- A queue never grows past its bounds: when full, the oldest message goes and `dropped` counts it.
"""

import asyncio
import base64
from collections import deque
from collections.abc import Sequence

from mqttcloud import contracts
from mqttcloud.broker.message import Message
from mqttcloud.protocol import topics

MAX_CACHED_TOPICS = 4096  # topics whose matching captures are remembered; the cache empties when full


class Capture:
    """One consumer's filters and queue."""

    def __init__(self, filters: Sequence[str], *, max_queued: int, max_queued_bytes: int) -> None:
        self.filters = tuple(filters)
        self.max_queued = max_queued
        self.max_queued_bytes = max_queued_bytes
        self.queue: deque[Message] = deque()
        self.queued_bytes = 0
        self.dropped = 0
        self.ready = asyncio.Event()

    def matches(self, topic: str) -> bool:
        return any(topics.match(f, topic) for f in self.filters)

    def put(self, msg: Message) -> None:
        queue = self.queue
        queue.append(msg)
        self.queued_bytes += len(msg.payload)
        while len(queue) > self.max_queued or (self.queued_bytes > self.max_queued_bytes and len(queue) > 1):
            self.queued_bytes -= len(queue.popleft().payload)
            self.dropped += 1
        self.ready.set()

    def take(self, max_messages: int) -> contracts.CaptureBatch:
        """Up to `max_messages` queued messages, oldest first, and the drops since the last take."""
        queue = self.queue
        taken: list[contracts.CapturedMessage] = []
        while queue and len(taken) < max_messages:
            msg = queue.popleft()
            self.queued_bytes -= len(msg.payload)
            taken.append(
                contracts.CapturedMessage(
                    topic=msg.topic,
                    payload_b64=base64.b64encode(msg.payload).decode("ascii"),
                    qos=msg.qos,
                    retain=msg.retain,
                    clientid=msg.publisher,
                    timestamp=msg.timestamp,
                )
            )
        if not queue:
            self.ready.clear()
        dropped, self.dropped = self.dropped, 0
        return contracts.CaptureBatch(messages=taken, dropped=dropped)


class TenantTap:
    """Every capture of one tenant; the object set on its `Broker.tap`."""

    def __init__(self) -> None:
        self.captures: dict[str, Capture] = {}
        self._by_topic: dict[str, tuple[Capture, ...]] = {}

    def capture(self, args: contracts.CaptureArgs) -> Capture:
        """The consumer's capture, created (or given new filters and bounds) as `args` asks.

        Raises: ProtocolError for an invalid topic filter.
        """
        for topic_filter in args.filters:
            topics.validate_topic_filter(topic_filter)
        current = self.captures.get(args.consumer)
        if current is not None and current.filters == tuple(args.filters):
            current.max_queued = args.max_queued
            current.max_queued_bytes = args.max_queued_bytes
            return current
        fresh = Capture(args.filters, max_queued=args.max_queued, max_queued_bytes=args.max_queued_bytes)
        if current is not None:  # new filters: what was queued under the old ones is still the consumer's
            fresh.queue, fresh.queued_bytes, fresh.dropped = (
                current.queue,
                current.queued_bytes,
                current.dropped,
            )
            if fresh.queue:
                fresh.ready.set()
        self.captures[args.consumer] = fresh
        self._by_topic.clear()
        return fresh

    def offer(self, msg: Message) -> None:
        wanted = self._by_topic.get(msg.topic)
        if wanted is None:
            if len(self._by_topic) >= MAX_CACHED_TOPICS:
                self._by_topic.clear()
            wanted = tuple(c for c in self.captures.values() if c.matches(msg.topic))
            self._by_topic[msg.topic] = wanted
        for capture in wanted:
            capture.put(msg)
