"""The data-integration part of the contract: rules and the actions they feed, as a broker runs them.

The control plane stores rules, connectors and actions in EMQX's shapes (v5 `/rules`, `/connectors`,
`/actions`; v4 `/rules`, `/resources`) and resolves them into these flat specs inside each
`TenantSpec.rules`: a rule carries its SQL (EMQX's dialect, `mqttcloud.rulesql`) and the actions to run
on each output, each action with everything it needs (an HTTP action carries its connector's URL and
headers; PostgreSQL, Redis and MQTT-bridge actions their server, credentials and pool). The broker
compiles the SQL, evaluates it on matching messages and client events, and runs the actions off the
MQTT hot path (bounded queues). `rule_metrics` reports the counters with EMQX 5's names.

Rules: stdlib and pydantic only; every field has a default or is required on purpose.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RepublishAction(_Model):
    """EMQX's `republish` function: publish each output again. Templates use `${field.path}`."""

    kind: Literal["republish"] = "republish"
    topic: str  # template, e.g. "alerts/${clientid}"
    qos: int | str = 0  # 0-2 or a template such as "${qos}"
    retain: bool | str = False  # or a template
    payload: str = ""  # template; "" sends the output as JSON (EMQX's default `${.}`)
    user_properties: str = ""  # template naming a map of the output (EMQX's `mqtt_properties`), or ""


class ConsoleAction(_Model):
    """EMQX's `console` function: log each output (and its environment) at info level."""

    kind: Literal["console"] = "console"


class HttpAction(_Model):
    """An HTTP action (EMQX 5 `http` action + connector; v4 `web_hook` resource + `data_to_webserver`)."""

    kind: Literal["http"] = "http"
    name: str  # the action's id as rules name it, e.g. "http:my_webhook"
    url: str  # connector URL plus the action's path, may hold templates
    method: Literal["post", "put", "get", "delete"] = "post"
    headers: dict[str, str] = Field(default_factory=dict)  # connector headers, then the action's
    body: str = ""  # template; "" sends the output as JSON
    connect_timeout: float = Field(default=15.0, gt=0, le=300)
    request_timeout: float = Field(default=15.0, gt=0, le=300)
    pool_size: int = Field(default=8, ge=1, le=1024)  # concurrent requests
    max_retries: int = Field(default=2, ge=0, le=100)
    max_queue: int = Field(default=10_000, ge=1, le=10_000_000)  # outputs waiting; past it: dropped
    verify_tls: bool = True
    ca_pem: str | None = None  # trust this CA (PEM) for an https URL instead of the system's


class ClientTls(_Model):
    """TLS towards an action's target (EMQX's connector `ssl` with `enable: true`)."""

    verify: bool = True  # check the server's certificate (and its name, unless `server_name` is "")
    ca_pem: str | None = None  # trust this CA (PEM) instead of the system's
    server_name: str = ""  # SNI and the name checked; "" uses the server's host


class _Pooled(_Model):
    """What the pooled actions share (`runtime/rules/sink.py`): a queue, batches, a connection pool."""

    name: str  # the action's id as rules name it, e.g. "pgsql:my_action", or a v4 action instance id
    server: str  # "host:port" (port may be omitted: the kind's default)
    pool_size: int = Field(default=8, ge=1, le=256)  # connections, one worker each
    batch_size: int = Field(default=1, ge=1, le=10_000)
    batch_time: float = Field(default=0.0, ge=0, le=60)  # seconds to wait for a batch to fill
    max_queue: int = Field(default=10_000, ge=1, le=10_000_000)  # outputs waiting; past it: dropped
    max_retries: int = Field(default=2, ge=0, le=100)
    connect_timeout: float = Field(default=15.0, gt=0, le=300)
    request_timeout: float = Field(default=15.0, gt=0, le=300)
    tls: ClientTls | None = None


class PgsqlAction(_Pooled):
    """A PostgreSQL action (EMQX 5 `pgsql` connector + action; v4 `backend_pgsql` + `data_to_pgsql`):
    `sql`'s `${path}` placeholders become bound parameters, never text in the statement."""

    kind: Literal["pgsql"] = "pgsql"
    database: str
    username: str
    password: str = ""
    sql: str


class RedisAction(_Pooled):
    """A Redis action (EMQX 5 `redis` single-node connector + action; v4 `backend_redis_single` +
    `data_to_redis`): one command per output, each argument a template; batches are pipelines."""

    kind: Literal["redis"] = "redis"
    database: int = Field(default=0, ge=0, le=1_000)
    username: str = ""
    password: str = ""
    command: list[str] = Field(min_length=1)  # e.g. ["HSET", "${clientid}", "temp", "${payload.temp}"]


class MqttAction(_Pooled):
    """An MQTT bridge egress (EMQX 5 `mqtt` connector + action; v4 `bridge_mqtt` + `data_to_mqtt_broker`):
    publish each output to another broker, reconnecting by itself."""

    kind: Literal["mqtt"] = "mqtt"
    client_id: str = ""  # "" picks one; a pool of N connects as <client_id>_1 .. <client_id>_N
    username: str = ""
    password: str = ""
    proto_ver: Literal[4, 5] = 4
    keepalive: int = Field(default=60, ge=0, le=65535)
    clean_start: bool = True
    topic: str  # template, e.g. "fwd/${topic}"
    qos: int | str = 1  # 0-2 or a template such as "${qos}"
    retain: bool | str = False  # or a template
    payload: str = "${payload}"  # template; "" sends the output as JSON


RuleAction = Annotated[
    RepublishAction | ConsoleAction | HttpAction | PgsqlAction | RedisAction | MqttAction,
    Field(discriminator="kind"),
]


class RuleSpec(_Model):
    id: str  # EMQX 5 rule id (or v4 `rule:<8 hex>`)
    sql: str  # parsed by mqttcloud.rulesql; the control plane refuses SQL that does not parse
    enabled: bool = True
    actions: list[RuleAction] = Field(default_factory=list)


class RuleMetricsArgs(_Model):
    tenant: str


class RuleCounters(_Model):
    """One rule's counters, EMQX 5 names (`GET /rules/{id}/metrics` -> `metrics`)."""

    matched: int = 0
    passed: int = 0
    failed: int = 0
    failed_exception: int = Field(default=0, alias="failed.exception")
    failed_no_result: int = Field(default=0, alias="failed.no_result")
    actions_total: int = Field(default=0, alias="actions.total")
    actions_success: int = Field(default=0, alias="actions.success")
    actions_failed: int = Field(default=0, alias="actions.failed")
    actions_failed_out_of_service: int = Field(default=0, alias="actions.failed.out_of_service")
    actions_failed_unknown: int = Field(default=0, alias="actions.failed.unknown")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ActionCounters(_Model):
    """One action's counters, EMQX 5 names (`GET /actions/{id}/metrics`), and its connection status."""

    matched: int = 0
    success: int = 0
    failed: int = 0
    dropped: int = 0
    queuing: int = 0
    inflight: int = 0
    retried: int = 0
    status: Literal["connected", "connecting", "disconnected"] = "connected"
    status_reason: str = ""  # why it is disconnected (the last error), "" when connected


class RuleMetricsResult(_Model):
    rules: dict[str, RuleCounters] = Field(default_factory=dict)  # by rule id
    actions: dict[str, ActionCounters] = Field(default_factory=dict)  # by action name (delivering actions)
