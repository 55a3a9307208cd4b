"""Topic names and topic filters (spec 4.7, 4.8.2): validation, splitting, matching, `$share`.

Owns: `validate_topic_name`, `validate_topic_filter` (raising `ProtocolError` with 0x90 / 0x8F),
their boolean twins `is_valid_topic_name` / `is_valid_topic_filter`, `split`, `match`,
`parse_shared`.

Rules:
- A name never contains `+` or `#` [MQTT-4.7.1-1]; in a filter `#` is alone and last
  [MQTT-4.7.1-2] and `+` fills a whole level [MQTT-4.7.1-3].
- Both are at least one character [MQTT-4.7.3-1], at most 65535 bytes and have no U+0000
  [MQTT-4.7.3-2]. `max_levels` (deployment limit `max_topic_levels`) bounds the level count;
  0 means unlimited.
- A filter starting with a wildcard never matches a name starting with `$` [MQTT-4.7.2-1].
- `$share/{group}/{filter}`: group is non-empty without `/`, `+`, `#` [MQTT-4.8.2-1], and the
  filter after it is a valid, non-empty filter [MQTT-4.8.2-2].
"""

from typing import Final

from mqttcloud.protocol.errors import ProtocolError
from mqttcloud.protocol.reason_codes import ReasonCode

SHARE_PREFIX: Final = "$share/"
_MAX_BYTES: Final = 65535


def split(topic: str) -> list[str]:
    """Split a topic name or filter into levels ("a//b" → ["a", "", "b"])."""
    return topic.split("/")


def _check_common(topic: str, what: str, reason: ReasonCode, max_levels: int) -> None:
    if not topic:
        raise ProtocolError(f"empty {what}", reason)  # [MQTT-4.7.3-1]
    if "\x00" in topic:
        raise ProtocolError(f"{what} contains U+0000", reason)  # [MQTT-4.7.3-2]
    if len(topic) > _MAX_BYTES // 4 and len(topic.encode("utf-8", "surrogatepass")) > _MAX_BYTES:
        raise ProtocolError(f"{what} longer than 65535 bytes", reason)
    if max_levels and topic.count("/") + 1 > max_levels:
        raise ProtocolError(f"{what} has more than {max_levels} levels", reason)


def validate_topic_name(name: str, max_levels: int = 0) -> None:
    """Raise ProtocolError(TOPIC_NAME_INVALID) unless `name` is a valid topic name.

    The empty name is rejected here; a v5 PUBLISH with an empty topic and a Topic Alias is
    resolved by the broker before it calls this.
    """
    _check_common(name, "topic name", ReasonCode.TOPIC_NAME_INVALID, max_levels)
    if "+" in name or "#" in name:
        # [MQTT-4.7.1-1] wildcards MUST NOT be used within a Topic Name (also [MQTT-3.3.2-2])
        raise ProtocolError("wildcard in topic name", ReasonCode.TOPIC_NAME_INVALID)


def _check_filter_levels(levels: list[str]) -> None:
    last = len(levels) - 1
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != last):
            # [MQTT-4.7.1-2] '#' MUST be the last character and occupy a whole level
            raise ProtocolError("misplaced '#' in topic filter", ReasonCode.TOPIC_FILTER_INVALID)
        if "+" in level and level != "+":
            # [MQTT-4.7.1-3] '+' MUST occupy an entire level
            raise ProtocolError("misplaced '+' in topic filter", ReasonCode.TOPIC_FILTER_INVALID)


def validate_topic_filter(topic_filter: str, max_levels: int = 0) -> None:
    """Raise ProtocolError(TOPIC_FILTER_INVALID) unless `topic_filter` is a valid filter.

    A filter starting with `$share/` must be a valid shared subscription filter; `max_levels`
    applies to the filter after the group.
    """
    reason = ReasonCode.TOPIC_FILTER_INVALID
    _check_common(topic_filter, "topic filter", reason, 0)
    real = topic_filter
    if topic_filter.startswith(SHARE_PREFIX):
        shared = _split_shared(topic_filter)
        if shared is None:
            raise ProtocolError("invalid shared subscription filter", reason)  # [MQTT-4.8.2-1/2]
        real = shared[1]
    levels = real.split("/")
    if max_levels and len(levels) > max_levels:
        raise ProtocolError(f"topic filter has more than {max_levels} levels", reason)
    _check_filter_levels(levels)


def is_valid_topic_name(name: str, max_levels: int = 0) -> bool:
    try:
        validate_topic_name(name, max_levels)
    except ProtocolError:
        return False
    return True


def is_valid_topic_filter(topic_filter: str, max_levels: int = 0) -> bool:
    try:
        validate_topic_filter(topic_filter, max_levels)
    except ProtocolError:
        return False
    return True


def _split_shared(topic_filter: str) -> tuple[str, str] | None:
    rest = topic_filter[len(SHARE_PREFIX) :]
    group, sep, real = rest.partition("/")
    if not sep or not group or "+" in group or "#" in group or not real:
        return None
    return group, real


def parse_shared(topic_filter: str) -> tuple[str, str] | None:
    """Split `$share/{group}/{filter}` into (group, filter).

    Returns:
        None when the filter is not a shared subscription, or starts with `$share/` but is not a
        well-formed one (validate first with `validate_topic_filter` to tell the two apart).
    """
    if not topic_filter.startswith(SHARE_PREFIX):
        return None
    return _split_shared(topic_filter)


def match(topic_filter: str, name: str) -> bool:
    """True if topic name `name` matches `topic_filter` (both assumed valid; no `$share/` prefix).

    `#` also matches the parent level ("a/#" matches "a") per spec 4.7.1.2, and a leading
    wildcard does not match a `$` topic [MQTT-4.7.2-1].
    """
    if name[:1] == "$" and topic_filter[:1] in ("+", "#"):
        return False
    if "+" not in topic_filter and "#" not in topic_filter:
        return topic_filter == name
    flevels = topic_filter.split("/")
    nlevels = name.split("/")
    nlen = len(nlevels)
    for i, level in enumerate(flevels):
        if level == "#":
            return True
        if i >= nlen:
            return False
        if level != "+" and level != nlevels[i]:
            return False
    return len(flevels) == nlen
