"""The one contract between the control plane and the broker data plane.

Two things cross the line between `control/` and `runtime/`, and both are defined here only:

1. **BrokerSpec**: everything one broker process needs to run: its listeners, TLS material, limits and
   its tenants (a Dedicated deployment is a broker with one tenant; the shared Serverless broker has one
   tenant per Serverless deployment, chosen by TLS SNI host name). Each tenant carries its own users,
   ACL rules and bans. The supervisor writes a BrokerSpec as JSON to a file and starts
   `mqttcloud broker --config FILE`; later changes are pushed live with the `apply_spec` admin op.

2. **The admin channel**: newline-delimited JSON over TCP on 127.0.0.1. The broker listens on
   `spec.admin.host:spec.admin.port` (port 0 = ephemeral) and, once every listener is bound, writes a
   `ReadyFile` (actual ports) atomically to `spec.ready_file`. Each request is one line,
   `AdminRequest` (carrying `spec.admin.token`); each answer is one line, `AdminResponse`, with the same
   `id`. Ops and their argument/result models are listed in `ADMIN_OPS`.

Rules this module must not break:
- It imports only the stdlib and pydantic: both planes import it, neither plane is imported here.
- Every field has a default or is required on purpose; adding a field must keep old files readable.
- Times on the wire are Unix epoch seconds as floats; the HTTP edge formats them.
"""

from enum import StrEnum
from typing import Any, Literal, NewType

from pydantic import BaseModel, ConfigDict, Field

from mqttcloud.contracts.events import EVENT_BUFFER, ClientEvent, EventBatch, EventKind, EventsArgs
from mqttcloud.contracts.retained import (
    RetainedArgs,
    RetainedDeleted,
    RetainedList,
    RetainedListArgs,
    RetainedMessage,
    RetainedSummary,
)
from mqttcloud.contracts.rules import (
    ActionCounters,
    ConsoleAction,
    HttpAction,
    RepublishAction,
    RuleAction,
    RuleCounters,
    RuleMetricsArgs,
    RuleMetricsResult,
    RuleSpec,
)
from mqttcloud.contracts.topic_metrics import (
    MAX_TOPIC_METRICS,
    TOPIC_METRIC_NAMES,
    TopicMetric,
    TopicMetricsArgs,
    TopicMetricsResult,
)

__all__ = [  # the data-integration (rules.py) and retained-message (retained.py) contracts, re-exported
    "EVENT_BUFFER",
    "MAX_TOPIC_METRICS",
    "TOPIC_METRIC_NAMES",
    "ActionCounters",
    "ClientEvent",
    "ConsoleAction",
    "EventBatch",
    "EventKind",
    "EventsArgs",
    "HttpAction",
    "RepublishAction",
    "RetainedArgs",
    "RetainedDeleted",
    "RetainedList",
    "RetainedListArgs",
    "RetainedMessage",
    "RetainedSummary",
    "RuleAction",
    "RuleCounters",
    "RuleMetricsArgs",
    "RuleMetricsResult",
    "RuleSpec",
    "TopicMetric",
    "TopicMetricsArgs",
    "TopicMetricsResult",
]

DeploymentId = NewType("DeploymentId", str)
TenantId = NewType("TenantId", str)

ADMIN_PROTOCOL_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------------------------------
# BrokerSpec
# --------------------------------------------------------------------------------------------------


class ListenerKind(StrEnum):
    TCP = "tcp"  # mqtt://   (1883-style)
    WS = "ws"  # ws://     (8083-style), path /mqtt, subprotocol "mqtt"
    TLS = "tls"  # mqtts://  (8883-style)
    WSS = "wss"  # wss://    (8084-style)


class TenantSelector(StrEnum):
    FIXED = "fixed"  # every connection belongs to ListenerSpec.tenant (Dedicated)
    SNI = "sni"  # the TLS SNI host name picks the tenant (shared Serverless listener)


class ListenerSpec(_Model):
    name: str  # stable name, e.g. "tcp:default"; reported back in ReadyFile and ClientInfo.listener
    kind: ListenerKind
    host: str = "127.0.0.1"
    port: int = Field(ge=0, le=65535)  # 0 = ephemeral, read the real port from the ReadyFile
    ws_path: str = "/mqtt"
    tenant_selector: TenantSelector = TenantSelector.FIXED
    tenant: TenantId | None = None  # required when tenant_selector is FIXED


class TlsMode(StrEnum):
    ONE_WAY = "one-way"
    TWO_WAY = "two-way"


class TlsSpec(_Model):
    """Server TLS material for the TLS and WSS listeners (PEM text). Swapping it keeps clients connected."""

    cert_pem: str  # server certificate followed by its chain
    key_pem: str  # unencrypted private key
    mode: TlsMode = TlsMode.ONE_WAY
    ca_pem: str | None = None  # client CA, required for two-way


