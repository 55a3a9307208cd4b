"""`Env`: the columns one evaluation reads, the aliases it has written, and the clock.

Rules:
- The caller's mapping is never changed: the first write copies it (copy-on-write).
- The payload is decoded from JSON at most once per input, and only when a path into it
  (`payload.x`) is read; a payload that is not JSON makes such a read fail with EvalError.
- Several rules may read one input through one Env: a rule that writes aliases works on a `fork`,
  which shares the parent's columns, decoded payload and WHERE outcomes (`conditions`: only for
  WHEREs that read no alias) until it writes, and never changes them.
"""

import json
from collections.abc import Mapping
from typing import Final

from mqttcloud.rulesql.errors import EvalError
from mqttcloud.rulesql.values import put_path

_UNDECODED: Final = object()
_INVALID: Final = object()  # the payload was tried and is not JSON
_decode_json = json.JSONDecoder().decode  # json.loads minus its per-call argument handling


class Env:
    """What expressions see while rules run on one input."""

    __slots__ = ("_columns", "_owned", "_parent", "_payload", "conditions", "now")

    def __init__(self, columns: Mapping[str, object], now: float) -> None:
        self._columns = columns
        self._owned = False
        self._payload: object = _UNDECODED
        self._parent: Env | None = None  # decodes the payload for this Env until it writes one
        self.now = now  # seconds since the epoch, as float
        self.conditions: dict[str, bool] = {}  # WHERE text -> outcome, for WHEREs on the input only

    def get(self, name: str) -> object:
        """The column (or alias written earlier) called `name`; None when there is none."""
        return self._columns.get(name)

    def columns(self) -> dict[str, object]:
        """A copy of every column and alias, as `SELECT *` outputs them."""
        return dict(self._columns)

    def payload(self) -> object:
        """The payload decoded from JSON (cached); a map or array written by an alias as is."""
        decoded = self._payload
        if decoded is _UNDECODED:
            if self._parent is not None:
                decoded = self._payload = self._parent.payload()
                return decoded
            raw = self._columns.get("payload")
            if isinstance(raw, str | bytes):
                try:
                    decoded = _decode_json(raw if isinstance(raw, str) else raw.decode())
                except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
                    decoded = _INVALID
            else:
                decoded = raw
            self._payload = decoded
        if decoded is _INVALID:
            raise EvalError("the payload is not valid JSON", "payload")
        return decoded

    def put(self, keys: tuple[str, ...], value: object) -> None:
        """Write an alias (`AS a.b`) so later fields and WHERE can read it."""
        if value is None:
            return
        if not self._owned:
            self._columns = dict(self._columns)
            self._owned = True
        assert isinstance(self._columns, dict)
        if keys[0] == "payload" and len(keys) > 1:
            decoded = self.payload()
            self._columns["payload"] = decoded if isinstance(decoded, dict) else {}
        put_path(self._columns, keys, value)
        if keys[0] == "payload":
            self._parent = None
            self._payload = self._columns["payload"] if len(keys) > 1 else _UNDECODED

    def fork(self) -> "Env":
        """An Env for one more rule on the same input: reads this one's columns and decoded payload,
        writes its own."""
        env = Env(self._columns, self.now)
        env._payload = self._payload
        env._parent = self if self._payload is _UNDECODED else None
        env.conditions = self.conditions
        return env

    def child(self, name: str, value: object) -> "Env":
        """A copy with one more column: the current FOREACH item."""
        env = Env({**self._columns, name: value}, self.now)
        env._owned = True
        if name != "payload":  # else the item is the payload, decoded from itself
            env._payload = self._payload
            env._parent = self if self._payload is _UNDECODED else None
        return env
