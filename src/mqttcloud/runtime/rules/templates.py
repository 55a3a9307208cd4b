"""Action templates: `alerts/${clientid}`, `${payload.temp}`, `${.}`, as EMQX renders them.

A template is compiled once (when the rule set is applied) into literal parts and paths; rendering
reads each path from a rule's output. Paths use dots (`payload.a.b`); a level that is a string
holding a JSON object is decoded on the way, as EMQX does for `${payload.x}` when the output
carries the raw payload. `${.}` is the whole output as JSON.

Rule: rendering never raises; a path that leads nowhere renders as `undefined` (EMQX's text), maps
and arrays as compact JSON, numbers and booleans as EMQX's `str()` gives them.
"""

import re
from collections.abc import Mapping
from typing import Final

from mqttcloud.rulesql.errors import EvalError
from mqttcloud.rulesql.values import get_key, json_encode, to_str

_PLACEHOLDER: Final = re.compile(r"\$\{([^}]*)\}")
_WHOLE: Final = ()  # the path of `${.}`


def parse_path(text: str) -> tuple[str, ...]:
    text = text.strip()
    if text in (".", ""):
        return _WHOLE
    return tuple(part for part in text.removeprefix(".").split(".") if part)


def lookup(output: Mapping[str, object], path: tuple[str, ...]) -> object:
    """The value at `path` in `output` (None when there is none)."""
    value: object = output
    for key in path:
        value = get_key(value, key)
        if value is None:
            return None
    return value


def text_of(value: object) -> str:
    if isinstance(value, dict | list):
        try:
            return json_encode(value)
        except EvalError:
            return "undefined"
    try:
        return to_str(value)
    except EvalError:
        return "undefined"


class Template:
    """A compiled template; `render(output)` gives its text."""

    __slots__ = ("_parts", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        parts: list[str | tuple[str, ...]] = []
        pos = 0
        for m in _PLACEHOLDER.finditer(source):
            if m.start() > pos:
                parts.append(source[pos : m.start()])
            parts.append(parse_path(m.group(1)))
            pos = m.end()
        if pos < len(source):
            parts.append(source[pos:])
        self._parts: tuple[str | tuple[str, ...], ...] = tuple(parts)

    @property
    def is_constant(self) -> bool:
        return all(isinstance(p, str) for p in self._parts)

    def render(self, output: Mapping[str, object]) -> str:
        out: list[str] = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(text_of(output if part == _WHOLE else lookup(output, part)))
        return "".join(out)

    def value(self, output: Mapping[str, object]) -> object:
        """A template that is one placeholder gives the value itself (a map stays a map)."""
        if len(self._parts) == 1 and not isinstance(self._parts[0], str):
            path = self._parts[0]
            return dict(output) if path == _WHOLE else lookup(output, path)
        return self.render(output)


_TRUE: Final = frozenset({"true", "1"})
_FALSE: Final = frozenset({"false", "0", ""})


class ActionError(Exception):
    """An action refused one output; `reason` says why (logged, counted `actions.failed`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def int_value(value: object, field: str) -> int:
    """A template's value as an integer; a placeholder that leads nowhere is 0 (EMQX's default QoS).
    Raises: ActionError."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ActionError(f"{field} is not an integer: {value!r}")


def bool_value(value: object, field: str) -> bool:
    """A template's value as a boolean; a placeholder that leads nowhere is false (EMQX's default
    retain). Raises: ActionError."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ActionError(f"{field} is not a boolean: {value!r}")
