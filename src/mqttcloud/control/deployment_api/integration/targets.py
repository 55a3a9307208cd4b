"""PostgreSQL, Redis and MQTT-bridge connectors and actions: checked bodies in, broker actions out.

For each kind, the v5 connector and action bodies (EMQX 5 `pgsql`, `redis`, `mqtt`) and the v4
resource config and action params (EMQX 4 `backend_pgsql` + `data_to_pgsql`, `backend_redis_single`
+ `data_to_redis`, `bridge_mqtt` + `data_to_mqtt_broker`) are checked here (`check_*`: 400 naming the
field, or 422 from the body model) and resolved into the contract's `PgsqlAction`, `RedisAction`,
`MqttAction`.

Rules: a stored config has passed its `check_*`, so resolving it cannot fail; passwords are shown back
as `MASK`, and a write that sends `MASK` keeps the stored password (EMQX's behaviour). Passwords are
stored sealed (`seal_secrets`, `control/at_rest.py`) and resolved sealed: only the broker spec builder
opens them.
"""

import re
from collections.abc import Callable, Mapping
from typing import Final

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from mqttcloud.contracts.rules import ClientTls, MqttAction, PgsqlAction, RedisAction
from mqttcloud.control.at_rest import SecretBox, is_sealed
from mqttcloud.control.deployment_api.integration import config
from mqttcloud.control.deployment_api.integration.schemas import (
    MqttActionIn,
    MqttConnectorIn,
    MqttResourceIn,
    PgsqlActionIn,
    PgsqlConnectorIn,
    PgsqlResourceIn,
    RedisActionIn,
    RedisConnectorIn,
    RedisResourceIn,
)
from mqttcloud.control.errors import BadRequest

MASK: Final = "******"
V5_CONNECTORS: Final[dict[str, type[BaseModel]]] = {
    "pgsql": PgsqlConnectorIn,
    "redis": RedisConnectorIn,
    "mqtt": MqttConnectorIn,
}
V5_ACTIONS: Final[dict[str, type[BaseModel]]] = {
    "pgsql": PgsqlActionIn,
    "redis": RedisActionIn,
    "mqtt": MqttActionIn,
}
V4_RESOURCES: Final[dict[str, type[BaseModel]]] = {
    "backend_pgsql": PgsqlResourceIn,
    "backend_redis_single": RedisResourceIn,
    "bridge_mqtt": MqttResourceIn,
}
V4_ACTIONS: Final = {"data_to_pgsql": "backend_pgsql", "data_to_redis": "backend_redis_single"}
V4_ACTIONS_ALL: Final = {**V4_ACTIONS, "data_to_mqtt_broker": "bridge_mqtt"}
_SERVER: Final = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+)(?::(\d{1,5}))?")
_COMMAND: Final = re.compile(r"[A-Za-z][A-Za-z0-9_.|]*")


