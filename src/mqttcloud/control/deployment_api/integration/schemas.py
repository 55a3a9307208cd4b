"""Request models of data integration in EMQX's field names: v5 connectors, actions, rules; v4 resources.

Durations are EMQX's: `"15s"`, `"500ms"`, `"1m"`, or a number of milliseconds (`config.seconds` reads
them). Unknown fields are ignored, as EMQX does.
"""

from typing import Literal

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


class ConnectorIn(In):
    """v5 `POST /connectors` (`type`, `name` required) and `PUT /connectors/{id}` (both ignored)."""

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
    """v5 `POST /actions` (`type`, `name` required) and `PUT /actions/{id}` (both ignored)."""

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
