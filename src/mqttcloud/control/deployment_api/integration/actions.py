"""A rule's actions: the canonical items stored in `RuleRow.actions`, read from and shown in both shapes.

Items (JSON objects with a `kind`):
- `republish` (v5 function `republish`, v4 action `republish`): topic, qos, retain, payload templates;
- `console` (v5 function `console`, v4 `inspect`); `do_nothing` (v4);
- `action` (v5 `"http:<name>"`): names a stored v5 action;
- `webhook` (v4 `data_to_webserver`): names a `web_hook` resource, with path/method/headers/payload_tmpl;
- `resource` (v4 `data_to_pgsql`, `data_to_redis`, `data_to_mqtt_broker`): `action` names the v4 action,
  `resource` its resource, `params` its params (`targets.py` checks and resolves them).
Every item carries `id`, its v4 action instance id (`<v4 name>_<number>`), which also names its counters.
Rule: an item's references are checked when the rule is written; resolving (`resolve`) skips what has
gone since (a deleted or disabled action), as EMQX counts such outputs as failed, never as an error.
"""

import itertools
import time
from collections.abc import Mapping, Sequence

from mqttcloud.contracts import ConsoleAction, RepublishAction, RuleAction
from mqttcloud.control.deployment_api.integration import config, targets
from mqttcloud.control.errors import BadRequest

Item = dict[str, object]
V4_NAMES = {
    "republish": "republish",
    "console": "inspect",
    "do_nothing": "do_nothing",
    "webhook": "data_to_webserver",
}
_counter = itertools.count()


def instance_id(v4_name: str) -> str:
    """A v4 action instance id: `<name>_<number>` (EMQX 4 uses a nanosecond time; unique per process)."""
    return f"{v4_name}_{time.time_ns() + next(_counter)}"


def _text(args: Mapping[str, object], key: str, default: str, field: str) -> str:
    value = args.get(key, default)
    if not isinstance(value, str):
        raise BadRequest(f"{field}.{key} must be a string", field=f"{field}.{key}")
    return value


def _qos(value: object, field: str) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2:
        return value
    if isinstance(value, str) and value.strip().isdigit() and int(value) <= 2:
        return int(value)
    if isinstance(value, str) and value.startswith("${"):
        return value
    raise BadRequest(f"{field} must be 0, 1, 2 or a template such as ${{qos}}", field=field)


def _retain(value: object, field: str) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    if isinstance(value, str) and value.startswith("${"):
        return value
    raise BadRequest(f"{field} must be true, false or a template such as ${{flags.retain}}", field=field)


def _republish(args: Mapping[str, object], field: str, *, v4: bool) -> Item:
    """EMQX 5 args `topic, qos, retain, payload, user_properties`; v4 `target_topic, target_qos,
    payload_tmpl` (`target_qos` -1 keeps the message's QoS)."""
    if v4:
        topic = _text(args, "target_topic", "", field)
        qos_in = args.get("target_qos", 0)
        qos = "${qos}" if qos_in in {-1, "-1"} else _qos(qos_in, f"{field}.target_qos")
        retain: bool | str = _retain(args.get("retain", False), f"{field}.retain")
        payload = _text(args, "payload_tmpl", "${payload}", field)
        user_properties = ""
    else:
        topic = _text(args, "topic", "", field)
        # EMQX's defaults: the message's QoS and retain flag; when the SELECT does not keep them the
        # broker uses 0 and false, as EMQX does (`templates.int_value` / `bool_value`).
        qos = _qos(args.get("qos", "${qos}"), f"{field}.qos")
        retain = _retain(args.get("retain", "${flags.retain}"), f"{field}.retain")
        payload = _text(args, "payload", "${payload}", field)
        user_properties = _text(args, "user_properties", "", field)
    if not topic or len(topic) > 1024:
        key = "target_topic" if v4 else "topic"
        raise BadRequest(f"{field}.{key} must be 1-1024 characters", field=f"{field}.{key}")
    return {
        "kind": "republish",
        "id": instance_id("republish"),
        "topic": topic,
        "qos": qos,
        "retain": retain,
        "payload": payload,
        "user_properties": user_properties,
    }