class HashAlgorithm(StrEnum):
    """Password hash algorithms as EMQX stores them, so users can be imported from EMQX."""

    PLAIN = "plain"
    MD5 = "md5"  # legacy EMQX imports only
    SHA = "sha"  # SHA-1, EMQX's name for it; legacy imports only
    SHA256 = "sha256"
    SHA512 = "sha512"
    BCRYPT = "bcrypt"
    PBKDF2 = "pbkdf2"


class SaltPosition(StrEnum):
    PREFIX = "prefix"
    SUFFIX = "suffix"
    DISABLE = "disable"


class UserRecord(_Model):
    """One built-in authentication entry. `kind` says whether `user_id` is a username or a client id."""

    kind: Literal["username", "clientid"] = "username"
    user_id: str
    password_hash: str  # hex digest for sha*/pbkdf2, the full "$2b$..." string for bcrypt, text for plain
    algorithm: HashAlgorithm = HashAlgorithm.SHA256
    salt: str = ""
    salt_position: SaltPosition = SaltPosition.PREFIX
    pbkdf2_iterations: int = 4096
    pbkdf2_mac: Literal["sha256", "sha512", "sha1"] = "sha256"
    is_superuser: bool = False


class AclAction(StrEnum):
    PUBLISH = "publish"
    SUBSCRIBE = "subscribe"
    ALL = "all"


class AclPermission(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class AclRule(_Model):
    """One ACL rule. Exactly one of username / clientid, or neither for a rule that applies to all.

    `topic` may contain wildcards and the placeholders %u, %c, ${username}, ${clientid}; a topic written
    "eq t/#" matches only the literal topic "t/#". Rules are evaluated in list order; first match wins.
    """

    username: str | None = None
    clientid: str | None = None
    topic: str
    action: AclAction = AclAction.ALL
    permission: AclPermission = AclPermission.ALLOW


class BanKind(StrEnum):
    CLIENTID = "clientid"
    USERNAME = "username"
    PEERHOST = "peerhost"


class BanRecord(_Model):
    kind: BanKind  # EMQX's `as`
    who: str
    by: str = "user"
    reason: str = ""
    at: float  # epoch seconds
    until: float | None = None  # epoch seconds; None = forever


class Limits(_Model):
    """Every per-tenant bound; each is enforced with the MQTT 5 reason code the issue names."""

    max_packet_size: int = 1024 * 1024  # 0x95 Packet too large
    max_connections: int = 0  # 0 = unlimited; 0x97 Quota exceeded at CONNECT
    max_subscriptions_per_client: int = 0  # 0 = unlimited; 0x97 per filter in SUBACK
    max_topic_levels: int = 128  # 0x8F Topic filter invalid / 0x90 Topic name invalid
    max_publish_rate: float = 0.0  # messages/s per client, 0 = unlimited; over it the client is read
    #   more slowly (runtime.fairness), as EMQX throttles, not disconnected
    max_tenant_rate: float = 0.0  # inbound messages/s for the whole tenant (deployment TPS), 0 = unlimited;
    #   over it the tenant's connections are read more slowly (runtime.fairness), nothing is refused
    max_inflight: int = 32  # server receive maximum and per-session outbound window
    max_awaiting_rel: int = 100
    max_queue_len: int = 1000  # offline/outbound queue per session; overflow drops the oldest
    max_clientid_len: int = 65535
    max_retained: int = 0  # 0 = unlimited
    max_retained_size: int = 0  # 0 = unlimited
    max_session_expiry: int = 7200  # seconds; caps the client's request (MQTT 3.x persistent = this)
    connect_timeout: float = 10.0  # seconds to receive CONNECT after accept
    max_keepalive: int = 65535
    retry_interval: float = 30.0  # QoS 1/2 redelivery while connected (0 = only on reconnect)
    # Outbound memory (broker.budget): bytes unsent on a connection's socket plus its session queue.
    outbound_soft_budget: int = 1024 * 1024  # past it QoS 0 deliveries are dropped, oldest first
    outbound_hard_budget: int = 8 * 1024 * 1024  # past it the client is disconnected (0x97 Quota exceeded)
    tenant_outbound_budget: int = 64 * 1024 * 1024  # unsent bytes of all the tenant's connections;
    #   past it a connection over its soft budget is disconnected (0x97) as if past its hard budget


class TraceType(StrEnum):
    CLIENTID = "clientid"
    TOPIC = "topic"
    IP_ADDRESS = "ip_address"


class TraceSpec(_Model):
    """One log trace (EMQX `/api/v5/trace`): from `start_at` to `end_at` the broker appends the traffic of
    the clients (or the topic filter) `filter` names, packets with their fields, authentication and
    authorization decisions, to `<data_dir>/trace/<tenant>/<name>.log`, at most `max_bytes` of it."""

    name: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")
    type: TraceType
    filter: str  # the client id, topic filter or IP address
    start_at: float  # epoch seconds
    end_at: float
    payload_encode: Literal["text", "hex", "hidden"] = "text"
    max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)


