"""Metrics (monotonic counters) and per-connection counters, with EMQX's names.

`Metrics` holds the tenant-wide counters reported by the `metrics` admin op (EMQX `emqx_metrics`
names: `messages.received`, `packets.connect.received`, `client.connected`, ...). Gauges (the
`stats` op: `connections.count`, ...) are computed on demand by `Broker.stats()`.
Rule: a counter only ever grows; names are EMQX's, dots included.
"""

from dataclasses import dataclass

METRIC_NAMES: tuple[str, ...] = (
    "bytes.received",
    "bytes.sent",
    "packets.received",
    "packets.sent",
    "packets.connect.received",
    "packets.connack.sent",
    "packets.connack.error",
    "packets.connack.auth_error",
    "packets.publish.received",
    "packets.publish.sent",
    "packets.publish.inuse",
    "packets.publish.error",
    "packets.publish.auth_error",
    "packets.publish.dropped",
    "packets.puback.received",
    "packets.puback.sent",
    "packets.puback.missed",
    "packets.puback.inuse",
    "packets.pubrec.received",
    "packets.pubrec.sent",
    "packets.pubrec.missed",
    "packets.pubrec.inuse",
    "packets.pubrel.received",
    "packets.pubrel.sent",
    "packets.pubrel.missed",
    "packets.pubcomp.received",
    "packets.pubcomp.sent",
    "packets.pubcomp.missed",
    "packets.pubcomp.inuse",
    "packets.subscribe.received",
    "packets.subscribe.error",
    "packets.subscribe.auth_error",
    "packets.suback.sent",
    "packets.unsubscribe.received",
    "packets.unsubscribe.error",
    "packets.unsuback.sent",
    "packets.pingreq.received",
    "packets.pingresp.sent",
    "packets.disconnect.received",
    "packets.disconnect.sent",
    "packets.auth.received",
    "packets.auth.sent",  # enhanced authentication is not offered: the broker never sends AUTH
    "messages.received",
    "messages.sent",
    "messages.qos0.received",
    "messages.qos0.sent",
    "messages.qos1.received",
    "messages.qos1.sent",
    "messages.qos2.received",
    "messages.qos2.sent",
    "messages.publish",
    "messages.dropped",
    "messages.dropped.no_subscribers",
    "messages.dropped.await_pubrel_timeout",
    "messages.forward",
    "messages.delivered",
    "messages.acked",
    "messages.retained",
    "delivery.dropped",
    "delivery.dropped.no_local",
    "delivery.dropped.too_large",
    "delivery.dropped.qos0_msg",
    "delivery.dropped.queue_full",
    "delivery.dropped.expired",
    "client.connect",
    "client.connack",
    "client.connected",
    "client.authenticate",
    "client.authorize",
    "client.subscribe",
    "client.unsubscribe",
    "client.disconnected",
    "session.created",
    "session.resumed",
    "session.takenover",
    "session.discarded",
    "session.terminated",
    "authorization.allow",
    "authorization.deny",
    "authentication.success",
    "authentication.failure",
)


class Metrics:
    """Tenant-wide counters. `inc` is a dict update; unknown names are a bug (KeyError)."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values: dict[str, int] = dict.fromkeys(METRIC_NAMES, 0)

    def inc(self, name: str, n: int = 1) -> None:
        self.values[name] += n

    def __getitem__(self, name: str) -> int:
        return self.values[name]

    def snapshot(self) -> dict[str, int]:
        return dict(self.values)


@dataclass(slots=True)
class ConnCounters:
    """Per-connection counters, reported in `ClientInfo` (recv_oct, send_msg.qos1, ...).

    `send_qos0_shared` counts the QoS 0 deliveries of the routing fast path once, where each is a
    packet, a message and a QoS 0 message: `send_pkt`, `send_msg` and `send_msg_qos0` leave them out,
    and the `sent_*` methods give the totals to report (one increment per delivery instead of three).
    """

    recv_oct: int = 0
    recv_pkt: int = 0
    recv_msg: int = 0
    recv_msg_qos0: int = 0
    recv_msg_qos1: int = 0
    recv_msg_qos2: int = 0
    recv_msg_dropped: int = 0
    send_oct: int = 0
    send_pkt: int = 0
    send_msg: int = 0
    send_msg_qos0: int = 0
    send_msg_qos1: int = 0
    send_msg_qos2: int = 0
    send_msg_dropped: int = 0
    send_msg_dropped_expired: int = 0
    send_msg_dropped_queue_full: int = 0
    send_msg_dropped_too_large: int = 0
    send_qos0_shared: int = 0

    def sent_pkt(self) -> int:
        return self.send_pkt + self.send_qos0_shared

    def sent_msg(self) -> int:
        return self.send_msg + self.send_qos0_shared

    def sent_msg_qos0(self) -> int:
        return self.send_msg_qos0 + self.send_qos0_shared
