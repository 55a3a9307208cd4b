"""Topic filters of the FROM clause and the `=~` operator: validation and matching.

Rule: the same matching rules as MQTT subscriptions (`+` one level, `#` the rest and the
parent, a filter starting with a wildcard never matches a topic starting with `$`), kept here
so the package needs nothing but the standard library.
"""


def filter_error(topic_filter: str) -> str | None:
    """Why `topic_filter` is not a valid MQTT topic filter, or None when it is."""
    if not topic_filter:
        return "empty topic filter"
    if "\x00" in topic_filter:
        return "topic filter contains U+0000"
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return "'#' must be a whole level and the last one"
        if "+" in level and level != "+":
            return "'+' must be a whole level"
    return None


def match(topic: str, topic_filter: str) -> bool:
    """True when `topic` (a name) matches `topic_filter`."""
    if topic_filter == topic:
        return True
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    names = topic.split("/")
    filters = topic_filter.split("/")
    for i, level in enumerate(filters):
        if level == "#":
            return True
        if i >= len(names) or (level != "+" and level != names[i]):
            return False
    return len(names) == len(filters)
