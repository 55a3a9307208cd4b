"""Client event history, broker side: a tenant's events recorded off the hot path, taken in batches.

`EventHistory` is the core's `ClientEventSink` (`Broker.history`, set for every tenant while
`BrokerSpec.event_history` > 0). The control plane long-polls the admin op `events` (`contracts.events`)
and stores what it takes (`control/events/`).

Rules this module must not break:
- Recording is one tuple appended to a bounded deque: no model, no I/O, no lock. Models (dicts in the
  shape of `contracts.ClientEvent`) are built by `take`, in the admin op's task, `CHUNK` at a time.
- An event is never silently lost: past `capacity` the oldest buffered event goes and `shed` counts
  it; the next batch reports the count (the control plane logs it and shows it on `/metrics`).
- Dropped messages are counted per (client, reason, topic) and become one `message.dropped` event with
  the count when taken: a queue overflowing on every publish is one event per batch, not one per message.
"""

import asyncio
from collections import Counter, deque
from collections.abc import Iterator

from mqttcloud.broker.channel import Channel
from mqttcloud.broker.subscriptions import Subscription
from mqttcloud.contracts.events import EVENT_BUFFER, EventKind
from mqttcloud.protocol.reason_codes import ReasonCode

DEFAULT_CAPACITY = EVENT_BUFFER  # events buffered per tenant between two takes
MAX_DROP_KEYS = 1024  # distinct (client, reason, topic) drop counters kept between two takes

Detail = dict[str, str | int | float | bool | None]
# (at, kind, clientid, username, ip, port, reason_code, reason, detail)
Record = tuple[float, EventKind, str, str | None, str | None, int | None, int | None, str | None, Detail]

# The core's disconnect reasons (see `broker.lifecycle.gone` callers) -> EMQX's reason and the MQTT 5 code.
_REASONS: dict[str, tuple[str, ReasonCode | None]] = {
    "kicked": ("kicked", ReasonCode.ADMINISTRATIVE_ACTION),
    "session taken over": ("takenover", ReasonCode.SESSION_TAKEN_OVER),
    "server shutting down": ("shutdown", ReasonCode.SERVER_SHUTTING_DOWN),
    "keep alive timeout": ("keepalive_timeout", ReasonCode.KEEP_ALIVE_TIMEOUT),
    "connection closed by peer": ("tcp_closed", None),
    "connection lost": ("tcp_closed", None),
    "": ("normal", None),
}


def disconnect_reason(reason: str) -> tuple[str, ReasonCode | None, str]:
    """(EMQX reason name, MQTT 5 reason code or None, reason string) for a core disconnect reason.

    A DISCONNECT from the client is `normal` for 0x00 and the code's name otherwise; a protocol error
    (`Channel.fail`) reads "<CODE_NAME>: <message>"; a budget cut-off is `quota_exceeded`.
    """
    known = _REASONS.get(reason)
    if known is not None:
        return known[0], known[1], reason
    if reason.startswith("DISCONNECT "):
        code = ReasonCode.__members__.get(reason.removeprefix("DISCONNECT "))
        if code is not None:
            return ("normal" if code == 0 else code.name.lower()), code, reason
    name, sep, message = reason.partition(": ")
    if sep and name in ReasonCode.__members__:
        code = ReasonCode[name]
        return code.name.lower(), code, message
    if "budget exceeded" in reason:
        return "quota_exceeded", ReasonCode.QUOTA_EXCEEDED, reason
    return reason.replace(" ", "_"), None, reason


