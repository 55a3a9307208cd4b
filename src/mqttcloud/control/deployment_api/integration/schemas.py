"""Request models of data integration in EMQX's field names: v5 connectors, actions, rules; v4 resources.

Durations are EMQX's: `"15s"`, `"500ms"`, `"1m"`, or a number of milliseconds (`config.seconds` reads
them). Unknown fields are ignored, as EMQX does.
"""

from typing import Annotated, Literal

from pydantic import Field, field_validator

from mqttcloud.control.deployment_api.schemas import In

Duration = str | int | float
Method = Literal["post", "put", "get", "delete"]


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


class SslIn(In):
    enable: bool = False
    verify: Literal["verify_peer", "verify_none"] = "verify_peer"
    cacertfile: str = ""  # a PEM (EMQX accepts the file's content here)


class TypedIn(In):
    """What every v5 connector and action body has: `type` and `name` (POST only), enable, description."""

    type: str | None = None
    name: str | None = None
    enable: bool = True
    description: str = Field(default="", max_length=4096)


class ConnectorIn(In):
    """v5 `http` connector: `POST /connectors` (`type`, `name` required), `PUT /connectors/{id}`."""

    type: str | None = None
    name: str | None = None
    url: str = Field(min_length=1, max_length=2048)
    headers: dict[str, str] = Field(default_factory=dict)
    connect_timeout: Duration = "15s"
    pool_size: int = Field(default=8, ge=1, le=1024)
    ssl: SslIn = Field(default_factory=SslIn)
    enable: bool = True
    description: str = Field(default="", max_length=4096)


class HttpParametersIn(In):
    path: str = Field(default="", max_length=2048)
    method: Method = "post"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str = Field(default="", max_length=65536)
    max_retries: int = Field(default=2, ge=0, le=100)

    _method = field_validator("method", mode="before")(_lower)


class ResourceOptsIn(In):
    request_ttl: Duration = "45s"
    max_buffer_bytes: int = Field(default=256 * 1024 * 1024, ge=1)


class ActionIn(In):
    """v5 `http` action: `POST /actions` (`type`, `name` required) and `PUT /actions/{id}`."""

    type: str | None = None
    name: str | None = None
    connector: str = Field(min_length=1, max_length=255)
    parameters: HttpParametersIn = Field(default_factory=HttpParametersIn)
    resource_opts: ResourceOptsIn = Field(default_factory=ResourceOptsIn)
    enable: bool = True
    description: str = Field(default="", max_length=4096)


class RuleIn(In):
    """v5 `POST /rules` and `PUT /rules/{id}` (`sql` required on create, PUT may change any field)."""

    id: str | None = None
    name: str | None = Field(default=None, max_length=255)
    sql: str | None = Field(default=None, max_length=65536)
    actions: list[str | dict[str, object]] | None = None
    enable: bool | None = None
    description: str | None = Field(default=None, max_length=4096)


class RuleTestIn(In):
    """v5 `POST /rule_test`: the SQL and one input (`context.event_type` names its source)."""

    sql: str = Field(max_length=65536)
    context: dict[str, object] = Field(default_factory=dict)


class WebHookConfigIn(In):
    """v4 `web_hook` resource `config` (EMQX 4 names)."""

    url: str = Field(min_length=1, max_length=2048)
    headers: dict[str, str] = Field(default_factory=dict)
    method: Method = "post"
    connect_timeout: Duration = "5s"
    request_timeout: Duration = "5s"
    pool_size: int = Field(default=8, ge=1, le=1024)
    cacertfile: str = ""
    verify: bool = False  # EMQX 4's `verify`: check the server's certificate

    _method = field_validator("method", mode="before")(_lower)


class ResourceIn(In):
    """v4 `POST /resources`."""

    type: str = Field(min_length=1)
    config: dict[str, object] = Field(default_factory=dict)
    description: str = Field(default="", max_length=4096)


class V4ActionIn(In):
    """One item of a v4 rule's `actions`: `{"name", "params"}`."""

    name: str = Field(min_length=1)
    params: dict[str, object] = Field(default_factory=dict)


class V4RuleIn(In):
    """v4 `POST /rules` (`rawsql` required) and `PUT /rules/{id}` (any of the fields)."""

    rawsql: str | None = Field(default=None, max_length=65536)
    actions: list[V4ActionIn] | None = None
    description: str | None = Field(default=None, max_length=4096)
    enabled: bool | None = None
    ctx: dict[str, object] = Field(default_factory=dict)  # `?test=true`: the sample input


