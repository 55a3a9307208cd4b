"""What EMQX 4's rule engine provides and the v4 API lists: resource types and actions (spec §2.3.10).

They are fixed (the API cannot add any); each entry has EMQX 4's fields. Rule: every name listed here is
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
}
