"""`Env`: the columns one evaluation reads, the aliases it has written, and the clock.

Rules:
- The caller's mapping is never changed: the first write copies it (copy-on-write).
- The payload is decoded from JSON at most once per evaluation, and only when a path into it
  (`payload.x`) is read; a payload that is not JSON makes such a read fail with EvalError.
"""

import json
from collections.abc import Mapping
from typing import Final

from mqttcloud.rulesql.errors import EvalError
from mqttcloud.rulesql.values import put_path

_UNDECODED: Final = object()
_decode_json = json.JSONDecoder().decode  # json.loads minus its per-call argument handling


class Env:
    """What expressions see while one rule runs on one input."""

    __slots__ = ("_columns", "_owned", "_payload", "now")

    def __init__(self, columns: Mapping[str, object], now: float) -> None:
        self._columns = columns
        self._owned = False
        self._payload: object = _UNDECODED
        self.now = now  # seconds since the epoch, as float

    def get(self, name: str) -> object:
        """The column (or alias written earlier) called `name`; None when there is none."""
        return self._columns.get(name)

    def columns(self) -> dict[str, object]:
        """A copy of every column and alias, as `SELECT *` outputs them."""
        return dict(self._columns)

    def payload(self) -> object:
        """The payload decoded from JSON (cached); a map or array written by an alias as is."""
        if self._payload is _UNDECODED:
            raw = self._columns.get("payload")
            if isinstance(raw, str | bytes):
                try:
                    self._payload = _decode_json(raw if isinstance(raw, str) else raw.decode())
                except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
                    raise EvalError("the payload is not valid JSON", "payload") from None
            else:
                self._payload = raw
        return self._payload

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
            self._payload = self._columns["payload"] if len(keys) > 1 else _UNDECODED

    def child(self, name: str, value: object) -> "Env":
        """A copy with one more column: the current FOREACH item."""
        env = Env({**self._columns, name: value}, self.now)
        env._owned = True
        env._payload = self._payload
        return env