# -- PostgreSQL, Redis, MQTT bridge (EMQX 5 `pgsql`, `redis`, `mqtt` connectors and actions) --------

Server = Annotated[str, Field(min_length=1, max_length=1024)]  # "host:port" (`config.check_server`)
Secret = Annotated[str, Field(max_length=1024)]  # a password, shown back as "******"


class PgsqlConnectorIn(TypedIn):
    """v5 `pgsql` connector."""

    server: Server
    database: str = Field(min_length=1, max_length=255)
    username: str = Field(min_length=1, max_length=255)
    password: Secret = ""
    pool_size: int = Field(default=8, ge=1, le=256)
    connect_timeout: Duration = "15s"
    ssl: SslIn = Field(default_factory=SslIn)


class RedisParametersIn(In):
    redis_type: Literal["single"] = "single"
    server: Server
    database: int = Field(default=0, ge=0, le=1000)
    username: str = Field(default="", max_length=255)
    password: Secret = ""


class RedisConnectorIn(TypedIn):
    """v5 `redis` connector (single node)."""

    parameters: RedisParametersIn
    pool_size: int = Field(default=8, ge=1, le=256)
    connect_timeout: Duration = "15s"
    ssl: SslIn = Field(default_factory=SslIn)


class MqttConnectorIn(TypedIn):
    """v5 `mqtt` connector: the remote broker."""

    server: Server
    proto_ver: Literal["v3", "v4", "v5"] = "v4"
    clientid_prefix: str = Field(default="", max_length=64)
    username: str = Field(default="", max_length=1024)
    password: Secret = ""
    clean_start: bool = True
    keepalive: Duration = "160s"
    pool_size: int = Field(default=8, ge=1, le=256)
    connect_timeout: Duration = "15s"
    ssl: SslIn = Field(default_factory=SslIn)


class BatchOptsIn(In):
    """`resource_opts` of the pooled actions."""

    batch_size: int = Field(default=1, ge=1, le=10_000)
    batch_time: Duration = "0ms"
    request_ttl: Duration = "45s"
    max_buffer_bytes: int = Field(default=256 * 1024 * 1024, ge=1)
    worker_pool_size: int = Field(default=16, ge=1, le=1024)
    inflight_window: int = Field(default=100, ge=1, le=10_000)


class PgsqlParametersIn(In):
    sql: str = Field(min_length=1, max_length=65536)


class RedisActionParametersIn(In):
    command_template: list[str] | str = Field(min_length=1)


class MqttParametersIn(In):
    topic: str = Field(min_length=1, max_length=1024)
    qos: int | str = 1
    retain: bool | str = False
    payload: str = Field(default="${payload}", max_length=65536)


class PgsqlActionIn(TypedIn):
    connector: str = Field(min_length=1, max_length=255)
    parameters: PgsqlParametersIn
    resource_opts: BatchOptsIn = Field(default_factory=BatchOptsIn)


class RedisActionIn(TypedIn):
    connector: str = Field(min_length=1, max_length=255)
    parameters: RedisActionParametersIn
    resource_opts: BatchOptsIn = Field(default_factory=BatchOptsIn)


class MqttActionIn(TypedIn):
    connector: str = Field(min_length=1, max_length=255)
    parameters: MqttParametersIn
    resource_opts: BatchOptsIn = Field(default_factory=BatchOptsIn)


# -- v4 resources: `backend_pgsql`, `backend_redis_single`, `bridge_mqtt` (EMQX 4 names) -------------

Switch = bool | Literal["on", "off", "true", "false"]


class PgsqlResourceIn(In):
    server: Server
    database: str = Field(min_length=1, max_length=255)
    user: str = Field(min_length=1, max_length=255)
    password: Secret = ""
    pool_size: int = Field(default=8, ge=1, le=256)
    ssl: Switch = False
    cacertfile: str = ""
    verify: bool = False


class RedisResourceIn(In):
    server: Server
    database: int = Field(default=0, ge=0, le=1000)
    password: Secret = ""
    pool_size: int = Field(default=8, ge=1, le=256)
    ssl: Switch = False
    cacertfile: str = ""
    verify: bool = False


class MqttResourceIn(In):
    address: Server
    clientid: str = Field(default="", max_length=64)
    username: str = Field(default="", max_length=1024)
    password: Secret = ""
    proto_ver: Literal["mqttv3", "mqttv4", "mqttv5"] = "mqttv4"
    keepalive: Duration = "60s"
    pool_size: int = Field(default=8, ge=1, le=256)
    mountpoint: str = Field(default="", max_length=1024)
    ssl: Switch = False
    cacertfile: str = ""
    verify: bool = False
