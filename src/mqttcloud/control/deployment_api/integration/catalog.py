"""What EMQX 4's rule engine provides and the v4 API lists: resource types and actions (spec §2.3.10).

They are fixed (the API cannot add any); each entry has EMQX 4's fields: `web_hook`, `backend_pgsql`,
`backend_redis_single`, `bridge_mqtt`, and the actions over them. Rule: every name listed here is
one `actions.from_v4` accepts, and every resource type one `v4.py` can create.
"""

from typing import Final

_HTTP_METHODS = ["POST", "PUT", "GET", "DELETE"]


def _text(en: str, zh: str) -> dict[str, str]:
    return {"en": en, "zh": zh}


def _param(
    kind: str, title: str, zh: str, *, required: bool = False, default: object = None
) -> dict[str, object]:
    spec: dict[str, object] = {
        "type": kind,
        "required": required,
        "title": _text(title, zh),
        "description": _text(title, zh),
    }
    if default is not None:
        spec["default"] = default
    return spec


RESOURCE_TYPES: Final[dict[str, dict[str, object]]] = {
    "web_hook": {
        "name": "web_hook",
        "provider": "emqx_web_hook",
        "title": _text("WebHook", "WebHook"),
        "description": _text("WebHook", "WebHook"),
        "params": {
            "url": _param("string", "Request URL", "请求 URL", required=True),
            "headers": _param("object", "Request Header", "请求头", default={}),
            "method": {
                **_param("string", "Request Method", "请求方法", default="POST"),
                "enum": _HTTP_METHODS,
            },
            "connect_timeout": _param("string", "Connect Timeout", "连接超时时间", default="5s"),
            "request_timeout": _param("string", "Request Timeout", "请求超时时间", default="5s"),
            "pool_size": _param("number", "Pool Size", "连接池大小", default=8),
            "cacertfile": _param("file", "CA Certificate File", "CA 证书文件", default=""),
            "verify": _param("boolean", "Verify Server Certfile", "校验服务器证书", default=False),
        },
    }
}


def _tls_params() -> dict[str, dict[str, object]]:
    return {
        "ssl": _param("boolean", "Enable SSL", "开启 SSL", default=False),
        "cacertfile": _param("file", "CA Certificate File", "CA 证书文件", default=""),
        "verify": _param("boolean", "Verify Server Certfile", "校验服务器证书", default=False),
    }


RESOURCE_TYPES.update(
    {
        "backend_pgsql": {
            "name": "backend_pgsql",
            "provider": "emqx_backend_pgsql",
            "title": _text("PostgreSQL", "PostgreSQL"),
            "description": _text("PostgreSQL Database", "PostgreSQL 数据库"),
            "params": {
                "server": _param(
                    "string",
                    "PostgreSQL Server",
                    "PostgreSQL 服务器",
                    required=True,
                    default="127.0.0.1:5432",
                ),
                "database": _param(
                    "string", "PostgreSQL Database", "PostgreSQL 数据库名称", required=True, default="mqtt"
                ),
                "user": _param(
                    "string", "PostgreSQL User", "PostgreSQL 用户名", required=True, default="root"
                ),
                "password": _param("password", "PostgreSQL Password", "PostgreSQL 密码", default=""),
                "pool_size": _param("number", "Pool Size", "连接池大小", default=8),
                **_tls_params(),
            },
        },
        "backend_redis_single": {
            "name": "backend_redis_single",
            "provider": "emqx_backend_redis",
            "title": _text("Redis Single Mode", "Redis 单节点模式"),
            "description": _text("Redis Single Mode", "Redis 单节点模式"),
            "params": {
                "server": _param(
                    "string", "Redis Server", "Redis 服务器", required=True, default="127.0.0.1:6379"
                ),
                "database": _param("number", "Redis Database", "Redis 数据库", default=0),
                "password": _param("password", "Redis Password", "Redis 密码", default=""),
                "pool_size": _param("number", "Pool Size", "连接池大小", default=8),
                **_tls_params(),
            },
        },
        "bridge_mqtt": {
            "name": "bridge_mqtt",
            "provider": "emqx_bridge_mqtt",
            "title": _text("MQTT Bridge", "MQTT Bridge"),
            "description": _text("MQTT Message Bridge", "MQTT 消息桥接"),
            "params": {
                "address": _param(
                    "string", "Broker Address", "远程 Broker 地址", required=True, default="127.0.0.1:1883"
                ),
                "clientid": _param("string", "Client ID", "客户端 ID", default="client"),
                "username": _param("string", "Username", "用户名", default=""),
                "password": _param("password", "Password", "密码", default=""),
                "proto_ver": {
                    **_param("string", "Protocol Version", "协议版本", default="mqttv4"),
                    "enum": ["mqttv3", "mqttv4", "mqttv5"],
                },
                "keepalive": _param("string", "Keepalive", "心跳间隔", default="60s"),
                "mountpoint": _param(
                    "string", "Bridge MountPoint", "桥接挂载点", default="bridge/emqx/${node}/"
                ),
                "pool_size": _param("number", "Pool Size", "连接池大小", default=8),
                **_tls_params(),
            },
        },
    }
)