class TenantSpec(_Model):
    tenant_id: TenantId  # the deployment id
    sni_hosts: list[str] = Field(default_factory=list)  # host names that select this tenant (SNI)
    enabled: bool = True  # False: refuse new connections, kick connected clients, keep data
    allow_anonymous: bool = False
    acl_default: AclPermission = AclPermission.ALLOW  # when no rule matches (EMQX no_match)
    users: list[UserRecord] = Field(default_factory=list)
    acl: list[AclRule] = Field(default_factory=list)
    banned: list[BanRecord] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)
    rules: list[RuleSpec] = Field(default_factory=list)  # data integration (contracts/rules.py)
    traces: list[TraceSpec] = Field(default_factory=list)  # log traces (runtime/trace.py)
    topic_metrics: list[str] = Field(default_factory=list)  # topic names counted (contracts/topic_metrics.py)


class AdminSpec(_Model):
    host: str = "127.0.0.1"
    port: int = 0
    token: str  # shared secret; every AdminRequest carries it


class ClusterSpec(_Model):
    """This node's place in a cluster: nodes of one deployment joined through NATS (`runtime/cluster`).

    Every node of a cluster runs the same tenants and listeners; `BrokerSpec.node_name` must be unique
    among them. Subjects, key-value buckets and the stream are namespaced by `name`.
    """

    nats_url: str  # nats://host:port of the NATS server (or cluster seed) the node joins
    name: str  # cluster name: the deployment id for Dedicated; namespaces every subject and bucket
    reuse_port: bool = True  # bind listeners with SO_REUSEPORT: nodes of one machine share the ports
    node_timeout: float = Field(default=10.0, gt=0)  # a node silent this long is dead: wills, sessions


class BrokerSpec(_Model):
    """What one broker process runs. Written as JSON by the supervisor; also readable from TOML."""

    broker_id: str  # deployment id for Dedicated, "serverless" for the shared broker
    node_name: str = "mqttcloud@127.0.0.1"  # reported as `node` in API objects
    data_dir: str  # persistence (retained, sessions, queued/in-flight QoS 1/2)
    ready_file: str  # where the broker writes ReadyFile once listening
    admin: AdminSpec
    listeners: list[ListenerSpec] = Field(default_factory=list)
    tls: TlsSpec | None = None  # TLS/WSS listeners are opened only while this is set
    tenants: list[TenantSpec] = Field(default_factory=list)
    sys_interval: float = 10.0  # $SYS publish interval, seconds (0 = off)
    event_history: int = Field(default=EVENT_BUFFER, ge=0)  # client events buffered per tenant (0: none)
    cluster: ClusterSpec | None = None  # None: a single node, no NATS


class ListenerAddress(_Model):
    name: str
    kind: ListenerKind
    host: str
    port: int


class ReadyFile(_Model):
    pid: int
    broker_id: str
    admin: ListenerAddress  # kind is "tcp"
    listeners: list[ListenerAddress]
    spec_generation: int = 0


# --------------------------------------------------------------------------------------------------
# Admin channel: shared value types
# --------------------------------------------------------------------------------------------------


class ConnState(StrEnum):
    CONNECTED = "connected"
    IDLE = "idle"
    DISCONNECTED = "disconnected"


class ClientInfo(_Model):
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


class SubscriptionInfo(_Model):
    clientid: str
    topic: str  # as subscribed, including "$share/group/" when shared
    qos: int
    nl: int = 0
    rap: int = 0
    rh: int = 0
    share_group: str | None = None
    subscription_id: int | None = None
    node: str


class ErrorBody(_Model):
    code: str  # UPPER_SNAKE_CASE: NOT_FOUND, CLIENTID_NOT_FOUND, BAD_REQUEST, UNAUTHORIZED, ...
    message: str


# --------------------------------------------------------------------------------------------------
# Admin channel: ops
# --------------------------------------------------------------------------------------------------


class PingArgs(_Model):
    pass


class PingResult(_Model):
    pid: int
    broker_id: str
    uptime: float
    spec_generation: int
    tenants: list[TenantId]
    # The longest event-loop stall since the previous ping, and the part of it that was the broker's own
    # CPU work rather than the machine's other load (runtime/loop_lag.py).
    loop_stall_ms: float = 0.0
    loop_stall_cpu_ms: float = 0.0