def from_v5(actions: Sequence[str | Mapping[str, object]], known: Mapping[str, bool]) -> list[Item]:
    """EMQX 5 rule `actions`: `"http:<name>"` (one of `known`, action id -> exists) or
    `{"function": "republish" | "console", "args": {...}}`. Raises: BadRequest naming the item."""
    items: list[Item] = []
    for index, action in enumerate(actions):
        field = f"actions[{index}]"
        if isinstance(action, str):
            if action not in known:
                raise BadRequest(f"{field}: action {action!r} not found", field=field)
            items.append({"kind": "action", "id": instance_id("data_to_webserver"), "action": action})
            continue
        function = action.get("function")
        args = action.get("args", {})
        if not isinstance(args, Mapping):
            raise BadRequest(f"{field}.args must be an object", field=f"{field}.args")
        if function == "republish":
            items.append(_republish(args, f"{field}.args", v4=False))
        elif function == "console":
            items.append({"kind": "console", "id": instance_id("inspect")})
        else:
            raise BadRequest(
                f"{field}.function must be republish or console, or name an action such as http:my_action",
                field=f"{field}.function",
            )
    return items


def from_v4(actions: Sequence[tuple[str, Mapping[str, object]]], resources: Mapping[str, str]) -> list[Item]:
    """EMQX 4 rule `actions` as (name, params): `inspect`, `do_nothing`, `republish`, `data_to_webserver`
    (`params["$resource"]` one of `resources`, id -> type). Each item keeps its `params` as given (the
    v4 API shows them back). Raises: BadRequest naming the item."""
    chosen = _from_v4(actions, resources)
    for item, (_name, params) in zip(chosen, actions, strict=True):
        item["params"] = dict(params)
    return chosen


def _from_v4(actions: Sequence[tuple[str, Mapping[str, object]]], resources: Mapping[str, str]) -> list[Item]:
    items: list[Item] = []
    for index, (name, params) in enumerate(actions):
        field = f"actions[{index}]"
        if name == "inspect":
            items.append({"kind": "console", "id": instance_id(name)})
        elif name == "do_nothing":
            items.append({"kind": "do_nothing", "id": instance_id(name)})
        elif name == "republish":
            items.append(_republish(params, f"{field}.params", v4=True))
        elif name in targets.V4_ACTIONS_ALL:
            resource = params.get("$resource")
            wanted = targets.V4_ACTIONS_ALL[name]
            if not isinstance(resource, str) or resources.get(resource) != wanted:
                raise BadRequest(
                    f"{field}.params.$resource must name a {wanted} resource",
                    field=f"{field}.params.$resource",
                )
            checked = targets.check_v4_params(name, params, f"{field}.params")
            items.append(
                {
                    "kind": "resource",
                    "id": instance_id(name),
                    "action": name,
                    "resource": resource,
                    "params": checked,
                }
            )
        elif name == "data_to_webserver":
            resource = params.get("$resource")
            if not isinstance(resource, str) or resources.get(resource) != "web_hook":
                raise BadRequest(
                    f"{field}.params.$resource must name a web_hook resource",
                    field=f"{field}.params.$resource",
                )
            method = params.get("method", "")
            if method and str(method).lower() not in {"post", "put", "get", "delete"}:
                raise BadRequest(
                    f"{field}.params.method must be POST, PUT, GET or DELETE", field=f"{field}.params.method"
                )
            items.append(
                {
                    "kind": "webhook",
                    "id": instance_id(name),
                    "resource": resource,
                    "path": _text(params, "path", "", f"{field}.params"),
                    "method": str(method).lower(),
                    "headers": {str(k): str(v) for k, v in _mapping(params.get("headers")).items()},
                    "payload_tmpl": _text(params, "payload_tmpl", "", f"{field}.params"),
                }
            )
        else:
            raise BadRequest(f"Action {name} Not Found", field=f"{field}.name")
    return items


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def references(items: Sequence[Item]) -> set[str]:
    """The v5 actions and v4 resources the items name."""
    return {
        str(i.get("resource") or i.get("action"))
        for i in items
        if i.get("kind") in {"action", "webhook", "resource"}
    }