def _action(
    name: str, app: str, resource_type: str, title: tuple[str, str], params: dict[str, object]
) -> dict[str, object]:
    return {
        "name": name,
        "app": app,
        "category": "data_persist" if name != "data_to_mqtt_broker" else "data_forward",
        "for": "$any" if name != "data_to_mqtt_broker" else "message.publish",
        "types": [resource_type],
        "title": _text(*title),
        "description": _text(*title),
        "params": {"$resource": _param("string", "Resource ID", "资源 ID", required=True), **params},
    }


ACTIONS: Final[dict[str, dict[str, object]]] = {
    "data_to_webserver": {
        "name": "data_to_webserver",
        "app": "emqx_web_hook",
        "category": "data_forward",
        "for": "$any",
        "types": ["web_hook"],
        "title": _text("Data to Web Server", "发送数据到 Web 服务"),
        "description": _text("Forward Messages to Web Server", "将数据转发给 Web 服务"),
        "params": {
            "$resource": _param("string", "Resource ID", "资源 ID", required=True),
            "path": _param("string", "Path", "Path", default=""),
            "method": {**_param("string", "Method", "请求方法", default="POST"), "enum": _HTTP_METHODS},
            "headers": _param("object", "Headers", "请求头", default={}),
            "payload_tmpl": _param("string", "Payload Template", "消息内容模板", default=""),
        },
    },
    "do_nothing": {
        "name": "do_nothing",
        "app": "emqx_rule_engine",
        "category": "debug",
        "for": "$any",
        "types": [],
        "title": _text("Do Nothing (debug)", "空动作 (调试)"),
        "description": _text(
            "This action does nothing and never fails. It's for debug purpose",
            "此动作什么都不做, 并且不会失败 (用以调试)",
        ),
        "params": {},
    },
    "inspect": {
        "name": "inspect",
        "app": "emqx_rule_engine",
        "category": "debug",
        "for": "$any",
        "types": [],
        "title": _text("Inspect (debug)", "检查 (调试)"),
        "description": _text(
            "Inspect the details of action params for debug purpose", "检查动作参数 (用以调试)"
        ),
        "params": {},
    },
    "republish": {
        "name": "republish",
        "app": "emqx_rule_engine",
        "category": "data_forward",
        "for": "$any",
        "types": [],
        "title": _text("Republish", "消息重新发布"),
        "description": _text("Republish a MQTT message to another topic", "重新发布消息到另一个主题"),
        "params": {
            "target_topic": _param(
                "string", "Target Topic", "目的主题", required=True, default="repub/to/${clientid}"
            ),
            "target_qos": {**_param("number", "Target QoS", "目的 QoS", default=0), "enum": [-1, 0, 1, 2]},
            "payload_tmpl": _param("string", "Payload Template", "消息内容模板", default="${payload}"),
        },
    },
    "data_to_pgsql": _action(
        "data_to_pgsql",
        "emqx_backend_pgsql",
        "backend_pgsql",
        ("Data to PostgreSQL", "保存数据到 PostgreSQL"),
        {
            "sql": _param(
                "string",
                "SQL Template",
                "SQL 模板",
                required=True,
                default="insert into t_mqtt_msg(msgid, topic, qos, payload) "
                "values (${id}, ${topic}, ${qos}, ${payload})",
            ),
            "enable_batch": _param("boolean", "Enable Batch", "开启批量写", default=True),
            "batch_size": _param("number", "Max Batch Size", "最大批量数", default=100),
            "batch_time": _param("number", "Max Batch Interval (ms)", "最大批量间隔 (毫秒)", default=10),
        },
    ),
    "data_to_redis": _action(
        "data_to_redis",
        "emqx_backend_redis",
        "backend_redis_single",
        ("Data to Redis", "保存数据到 Redis"),
        {
            "cmd": _param(
                "string", "Redis CMD", "Redis 命令", required=True, default="HMSET mqtt:${clientid} id ${id}"
            )
        },
    ),
    "data_to_mqtt_broker": _action(
        "data_to_mqtt_broker",
        "emqx_bridge_mqtt",
        "bridge_mqtt",
        ("Data bridge to MQTT Broker", "桥接数据到 MQTT Broker"),
        {"payload_tmpl": _param("string", "Payload Template", "消息内容模板", default="${payload}")},
    ),
}
