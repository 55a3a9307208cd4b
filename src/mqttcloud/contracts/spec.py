"""BrokerSpec: everything one broker process runs (listeners, TLS, tenants with their users, ACL, bans,
limits, rules, traces), written by the supervisor and pushed live with `apply_spec`; and the ReadyFile the
broker writes once listening. Old spec files must stay readable: every new field has a default.
"""

from enum import StrEnum
from typing import Literal

from pydantic import Field

from mqttcloud.contracts.base import Model, TenantId
from mqttcloud.contracts.events import EVENT_BUFFER
from mqttcloud.contracts.rules import (
    RuleSpec,
)

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


class ListenerSpec(Model):
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


class TlsSpec(Model):
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


class UserRecord(Model):
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


class AclRule(Model):
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


class BanRecord(Model):
    kind: BanKind  # EMQX's `as`
    who: str
    by: str = "user"
    reason: str = ""
    at: float  # epoch seconds
    until: float | None = None  # epoch seconds; None = forever


class Limits(Model):
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


class TraceSpec(Model):
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


class TenantSpec(Model):
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


class AdminSpec(Model):
    host: str = "127.0.0.1"
    port: int = 0
    token: str  # shared secret; every AdminRequest carries it


class ClusterSpec(Model):
    """This node's place in a cluster: nodes of one deployment joined through NATS (`runtime/cluster`).

    Every node of a cluster runs the same tenants and listeners; `BrokerSpec.node_name` must be unique
    among them. Subjects, key-value buckets and the stream are namespaced by `name`.
    """

    nats_url: str  # nats://host:port of the NATS server (or cluster seed) the node joins
    name: str  # cluster name: the deployment id for Dedicated; namespaces every subject and bucket
    reuse_port: bool = True  # bind listeners with SO_REUSEPORT: nodes of one machine share the ports
    node_timeout: float = Field(default=10.0, gt=0)  # a node silent this long is dead: wills, sessions


class BrokerSpec(Model):
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
    # Measure event-loop stalls (runtime/loop_lag.py: a timer every 10 ms, read by `ping`); off by
    # default, so an idle broker wakes only for its own work. Benchmarks turn it on.
    loop_lag_probe: bool = False


class ListenerAddress(Model):
    name: str
    kind: ListenerKind
    host: str
    port: int


class ReadyFile(Model):
    pid: int
    broker_id: str
    admin: ListenerAddress  # kind is "tcp"
    listeners: list[ListenerAddress]
    spec_generation: int = 0
    core: Literal["mypyc", "interpreted"] = "interpreted"  # which broker core runs (mqttcloud.compiled)
