"""Run a rule's SQL on one sample input without deploying it (v5 `POST /rule_test`, v4 `?test=true`).

The input's source is `context.event_type` (`message_publish`, the default, or an event name such as
`client_connected`); missing columns get EMQX's sample values (client `c_emqx`, user `u_emqx`, topic
`t/a`, QoS 1, payload `{"msg": "hello"}`). Rule, as EMQX's tester: an input the rule does not select (its
topic or event is not in FROM, or WHERE is not true) is "SQL Not Match" (v5 412 NOT_MATCH), SQL that does
not parse is a 400 saying where, and a failure while running it is a 400 saying why.
"""

import secrets
import time
from collections.abc import Mapping
from typing import ClassVar

from mqttcloud import rulesql
from mqttcloud.control.deployment_api.integration.store import check_sql
from mqttcloud.control.errors import ApiError, BadRequest

_SAMPLE: dict[str, object] = {
    "clientid": "c_emqx",
    "username": "u_emqx",
    "topic": "t/a",
    "qos": 1,
    "payload": '{"msg": "hello"}',
    "peerhost": "127.0.0.1",
    "peername": "127.0.0.1:52918",
    "sockname": "0.0.0.0:1883",
    "proto_name": "MQTT",
    "proto_ver": 5,
    "keepalive": 60,
    "clean_start": True,
    "expiry_interval": 0,
    "is_bridge": False,
    "mountpoint": "undefined",
    "reason": "normal",
    "flags": {"retain": False, "dup": False},
    "pub_props": {},
    "conn_props": {},
    "disconn_props": {},
    "sub_props": {},
    "unsub_props": {},
    "puback_props": {},
}


class NotMatch(ApiError):  # noqa: N818  (named like control/errors.py's classes)
    """412: the rule does not select the sample input."""

    status_code: ClassVar[int] = 412
    default_code: ClassVar[str] = "NOT_MATCH"


def _source(event_type: str) -> str:
    """`message_publish` -> "" (a topic); `client_connected` / `$events/client_connected` -> the event."""
    name = event_type.removeprefix("$events/").removeprefix("events.").replace(".", "_")
    if name in {"message_publish", ""}:
        return ""
    if name not in rulesql.EVENT_FIELDS:
        known = ", ".join(["message_publish", *rulesql.EVENT_FIELDS])
        raise BadRequest(f"context.event_type must be one of {known}", field="context.event_type")
    return "$events/" + name


def columns(context: Mapping[str, object], source: str, node: str, now: float) -> dict[str, object]:
    """The input columns: the context's values over the sample's, for the source's columns."""
    fields = rulesql.source_fields(source) if source else rulesql.MESSAGE_FIELDS
    now_ms = int(now * 1000)
    defaults: dict[str, object] = {
        **_SAMPLE,
        "id": secrets.token_hex(16).upper(),
        "timestamp": now_ms,
        "publish_received_at": now_ms,
        "connected_at": now_ms,
        "disconnected_at": now_ms,
        "node": node,
    }
    chosen = {f: context.get(f, defaults.get(f)) for f in fields}
    chosen.update({k: v for k, v in context.items() if k != "event_type"})
    name = source.removeprefix("$events/") if source else "message_publish"
    chosen["event"] = name.replace("_", ".", 1)
    return chosen


def run(sql: str, context: Mapping[str, object], *, node: str, event_type: str | None = None) -> object:
    """The rule's output on the sample (a list for FOREACH). `event_type` None: from the context, else
    from the rule's first FROM source (v4's tester decides that way).

    Raises: BadRequest (bad SQL, bad event type, the rule fails on the input), NotMatch."""
    rule = check_sql(sql)
    chosen_type = event_type if event_type is not None else context.get("event_type")
    if chosen_type is None:
        chosen_type = next((s for s in rule.sources if s.startswith("$events/")), "message_publish")
    if not isinstance(chosen_type, str):
        raise BadRequest("context.event_type must be a string", field="context.event_type")
    source = _source(chosen_type)
    now = time.time()
    inputs = columns(context, source, node, now)
    topic = source or str(inputs.get("topic", ""))
    if not rule.matches(topic):
        raise NotMatch("SQL Not Match")
    try:
        output = rule.evaluate(inputs, now)
    except rulesql.EvalError as exc:
        raise BadRequest(
            f"the rule failed on this input: {exc}", code="BAD_REQUEST", field=exc.field or "sql"
        ) from None
    if output is None:
        raise NotMatch("SQL Not Match")
    return output