def as_v5(item: Item) -> str | dict[str, object]:
    """One item as EMQX 5 shows it in a rule's `actions`."""
    kind = item.get("kind")
    if kind == "action":
        return str(item["action"])
    if kind == "republish":
        args = {k: item[k] for k in ("topic", "qos", "retain", "payload", "user_properties")}
        return {"function": "republish", "args": args}
    if kind == "console":
        return {"function": "console"}
    name = str(item["action"]) if kind == "resource" else V4_NAMES.get(str(kind), str(kind))
    return {"function": name, "args": _v4_params(item)}


def as_v4(item: Item) -> dict[str, object]:
    """One item as EMQX 4 shows it: `{"id", "name", "params"}` (metrics are added by the presenter)."""
    kind = str(item.get("kind"))
    name = str(item["action"]) if kind in {"action", "resource"} else V4_NAMES.get(kind, kind)
    return {"id": item.get("id", ""), "name": name, "params": _v4_params(item)}


def _v4_params(item: Item) -> dict[str, object]:
    given = item.get("params")
    if isinstance(given, dict):
        return given
    kind = item.get("kind")
    if kind == "republish":
        return {"target_topic": item["topic"], "target_qos": item["qos"], "payload_tmpl": item["payload"]}
    if kind == "webhook":
        return {
            "$resource": item["resource"],
            "path": item["path"],
            "method": item["method"],
            "headers": item["headers"],
            "payload_tmpl": item["payload_tmpl"],
        }
    return {}


def resolve(
    items: Sequence[Item],
    actions: Mapping[str, tuple[Mapping[str, object], Mapping[str, object]]],
    resources: Mapping[str, Mapping[str, object]],
) -> list[RuleAction]:
    """The items as the broker runs them. `actions`: enabled v5 action id -> (connector config, action
    config); `resources`: enabled v4 resource id -> config. Items naming something missing are skipped."""
    resolved: list[RuleAction] = []
    for item in items:
        kind = item.get("kind")
        if kind == "republish":
            resolved.append(
                RepublishAction(
                    topic=str(item["topic"]),
                    qos=_as_qos(item.get("qos")),
                    retain=_as_retain(item.get("retain")),
                    payload=str(item.get("payload", "")),
                    user_properties=str(item.get("user_properties", "")),
                )
            )
        elif kind == "console":
            resolved.append(ConsoleAction())
        elif kind == "action" and (pair := actions.get(str(item["action"]))) is not None:
            action_id = str(item["action"])
            if action_id.startswith("http:"):
                resolved.append(config.connector_action(action_id, pair[0], pair[1]))
            else:
                resolved.append(targets.v5_action(action_id, pair[0], pair[1]))
        elif kind == "resource" and (resource := resources.get(str(item["resource"]))) is not None:
            params = item.get("params")
            resolved.append(
                targets.v4_action(
                    str(item["id"]), str(item["action"]), resource, params if isinstance(params, dict) else {}
                )
            )
        elif kind == "webhook" and (resource := resources.get(str(item["resource"]))) is not None:
            params = {
                "path": item.get("path"),
                "method": item.get("method"),
                "headers": item.get("headers"),
                "payload_tmpl": item.get("payload_tmpl"),
            }
            resolved.append(config.webhook_action(str(item["id"]), resource, params))
    return resolved


def _as_qos(value: object) -> int | str:
    return value if isinstance(value, int | str) and not isinstance(value, bool) else 0


def _as_retain(value: object) -> bool | str:
    return value if isinstance(value, bool | str) else False
