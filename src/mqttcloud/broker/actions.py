"""What the broker core asks the runtime to do: a closed union of frozen dataclasses.

Every core entry point (`Channel.handle`, `Broker.connect_decided`, `Broker.tick`, ...) returns a
`list[Action]` for one *batch*. The runtime `match`es each action with `assert_never` last.

Rules the runtime must follow (the core relies on them):

1. **Durability before acknowledgement.** If a batch contains any `Persist`, the runtime makes every
   record of that batch durable (append + fsync; records of several batches may share one fsync: group
   commit) *before* it performs any `Send` or `Close` of that batch. A batch without `Persist` is
   performed at once. This is how a PUBACK/PUBREC for a QoS 1/2 publish is only sent after the
   messages queued for persistent sessions are durable. To keep per-connection order, a `Send` to a
   channel that already has held sends queues behind them.
2. **Order.** Actions of one batch are performed in list order; `Close` comes after the final `Send`
   to that channel (e.g. DISCONNECT 0x8E, then Close).
3. **Closing.** After performing `Close(channel_id, ...)` the runtime closes the transport and does *not*
   call `Broker.channel_closed` for it (the core already did its bookkeeping). When the peer closes the
   socket first, the runtime calls `Broker.channel_closed(channel_id, now)` and performs what it returns.
4. **Cluster** actions (`Forward`, `RouteChanged`, `ClientClaimed`, `RetainedChanged`) and session
   actions (`SessionChanged`, `StoreOffline`) come only from a cluster router (`broker.cluster`); the
   runtime hands them to its cluster link, fire-and-forget.
5. **Authentication** is I/O-free but may be slow (bcrypt): `Authenticate` asks the runtime to check
   the credentials (possibly in a thread) and to call `Broker.connect_decided(channel_id, decision, now)`.

`Send.data` is already-encoded MQTT bytes. One QoS 0 PUBLISH routed to N subscribers of the same
protocol version shares one `bytes` object across the N `Send`s (encode once).
"""

from dataclasses import dataclass
from typing import NewType

from mqttcloud.broker.durability import Record
from mqttcloud.broker.hooks import AuthRequest
from mqttcloud.broker.message import Message

ChannelId = NewType("ChannelId", int)


@dataclass(slots=True)
class Send:
    """Write `data` (one or more complete MQTT packets) to the channel's transport.

    Not `frozen`, unlike the other actions: one `Send` is built per receiver on the PUBLISH fan-out
    path and a frozen init costs 470 ns against 185 ns (measured). Treat it as immutable.
    """

    channel_id: ChannelId
    data: bytes


@dataclass(frozen=True, slots=True)
class Close:
    """Close the channel's transport after flushing earlier sends. `reason` is for logs/metrics."""

    channel_id: ChannelId
    reason: str


@dataclass(frozen=True, slots=True)
class Authenticate:
    """Verify the CONNECT credentials, then call `Broker.connect_decided(channel_id, decision, now)`."""

    channel_id: ChannelId
    request: AuthRequest


@dataclass(frozen=True, slots=True)
class Persist:
    """Append these records to the tenant's durable log (see rule 1 above)."""

    records: tuple[Record, ...]


@dataclass(frozen=True, slots=True)
class Log:
    """A fact worth logging; the runtime decides level formatting. `level` is a `logging` level int."""

    level: int
    event: str
    fields: tuple[tuple[str, str | int | float | bool | None], ...] = ()


@dataclass(frozen=True, slots=True)
class Forward:
    """Send `message` to cluster node `node` (`broker.cluster`), which routes it locally.

    `groups` names the shared groups ((name, filter)) whose one member that node must pick.
    """

    node: str
    message: Message
    groups: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Relay:
    """Pass `message` on to `clientid`'s session on cluster node `node`, where it moved a moment ago
    (a forward that reached this node after the hand-over); that node delivers it to that client only.
    """

    node: str
    clientid: str
    message: Message


@dataclass(frozen=True, slots=True)
class RouteChanged:
    """Tell the cluster that this node has (`added`) or no longer has local subscribers of a filter."""

    topic_filter: str
    added: bool


@dataclass(frozen=True, slots=True)
class ClientClaimed:
    """Tell the cluster that `clientid` attached here at `at`: other nodes let it go (0x8E).

    `resumed`: its session was resumed here (moved); otherwise a new session ends any other node's
    copy, whose pending will goes at once [MQTT-3.1.3-9].
    """

    clientid: str
    at: float
    resumed: bool


@dataclass(frozen=True, slots=True)
class RetainedChanged:
    """A retained PUBLISH arrived on this node: keep it (or its deletion) in the cluster's store."""

    message: Message


@dataclass(frozen=True, slots=True)
class SessionChanged:
    """What the cluster knows of `clientid` (node, online, subscriptions, will) may have changed."""

    clientid: str


@dataclass(frozen=True, slots=True)
class StoreOffline:
    """Keep a QoS 1/2 `message` in the cluster's store for the offline persistent sessions `clientids`."""

    message: Message
    clientids: tuple[str, ...]


#: `logging` level numbers, so the core can grade a `Log` fact without importing logging.
DEBUG, INFO, WARNING = 10, 20, 30

#: What a cluster router adds to a batch (`broker.cluster`); the runtime's cluster link performs them.
ClusterAction = Forward | Relay | RouteChanged | ClientClaimed | RetainedChanged
#: What a cluster router says about sessions (`broker.cluster`); the link's session registry performs them.
SessionAction = SessionChanged | StoreOffline
Action = Send | Close | Authenticate | Persist | Log | ClusterAction | SessionAction

__all__ = [
    "DEBUG",
    "INFO",
    "WARNING",
    "Action",
    "Authenticate",
    "ChannelId",
    "ClientClaimed",
    "Close",
    "ClusterAction",
    "Forward",
    "Log",
    "Persist",
    "Relay",
    "RetainedChanged",
    "RouteChanged",
    "Send",
    "SessionAction",
    "SessionChanged",
    "StoreOffline",
]
