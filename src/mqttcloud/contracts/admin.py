"""The admin channel: one `AdminRequest` line per request, one `AdminResponse` line per answer, over TCP
on 127.0.0.1; each op's argument and result models are listed in `ADMIN_OPS`.
"""

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mqttcloud.contracts.base import Model, TenantId
from mqttcloud.contracts.events import EventBatch, EventsArgs
from mqttcloud.contracts.retained import (
    RetainedArgs,
    RetainedDeleted,
    RetainedList,
    RetainedListArgs,
    RetainedMessage,
)
from mqttcloud.contracts.rules import (
    RuleMetricsArgs,
    RuleMetricsResult,
)
from mqttcloud.contracts.spec import (
    BrokerSpec,
    ListenerAddress,
)
from mqttcloud.contracts.topic_metrics import (
    TopicMetricsArgs,
    TopicMetricsResult,
)

# --------------------------------------------------------------------------------------------------
# Admin channel: shared value types
# --------------------------------------------------------------------------------------------------


class ConnState(StrEnum):
    CONNECTED = "connected"
    IDLE = "idle"
    DISCONNECTED = "disconnected"


class ClientInfo(Model):
    """One client (connected, or disconnected with a live persistent session). EMQX 5 field names."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    clientid: str
    username: str | None = None
    node: str
    listener: str
    peersni: str | None = None
    ip_address: str
    port: int
    proto_name: str = "MQTT"
    proto_ver: int
    is_bridge: bool = False
    connected: bool
    connected_at: float
    disconnected_at: float | None = None
    created_at: float  # session creation
    keepalive: int
    clean_start: bool
    expiry_interval: int
    is_persistent: bool
    subscriptions_cnt: int
    subscriptions_max: int  # 0 = unlimited
    inflight_cnt: int
    inflight_max: int
    mqueue_len: int
    mqueue_max: int
    mqueue_dropped: int
    awaiting_rel_cnt: int
    awaiting_rel_max: int
    recv_oct: int
    recv_cnt: int
    recv_pkt: int
    recv_msg: int
    recv_msg_qos0: int = Field(alias="recv_msg.qos0")
    recv_msg_qos1: int = Field(alias="recv_msg.qos1")
    recv_msg_qos2: int = Field(alias="recv_msg.qos2")
    recv_msg_dropped: int = Field(alias="recv_msg.dropped")
    send_oct: int
    send_cnt: int
    send_pkt: int
    send_msg: int
    send_msg_qos0: int = Field(alias="send_msg.qos0")
    send_msg_qos1: int = Field(alias="send_msg.qos1")
    send_msg_qos2: int = Field(alias="send_msg.qos2")
    send_msg_dropped: int = Field(alias="send_msg.dropped")
    send_msg_dropped_expired: int = Field(alias="send_msg.dropped.expired")
    send_msg_dropped_queue_full: int = Field(alias="send_msg.dropped.queue_full")
    send_msg_dropped_too_large: int = Field(alias="send_msg.dropped.too_large")
    cn: str | None = None  # client certificate common name (two-way TLS)
    dn: str | None = None


class SubscriptionInfo(Model):
    clientid: str
    topic: str  # as subscribed, including "$share/group/" when shared
    qos: int
    nl: int = 0
    rap: int = 0
    rh: int = 0
    share_group: str | None = None
    subscription_id: int | None = None
    node: str


class ErrorBody(Model):
    code: str  # UPPER_SNAKE_CASE: NOT_FOUND, CLIENTID_NOT_FOUND, BAD_REQUEST, UNAUTHORIZED, ...
    message: str


# --------------------------------------------------------------------------------------------------
# Admin channel: ops
# --------------------------------------------------------------------------------------------------


class PingArgs(Model):
    pass


class PingResult(Model):
    pid: int
    broker_id: str
    uptime: float
    spec_generation: int
    tenants: list[TenantId]
    # The longest event-loop stall since the previous ping, and the part of it that was the broker's own
    # CPU work rather than the machine's other load (runtime/loop_lag.py).
    loop_stall_ms: float = 0.0
    loop_stall_cpu_ms: float = 0.0


class ApplySpecArgs(Model):
    """Replace the running configuration: listeners, TLS, tenants (users, ACL, bans, limits).

    Listeners are opened/closed to match; a changed TLS spec is swapped in for new handshakes while
    existing connections stay; removing TLS closes the TLS/WSS listeners and their connections; a tenant
    that is removed or disabled has its clients disconnected (v5: DISCONNECT 0x8B/0x9C); changed users,
    ACL and bans apply to the next CONNECT/PUBLISH/SUBSCRIBE, and newly banned clients are kicked.
    """

    spec: BrokerSpec
    generation: int


class ApplySpecResult(Model):
    listeners: list[ListenerAddress]
    generation: int


class ClientFilter(Model):
    clientid: str | None = None
    username: str | None = None
    ip_address: str | None = None
    conn_state: ConnState | None = None
    clean_start: bool | None = None
    proto_name: str | None = None
    proto_ver: int | None = None
    like_clientid: str | None = None
    like_username: str | None = None
    like_ip_address: str | None = None
    gte_created_at: float | None = None
    lte_created_at: float | None = None
    gte_connected_at: float | None = None
    lte_connected_at: float | None = None


class ListClientsArgs(Model):
    tenant: TenantId
    filter: ClientFilter = Field(default_factory=ClientFilter)
    page: int = Field(default=1, ge=1)
    limit: int = Field(default=100, ge=1, le=10000)


class ClientArgs(Model):
    """Target one client: get_client, kick, client_subscriptions."""

    tenant: TenantId
    clientid: str


class SubscribeArgs(Model):
    tenant: TenantId
    clientid: str
    topic: str
    qos: int = Field(default=0, ge=0, le=2)
    nl: int = Field(default=0, ge=0, le=1)
    rap: int = Field(default=0, ge=0, le=1)
    rh: int = Field(default=0, ge=0, le=2)


class UnsubscribeArgs(Model):
    tenant: TenantId
    clientid: str
    topic: str


class SubscriptionFilter(Model):
    clientid: str | None = None
    topic: str | None = None  # exact filter as subscribed
    qos: int | None = None
    share_group: str | None = None
    match_topic: str | None = None  # subscriptions whose filter matches this topic name


class ListSubscriptionsArgs(Model):
    tenant: TenantId
    filter: SubscriptionFilter = Field(default_factory=SubscriptionFilter)
    page: int = Field(default=1, ge=1)
    limit: int = Field(default=100, ge=1, le=10000)


class PublishArgs(Model):
    """Publish as the broker itself (HTTP publish). `payload_b64` is the raw payload, base64."""

    tenant: TenantId
    topic: str
    payload_b64: str = ""
    qos: int = Field(default=0, ge=0, le=2)
    retain: bool = False
    clientid: str | None = None  # publisher identity reported to hooks; None = the HTTP API
    # MQTT 5 properties
    payload_format_indicator: int | None = Field(default=None, ge=0, le=1)
    message_expiry_interval: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)
    response_topic: str | None = None
    correlation_data_b64: str | None = None
    content_type: str | None = None
    user_properties: list[tuple[str, str]] = Field(default_factory=list)


class PublishResult(Model):
    id: str  # 32 upper-case hex digits, EMQX-style message id
    matched: int  # number of subscriptions the message was routed to (0 → HTTP 202)


class TenantArgs(Model):
    tenant: TenantId


class TenantStats(Model):
    """EMQX `stats` names (dots kept as in EMQX: connections.count, topics.count, ...)."""

    values: dict[str, int]


class TenantMetrics(Model):
    """EMQX `metrics` names: messages.received, messages.sent, packets.connect.received, ..."""

    values: dict[str, int]
    # EMQX `emqx_client_disconnected_reason`: disconnects by reason (kicked, takenover, tcp_closed...),
    # counted by the event history (empty while a broker records none)
    disconnect_reasons: dict[str, int] = Field(default_factory=dict)


class EmptyResult(Model):
    pass


class CaptureArgs(Model):
    """Long-poll the messages a tenant routes on `filters` (op `capture`), for control-plane consumers.

    The first call of a `consumer` starts capturing: from then on every message the tenant routes (after
    authorization) on a matching topic is queued for it, in order, until the broker stops. Each call
    takes up to `max_messages` from the queue, waiting up to `wait` seconds while it is empty; a call with
    other filters replaces them. The queue is bounded (`max_queued` messages, `max_queued_bytes` of
    payload): when full, the oldest message is dropped and counted in the next answer's `dropped`.
    Messages taken are gone (at most once): a consumer that dies between two calls loses that batch.
    """

    tenant: TenantId
    consumer: str = Field(min_length=1, max_length=64)  # e.g. "shadows", "rules"
    filters: list[str] = Field(min_length=1, max_length=64)
    wait: float = Field(default=0.0, ge=0.0, le=30.0)
    max_messages: int = Field(default=100, ge=1, le=10000)
    max_queued: int = Field(default=10000, ge=1, le=1_000_000)
    max_queued_bytes: int = Field(default=16 * 1024 * 1024, ge=1)


class CapturedMessage(Model):
    topic: str
    payload_b64: str
    qos: int
    retain: bool
    clientid: str | None  # the publisher; None when the broker or the HTTP API published it
    timestamp: float


class CaptureBatch(Model):
    messages: list[CapturedMessage]
    dropped: int  # messages dropped (queue full) since the consumer's previous call


class ClientList(Model):
    data: list[ClientInfo]
    count: int
    page: int
    limit: int
    hasnext: bool


class SubscriptionList(Model):
    data: list[SubscriptionInfo]
    count: int
    page: int
    limit: int
    hasnext: bool


class TraceLogArgs(Model):
    """Read a trace's file (op `trace_log`): up to `limit` bytes from `offset` (limit 0: its size only)."""

    tenant: TenantId
    name: str
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=0, ge=0, le=16 * 1024 * 1024)