class ApplySpecArgs(_Model):
    """Replace the running configuration: listeners, TLS, tenants (users, ACL, bans, limits).

    Listeners are opened/closed to match; a changed TLS spec is swapped in for new handshakes while
    existing connections stay; removing TLS closes the TLS/WSS listeners and their connections; a tenant
    that is removed or disabled has its clients disconnected (v5: DISCONNECT 0x8B/0x9C); changed users,
    ACL and bans apply to the next CONNECT/PUBLISH/SUBSCRIBE, and newly banned clients are kicked.
    """

    spec: BrokerSpec
    generation: int


class ApplySpecResult(_Model):
    listeners: list[ListenerAddress]
    generation: int


class ClientFilter(_Model):
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


class ListClientsArgs(_Model):
    tenant: TenantId
    filter: ClientFilter = Field(default_factory=ClientFilter)
    page: int = Field(default=1, ge=1)
    limit: int = Field(default=100, ge=1, le=10000)


class ClientArgs(_Model):
    """Target one client: get_client, kick, client_subscriptions."""

    tenant: TenantId
    clientid: str


class SubscribeArgs(_Model):
    tenant: TenantId
    clientid: str
    topic: str
    qos: int = Field(default=0, ge=0, le=2)
    nl: int = Field(default=0, ge=0, le=1)
    rap: int = Field(default=0, ge=0, le=1)
    rh: int = Field(default=0, ge=0, le=2)


class UnsubscribeArgs(_Model):
    tenant: TenantId
    clientid: str
    topic: str


class SubscriptionFilter(_Model):
    clientid: str | None = None
    topic: str | None = None  # exact filter as subscribed
    qos: int | None = None
    share_group: str | None = None
    match_topic: str | None = None  # subscriptions whose filter matches this topic name


class ListSubscriptionsArgs(_Model):
    tenant: TenantId
    filter: SubscriptionFilter = Field(default_factory=SubscriptionFilter)
    page: int = Field(default=1, ge=1)
    limit: int = Field(default=100, ge=1, le=10000)


class PublishArgs(_Model):
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


class PublishResult(_Model):
    id: str  # 32 upper-case hex digits, EMQX-style message id
    matched: int  # number of subscriptions the message was routed to (0 → HTTP 202)


class TenantArgs(_Model):
    tenant: TenantId


class TenantStats(_Model):
    """EMQX `stats` names (dots kept as in EMQX: connections.count, topics.count, ...)."""

    values: dict[str, int]


class TenantMetrics(_Model):
    """EMQX `metrics` names: messages.received, messages.sent, packets.connect.received, ..."""

    values: dict[str, int]
    # EMQX `emqx_client_disconnected_reason`: disconnects by reason (kicked, takenover, tcp_closed...),
    # counted by the event history (empty while a broker records none)
    disconnect_reasons: dict[str, int] = Field(default_factory=dict)


class EmptyResult(_Model):
    pass


class CaptureArgs(_Model):
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


class CapturedMessage(_Model):
    topic: str
    payload_b64: str
    qos: int
    retain: bool
    clientid: str | None  # the publisher; None when the broker or the HTTP API published it
    timestamp: float


class CaptureBatch(_Model):
    messages: list[CapturedMessage]
    dropped: int  # messages dropped (queue full) since the consumer's previous call


class ClientList(_Model):
    data: list[ClientInfo]
    count: int
    page: int
    limit: int
    hasnext: bool


class SubscriptionList(_Model):
    data: list[SubscriptionInfo]
    count: int
    page: int
    limit: int
    hasnext: bool


class TraceLogArgs(_Model):
    """Read a trace's file (op `trace_log`): up to `limit` bytes from `offset` (limit 0: its size only)."""

    tenant: TenantId
    name: str
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=0, ge=0, le=16 * 1024 * 1024)


class TraceLogResult(_Model):
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


class AdminRequest(_Model):
    id: int
    token: str
    op: AdminOp
    args: dict[str, Any] = Field(default_factory=dict)  # validated against ADMIN_OPS[op][0]
    request_id: str | None = Field(default=None, max_length=128)  # the API request that caused it
    actor: str | None = Field(default=None, max_length=200)  # who: "deployment_key:<app id>", ...


class AdminResponse(_Model):
    id: int
    ok: bool
    result: dict[str, Any] | None = None  # ADMIN_OPS[op][1] dumped with by_alias=True
    error: ErrorBody | None = None


MAX_ADMIN_LINE = 64 * 1024 * 1024  # bytes in one request or response line
MAX_ADMIN_FIRST_LINE = 64 * 1024  # bytes of a connection's first line, read before its token is checked
