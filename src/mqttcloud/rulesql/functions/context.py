"""Accessor built-ins that read the input itself: clientid(), username(), topic(), topic(N),
qos(), msgid(), flags(), flag(Name), peerhost(), clientip(), payload(), payload(Path),
contains_topic(), contains_topic_match().

Rule: each reads the column of the same meaning (`msgid()` reads `id`); an accessor whose
column is missing gives undefined, like the column would.
"""

from typing import Final

from mqttcloud.rulesql import topics
from mqttcloud.rulesql.env import Env
from mqttcloud.rulesql.errors import EvalError
from mqttcloud.rulesql.functions.base import Function, want_int, want_list, want_str
from mqttcloud.rulesql.values import get_key


def _column(name: str) -> Function:
    return Function(lambda env: env.get(name), 0, 0, uses_env=True)


def _topic(env: Env, level: object = None) -> object:
    topic = env.get("topic")
    if level is None or topic is None:
        return topic
    levels, n = want_str(topic).split("/"), want_int(level, "level")
    if not 1 <= n <= len(levels):
        raise EvalError(f"the topic has no level {n}")
    return levels[n - 1]


def _flag(env: Env, name: object) -> object:
    return get_key(env.get("flags"), want_str(name, "flag"))


def _payload(env: Env, path: object = None) -> object:
    if path is None:
        return env.get("payload")
    current = env.payload()
    for key in want_str(path, "path").split("."):
        current = get_key(current, key)
    return current


def _contains_topic(match: bool) -> Function:
    def call(env: Env, filters: object, topic: object, qos: object = None) -> bool:
        name = want_str(topic, "topic")
        for entry in want_list(filters, "topic filters"):
            found = get_key(entry, "topic") if isinstance(entry, dict) else entry
            if not isinstance(found, str):
                continue
            if (topics.match(name, found) if match else found == name) and (
                qos is None or (isinstance(entry, dict) and entry.get("qos") == qos)
            ):
                return True
        return False

    return Function(call, 2, 3, uses_env=True)


FUNCTIONS: Final[dict[str, Function]] = {
    "clientid": _column("clientid"),
    "username": _column("username"),
    "qos": _column("qos"),
    "msgid": _column("id"),
    "peerhost": _column("peerhost"),
    "clientip": _column("peerhost"),
    "flags": _column("flags"),
    "topic": Function(_topic, 0, 1, uses_env=True),
    "flag": Function(_flag, 1, 1, uses_env=True),
    "payload": Function(_payload, 0, 1, uses_env=True),
    "contains_topic": _contains_topic(match=False),
    "contains_topic_match": _contains_topic(match=True),
}