class TraceLogResult(Model):
    size: int  # bytes in the file now (0: nothing captured yet)
    mtime: float | None  # last write, epoch seconds; None when there is no file
    data_b64: str = ""  # the bytes read, base64


AdminOp = Literal[
    "ping",
    "apply_spec",
    "list_clients",
    "get_client",
    "kick",
    "client_subscriptions",
    "subscribe",
    "unsubscribe",
    "list_subscriptions",
    "publish",
    "stats",
    "metrics",
    "capture",
    "rule_metrics",
    "trace_log",
    "events",
    "list_retained",
    "get_retained",
    "delete_retained",
    "topic_metrics",
    "reset_topic_metrics",
    "clear_retained",
]

# op → (argument model, result model). Errors: AdminResponse.error with code NOT_FOUND
# (unknown tenant), CLIENTID_NOT_FOUND (no such client), BAD_REQUEST (invalid topic, ...),
# UNAUTHORIZED (bad token; the broker then closes the admin connection).
ADMIN_OPS: dict[str, tuple[type[BaseModel], type[BaseModel]]] = {
    "ping": (PingArgs, PingResult),
    "apply_spec": (ApplySpecArgs, ApplySpecResult),
    "list_clients": (ListClientsArgs, ClientList),
    "get_client": (ClientArgs, ClientInfo),
    "kick": (ClientArgs, EmptyResult),
    "client_subscriptions": (ClientArgs, SubscriptionList),
    "subscribe": (SubscribeArgs, SubscriptionInfo),
    "unsubscribe": (UnsubscribeArgs, EmptyResult),
    "list_subscriptions": (ListSubscriptionsArgs, SubscriptionList),
    "publish": (PublishArgs, PublishResult),
    "stats": (TenantArgs, TenantStats),
    "metrics": (TenantArgs, TenantMetrics),
    "capture": (CaptureArgs, CaptureBatch),
    "rule_metrics": (RuleMetricsArgs, RuleMetricsResult),
    "trace_log": (TraceLogArgs, TraceLogResult),
    "events": (EventsArgs, EventBatch),
    "list_retained": (RetainedListArgs, RetainedList),
    "get_retained": (RetainedArgs, RetainedMessage),
    "delete_retained": (RetainedArgs, RetainedDeleted),
    "topic_metrics": (TopicMetricsArgs, TopicMetricsResult),
    "reset_topic_metrics": (TopicMetricsArgs, TopicMetricsResult),
    "clear_retained": (TenantArgs, RetainedDeleted),
}


class AdminRequest(Model):
    id: int
    token: str
    op: AdminOp
    args: dict[str, Any] = Field(default_factory=dict)  # validated against ADMIN_OPS[op][0]
    request_id: str | None = Field(default=None, max_length=128)  # the API request that caused it
    actor: str | None = Field(default=None, max_length=200)  # who: "deployment_key:<app id>", ...


class AdminResponse(Model):
    id: int
    ok: bool
    result: dict[str, Any] | None = None  # ADMIN_OPS[op][1] dumped with by_alias=True
    error: ErrorBody | None = None


MAX_ADMIN_LINE = 64 * 1024 * 1024  # bytes in one request or response line
MAX_ADMIN_FIRST_LINE = 64 * 1024  # bytes of a connection's first line, read before its token is checked