def validated(model: type[BaseModel], value: object, prefix: tuple[str, ...] = ("body",)) -> BaseModel:
    """`value` checked by `model`. Raises: RequestValidationError (422, each error at `prefix` + its loc)."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        errors = [{**e, "loc": (*prefix, *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors) from None


def check_server(server: str, field: str) -> str:
    """Raises: BadRequest unless `server` is `host` or `host:port` (port 1-65535)."""
    m = _SERVER.fullmatch(server.strip())
    if m is None or (m.group(2) is not None and not 1 <= int(m.group(2)) <= 65535):
        raise BadRequest(f"{field} must be host:port, e.g. 127.0.0.1:5432", field=field)
    return server.strip()


def redis_command(value: list[str] | str, field: str) -> list[str]:
    """A command template as its arguments: a list as given, a string split on spaces (EMQX 4's `cmd`).
    Raises: BadRequest unless it starts with a command name."""
    args = value.split() if isinstance(value, str) else [str(a) for a in value]
    if not args or not _COMMAND.fullmatch(args[0]):
        raise BadRequest(f"{field} must start with a Redis command, e.g. HSET ${{clientid}} t 1", field=field)
    return args


def keep_secret(new: dict[str, object], old: Mapping[str, object] | None) -> dict[str, object]:
    """`new` with a masked password (top level or in `parameters`) replaced by the stored one."""
    if old is None:
        return new
    out = dict(new)
    if out.get("password") == MASK:
        out["password"] = old.get("password", "")
    params, old_params = out.get("parameters"), old.get("parameters")
    if isinstance(params, dict) and isinstance(old_params, Mapping) and params.get("password") == MASK:
        out["parameters"] = {**params, "password": old_params.get("password", "")}
    return out


def _with_passwords(config: Mapping[str, object], change: Callable[[str], str]) -> dict[str, object]:
    """`config` with `change` applied to its passwords (top level or in `parameters`)."""
    out = dict(config)
    if isinstance(out.get("password"), str):
        out["password"] = change(str(out["password"]))
    params = out.get("parameters")
    if isinstance(params, dict) and isinstance(params.get("password"), str):
        out["parameters"] = {**params, "password": change(params["password"])}
    return out


def seal_secrets(config: dict[str, object], box: SecretBox) -> dict[str, object]:
    """A written config with its passwords sealed; `MASK` (keep the stored one) and "" stay."""
    return _with_passwords(config, lambda value: value if value in ("", MASK) else box.seal(value))


def seal_stored(config: Mapping[str, object], box: SecretBox) -> dict[str, object] | None:
    """A stored config with the passwords it holds from before sealing sealed; None when it has none."""
    sealed = _with_passwords(
        config, lambda value: value if not value or is_sealed(value) else box.seal(value)
    )
    return None if sealed == config else sealed


def masked(stored: Mapping[str, object]) -> dict[str, object]:
    """A stored config as the API shows it: passwords as `MASK` (an empty one stays empty)."""
    return _with_passwords(stored, lambda value: MASK if value else value)


# -- v5 ---------------------------------------------------------------------------------------------


def check_v5_connector(type_: str, body: object) -> dict[str, object]:
    """The stored config of a `pgsql`, `redis` or `mqtt` connector body. Raises: 422, BadRequest."""
    checked = validated(V5_CONNECTORS[type_], body)
    stored = checked.model_dump(mode="json", exclude={"type", "name", "enable", "description"})
    params = stored.get("parameters")
    server = params.get("server") if isinstance(params, dict) else stored.get("server")
    check_server(str(server), "parameters.server" if isinstance(params, dict) else "server")
    config.seconds(stored.get("connect_timeout"), "connect_timeout")
    if "keepalive" in stored:
        config.seconds(stored["keepalive"], "keepalive")
    ssl = stored.get("ssl")
    if isinstance(ssl, dict):
        config.check_pem(str(ssl.get("cacertfile", "")), "ssl.cacertfile")
    return stored


def check_v5_action(type_: str, body: object) -> dict[str, object]:
    """The stored `parameters` and `resource_opts` of an action body. Raises: 422, BadRequest."""
    checked = validated(V5_ACTIONS[type_], body)
    stored = checked.model_dump(mode="json", include={"parameters", "resource_opts"})
    opts = stored["resource_opts"]
    assert isinstance(opts, dict)
    config.seconds(opts["request_ttl"], "resource_opts.request_ttl")
    if opts["batch_time"] not in (0, "0ms", "0s", "0"):
        config.seconds(opts["batch_time"], "resource_opts.batch_time")
    params = stored["parameters"]
    assert isinstance(params, dict)
    if type_ == "redis":
        params["command_template"] = redis_command(params["command_template"], "parameters.command_template")
    if type_ == "mqtt":
        check_qos(params["qos"], "parameters.qos")
    return stored


def check_qos(value: object, field: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2:
        return
    if isinstance(value, str) and (value.strip() in {"0", "1", "2"} or value.startswith("${")):
        return
    raise BadRequest(f"{field} must be 0, 1, 2 or a template such as ${{qos}}", field=field)


def _tls(ssl: object) -> ClientTls | None:
    if not isinstance(ssl, Mapping) or not ssl.get("enable"):
        return None
    return ClientTls(verify=ssl.get("verify") != "verify_none", ca_pem=_str(ssl.get("cacertfile")) or None)


def _str(value: object, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _seconds(value: object, default: float) -> float:
    if value in (0, "0ms", "0s", "0"):
        return 0.0
    try:
        return config.seconds(value, "duration")
    except BadRequest:
        return default


def _pool(connector: Mapping[str, object], opts: Mapping[str, object]) -> dict[str, object]:
    return {
        "pool_size": min(_int(connector.get("pool_size"), 8), 256),
        "batch_size": _int(opts.get("batch_size"), 1),
        "batch_time": min(_seconds(opts.get("batch_time"), 0.0), 60.0),
        "connect_timeout": _seconds(connector.get("connect_timeout"), 15.0),
        "request_timeout": _seconds(opts.get("request_ttl"), 45.0),
        "tls": _tls(connector.get("ssl")),
    }


def v5_action(
    action_id: str, connector: Mapping[str, object], action: Mapping[str, object]
) -> PgsqlAction | RedisAction | MqttAction:
    """A stored v5 action (`<type>:<name>`) over its stored connector, as the broker runs it."""
    type_ = action_id.split(":", 1)[0]
    params = _mapping(action.get("parameters"))
    opts = _mapping(action.get("resource_opts"))
    pool = _pool(connector, opts)
    if type_ == "pgsql":
        return PgsqlAction.model_validate(
            {
                "name": action_id,
                "server": _str(connector.get("server")),
                "database": _str(connector.get("database")),
                "username": _str(connector.get("username")),
                "password": _str(connector.get("password")),
                "sql": _str(params.get("sql")),
                **pool,
            }
        )
    if type_ == "redis":
        server = _mapping(connector.get("parameters"))
        command = params.get("command_template")
        return RedisAction.model_validate(
            {
                "name": action_id,
                "server": _str(server.get("server")),
                "database": _int(server.get("database"), 0),
                "username": _str(server.get("username")),
                "password": _str(server.get("password")),
                "command": command if isinstance(command, list) else _str(command).split(),
                **pool,
            }
        )
    prefix = _str(connector.get("clientid_prefix"))
    return MqttAction.model_validate(
        {
            "name": action_id,
            "server": _str(connector.get("server")),
            "client_id": f"{prefix}{action_id.split(':', 1)[1]}"[:64],
            "username": _str(connector.get("username")),
            "password": _str(connector.get("password")),
            "proto_ver": 5 if connector.get("proto_ver") == "v5" else 4,
            "keepalive": min(int(_seconds(connector.get("keepalive"), 160.0)), 65535),
            "clean_start": connector.get("clean_start") is not False,
            "topic": _str(params.get("topic")),
            "qos": _qos(params.get("qos")),
            "retain": _retain(params.get("retain")),
            "payload": _str(params.get("payload"), "${payload}"),
            **pool,
        }
    )


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _qos(value: object) -> int | str:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value if isinstance(value, int | str) and not isinstance(value, bool) else 1


def _retain(value: object) -> bool | str:
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    return value if isinstance(value, bool | str) else False


# -- v4 ---------------------------------------------------------------------------------------------


def check_v4_resource(type_: str, body: object) -> None:
    """Raises: 422 (the config's model), BadRequest (server, durations, PEM) naming `config.<field>`."""
    checked = validated(V4_RESOURCES[type_], body, ("body", "config"))
    values = checked.model_dump(mode="json")
    key = "address" if type_ == "bridge_mqtt" else "server"
    check_server(str(values[key]), f"config.{key}")
    if "keepalive" in values:
        config.seconds(values["keepalive"], "config.keepalive")
    config.check_pem(str(values.get("cacertfile", "")), "config.cacertfile")


def check_v4_params(name: str, params: Mapping[str, object], field: str) -> dict[str, object]:
    """A v4 `data_to_pgsql` / `data_to_redis` / `data_to_mqtt_broker` action's params as stored.
    Raises: BadRequest naming the param."""
    if name == "data_to_pgsql":
        sql = params.get("sql")
        if not isinstance(sql, str) or not sql.strip():
            raise BadRequest(f"{field}.sql must be an SQL statement", field=f"{field}.sql")
        batch_size = params.get("batch_size", 100)
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or not 1 <= batch_size <= 10_000:
            raise BadRequest(f"{field}.batch_size must be 1-10000", field=f"{field}.batch_size")
    elif name == "data_to_redis":
        cmd = params.get("cmd")
        if not isinstance(cmd, str | list):
            raise BadRequest(f"{field}.cmd must be a Redis command template", field=f"{field}.cmd")
        redis_command(cmd, f"{field}.cmd")
    else:
        payload = params.get("payload_tmpl", "${payload}")
        if not isinstance(payload, str):
            raise BadRequest(f"{field}.payload_tmpl must be a string", field=f"{field}.payload_tmpl")
    return dict(params)


def _switch(value: object) -> bool:
    return value is True or value in {"on", "true"}


def _v4_tls(resource: Mapping[str, object]) -> ClientTls | None:
    if not _switch(resource.get("ssl")):
        return None
    return ClientTls(verify=resource.get("verify") is True, ca_pem=_str(resource.get("cacertfile")) or None)


def v4_action(
    instance_id: str, name: str, resource: Mapping[str, object], params: Mapping[str, object]
) -> PgsqlAction | RedisAction | MqttAction:
    """A stored v4 action instance over its stored resource config, as the broker runs it."""
    pool = {
        "pool_size": min(_int(resource.get("pool_size"), 8), 256),
        "tls": _v4_tls(resource),
        "connect_timeout": 15.0,
        "request_timeout": 15.0,
    }
    if name == "data_to_pgsql":
        batch = params.get("enable_batch") is not False
        return PgsqlAction.model_validate(
            {
                "name": instance_id,
                "server": _str(resource.get("server")),
                "database": _str(resource.get("database")),
                "username": _str(resource.get("user")),
                "password": _str(resource.get("password")),
                "sql": _str(params.get("sql")),
                "batch_size": _int(params.get("batch_size"), 100) if batch else 1,
                "batch_time": min(_int(params.get("batch_time"), 10), 60_000) / 1000 if batch else 0.0,
                **pool,
            }
        )
    if name == "data_to_redis":
        cmd = params.get("cmd")
        return RedisAction.model_validate(
            {
                "name": instance_id,
                "server": _str(resource.get("server")),
                "database": _int(resource.get("database"), 0),
                "password": _str(resource.get("password")),
                "command": [str(a) for a in cmd] if isinstance(cmd, list) else _str(cmd).split(),
                **pool,
            }
        )
    return MqttAction.model_validate(
        {
            "name": instance_id,
            "server": _str(resource.get("address")),
            "client_id": _str(resource.get("clientid")),
            "username": _str(resource.get("username")),
            "password": _str(resource.get("password")),
            "proto_ver": 5 if resource.get("proto_ver") == "mqttv5" else 4,
            "keepalive": min(int(_seconds(resource.get("keepalive"), 60.0)), 65535),
            # EMQX 4 forwards the message under the resource's mountpoint, with its QoS and retain
            "topic": _str(resource.get("mountpoint")) + "${topic}",
            "qos": "${qos}",
            "retain": "${flags.retain}",
            "payload": _str(params.get("payload_tmpl"), "${payload}") or "${payload}",
            **pool,
        }
    )
