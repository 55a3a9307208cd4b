"""Map and array built-ins: map_get, map_put, mget, mput, map_new, map_keys, map_values, nth,
length, sublist, first, last, contains.

Rule: maps are never changed in place (map_put returns a new map); map_get/map_put take
nested keys ("a.b.c"), mget/mput take one key; array positions are 1-based.
"""

from typing import Final

from mqttcloud.rulesql.errors import EvalError
from mqttcloud.rulesql.functions.base import Function, fixed, want_int, want_list, want_map, want_str
from mqttcloud.rulesql.values import get_key, json_decode, put_path, same


def _as_map(value: object) -> dict[str, object]:
    if isinstance(value, str | bytes):
        value = json_decode(value)
    return want_map(value, "map")


def _map_get(key: object, value: object, default: object = None) -> object:
    current: object = _as_map(value)
    for part in want_str(key, "key").split("."):
        current = get_key(current, part)
        if current is None:
            return default
    return current


def _map_put(key: object, item: object, value: object) -> dict[str, object]:
    out = dict(_as_map(value))
    put_path(out, tuple(want_str(key, "key").split(".")), item)
    return out


def _mget(key: object, value: object, default: object = None) -> object:
    found = _as_map(value).get(want_str(key, "key"))
    return default if found is None else found


def _mput(key: object, item: object, value: object) -> dict[str, object]:
    return {**_as_map(value), want_str(key, "key"): item}


def _nth(n: object, items: object) -> object:
    index, values = want_int(n, "position"), want_list(items)
    if not 1 <= index <= len(values):
        raise EvalError(f"position {index} is outside the array (length {len(values)})")
    return values[index - 1]


def _sublist(*args: object) -> list[object]:
    """sublist(Len, List) | sublist(Start, Len, List); Start is 1-based."""
    values = want_list(args[-1])
    start = 1 if len(args) == 2 else want_int(args[0], "start")
    length = want_int(args[-2], "length")
    if start < 1 or start > len(values) + 1 or length < 0:
        raise EvalError(f"sublist({start}, {length}) is outside the array (length {len(values)})")
    return values[start - 1 : start - 1 + length]


def _end(which: int) -> Function:
    def call(items: object) -> object:
        values = want_list(items)
        if not values:
            raise EvalError("the array is empty")
        return values[which]

    return fixed(call, 1)


FUNCTIONS: Final[dict[str, Function]] = {
    "map_new": fixed(dict, 0),
    "map_get": fixed(_map_get, 2, 3),
    "map_put": fixed(_map_put, 3),
    "mget": fixed(_mget, 2, 3),
    "mput": fixed(_mput, 3),
    "map_keys": fixed(lambda m: list(_as_map(m)), 1),
    "map_values": fixed(lambda m: list(_as_map(m).values()), 1),
    "nth": fixed(_nth, 2),
    "length": fixed(lambda items: len(want_list(items)), 1),
    "sublist": fixed(_sublist, 2, 3),
    "first": _end(0),
    "last": _end(-1),
    "contains": fixed(lambda item, items: any(same(item, v) for v in want_list(items)), 2),
}