class EventHistory:
    """One tenant's recorded events, waiting for the control plane to take them."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self.buffer: deque[Record] = deque()
        self.shed = 0  # since the last take
        self.recorded = 0  # since start, shed ones included
        self.ready = asyncio.Event()
        self.disconnect_reasons: Counter[str] = Counter()  # EMQX reason -> disconnects, since start
        self.kicked_by: dict[str, str] = {}  # client id -> who asked the admin op `kick` (until it lands)
        self._drops: dict[tuple[str, str, str], list[float]] = {}  # -> [count, first at, last at]

    def _add(self, record: Record) -> None:
        buffer = self.buffer
        if len(buffer) >= self.capacity:
            buffer.popleft()
            self.shed += 1
        buffer.append(record)
        self.recorded += 1
        if len(buffer) == 1:
            self.ready.set()

    # ------------------------------------------------------------------------- ClientEventSink

    def connected(self, ch: Channel, now: float) -> None:
        peer = ch.peer
        detail: Detail = {
            "proto_ver": ch.version,
            "keepalive": ch.keep_alive,
            "clean_start": ch.clean_start,
            "expiry_interval": ch.session_expiry,
            "listener": peer.listener,
        }
        self._add(
            (
                now,
                EventKind.CONNECTED,
                ch.clientid,
                ch.username,
                peer.ip_address,
                peer.port,
                None,
                None,
                detail,
            )
        )

    def refused(self, ch: Channel, reason: ReasonCode, why: str, now: float) -> None:
        peer = ch.peer
        detail: Detail = {"reason_string": why, "proto_ver": ch.version}
        self._add(
            (now, EventKind.CONNACK, ch.clientid, ch.username, peer.ip_address, peer.port, int(reason),
             reason.name.lower(), detail)
        )  # fmt: skip

    def disconnected(self, ch: Channel, reason: str, now: float) -> None:
        peer = ch.peer
        name, code, text = disconnect_reason(reason)
        self.disconnect_reasons[name] += 1
        detail: Detail = {"reason_string": text}
        if name == "kicked":
            detail["kicked_by"] = self.kicked_by.pop(ch.clientid, None)
        if ch.connected_at is not None:
            detail["connected_seconds"] = round(now - ch.connected_at, 3)
        code_value = None if code is None else int(code)
        ip, port = peer.ip_address, peer.port
        if name == "takenover":
            self._add((now, EventKind.TAKENOVER, ch.clientid, ch.username, ip, port, code_value, name, {}))
        self._add((now, EventKind.DISCONNECTED, ch.clientid, ch.username, ip, port, code_value, name, detail))

    def subscribed(self, ch: Channel, sub: Subscription, now: float) -> None:
        detail: Detail = {"topic": sub.topic_filter, "qos": sub.qos}
        if sub.share_group is not None:
            detail["share_group"] = sub.share_group
        peer = ch.peer
        self._add(
            (
                now,
                EventKind.SUBSCRIBED,
                ch.clientid,
                ch.username,
                peer.ip_address,
                peer.port,
                None,
                None,
                detail,
            )
        )

    def unsubscribed(self, ch: Channel, topic_filter: str, now: float) -> None:
        peer = ch.peer
        detail: Detail = {"topic": topic_filter}
        self._add(
            (now, EventKind.UNSUBSCRIBED, ch.clientid, ch.username, peer.ip_address, peer.port, None, None,
             detail)
        )  # fmt: skip

    def dropped(self, clientid: str, topic: str, reason: str, now: float) -> None:
        key = (clientid, reason, topic)
        counter = self._drops.get(key)
        if counter is not None:
            counter[0] += 1
            counter[2] = now
            return
        if len(self._drops) >= MAX_DROP_KEYS:
            self.shed += 1  # a new kind of drop with no counter left: shed, counted like any event
            self.recorded += 1
            return
        self._drops[key] = [1, now, now]
        self.recorded += 1
        self.ready.set()

    # ------------------------------------------------------------------------------------- take

    def has_events(self) -> bool:
        return bool(self.buffer or self._drops)

    def take(self, max_events: int) -> tuple[list[Record], int]:
        """Up to `max_events` events, oldest first, then the drop counters; and the shed count (reset)."""
        buffer = self.buffer
        taken = [buffer.popleft() for _ in range(min(max_events, len(buffer)))]
        if len(taken) < max_events and self._drops:
            drops, self._drops = self._drops, {}
            for (clientid, reason, topic), (count, first, last) in drops.items():
                detail: Detail = {"topic": topic, "count": int(count), "first_at": first}
                taken.append((last, EventKind.DROPPED, clientid, None, None, None, None, reason, detail))
        if not self.has_events():
            self.ready.clear()
        shed, self.shed = self.shed, 0
        return taken, shed


def as_dicts(records: list[Record]) -> Iterator[dict[str, object]]:
    """`contracts.ClientEvent` dumps (JSON shape) of recorded events."""
    for at, kind, clientid, username, ip, port, code, reason, detail in records:
        yield {
            "at": at,
            "event": kind.value,
            "clientid": clientid,
            "username": username,
            "ip_address": ip,
            "port": port,
            "reason_code": code,
            "reason": reason,
            "detail": detail,
        }
