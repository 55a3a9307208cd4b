"""Time built-ins: now_timestamp, now_rfc3339, unix_ts_to_rfc3339, rfc3339_to_unix_ts,
format_date, date_to_unix_ts, timezone_to_second.

Rules:
- "Now" is the `now` the caller passed to `Rule.evaluate`; nothing here reads a clock.
- Units are second | millisecond | microsecond | nanosecond. Offsets are 'z'/'Z', 'local',
  '+HHMM', '+HH:MM', '+HH:MM:SS' or an integer of seconds. Brokers run in UTC, so 'local' and
  the RFC 3339 strings these functions write use +00:00.
- Format strings take EMQX's placeholders: %Y %m %d %H %M %S %N %3N %6N %z %:z %::z.
"""

import datetime as _dt
import re
from typing import Final

from mqttcloud.rulesql.env import Env
from mqttcloud.rulesql.errors import EvalError
from mqttcloud.rulesql.functions.base import Function, want_choice, want_int, want_str
from mqttcloud.rulesql.values import is_number

_UNITS: Final = {"second": 1, "millisecond": 1_000, "microsecond": 1_000_000, "nanosecond": 1_000_000_000}
_DIGITS: Final = {"second": 0, "millisecond": 3, "microsecond": 6, "nanosecond": 9}
_EPOCH: Final = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


def _unit(value: object) -> str:
    return want_choice(value, tuple(_UNITS), "time unit")


def _offset(value: object) -> int:
    """An offset argument → seconds east of UTC."""
    if is_number(value) and isinstance(value, int):
        return value
    s = want_str(value, "time offset")
    if s in ("z", "Z", "local"):
        return 0
    match = re.fullmatch(r"([+-])(\d\d):?(\d\d)(?::?(\d\d))?", s)
    if not match:
        raise EvalError(f"bad time offset {s!r}")
    sign = -1 if match.group(1) == "-" else 1
    return sign * (int(match.group(2)) * 3600 + int(match.group(3)) * 60 + int(match.group(4) or 0))


def _offset_text(seconds: int, colons: int) -> str:
    sign = "-" if seconds < 0 else "+"
    h, rest = divmod(abs(seconds), 3600)
    m, s = divmod(rest, 60)
    if colons == 0:
        return f"{sign}{h:02}{m:02}"
    if colons == 1:
        return f"{sign}{h:02}:{m:02}"
    return f"{sign}{h:02}:{m:02}:{s:02}"


def _split_ts(ts: int, unit: str) -> tuple[_dt.datetime, int]:
    """An integer timestamp in `unit` → (UTC datetime to the second, nanoseconds)."""
    per = _UNITS[unit]
    seconds, frac = divmod(ts, per)
    try:
        when = _EPOCH + _dt.timedelta(seconds=seconds)
    except OverflowError:
        raise EvalError(f"timestamp {ts} is out of range") from None
    return when, frac * (1_000_000_000 // per)


def _rfc3339(ts: int, unit: str) -> str:
    when, nanos = _split_ts(ts, unit)
    digits = _DIGITS[unit]
    frac = f".{nanos:09}"[: digits + 1] if digits else ""
    return when.strftime("%Y-%m-%dT%H:%M:%S") + frac + "+00:00"


def _now(env: Env, unit: object = "second") -> int:
    return int(env.now * _UNITS[_unit(unit)])


def _now_rfc3339(env: Env, unit: object = "second") -> str:
    u = _unit(unit)
    return _rfc3339(int(env.now * _UNITS[u]), u)


def _unix_ts_to_rfc3339(env: Env, ts: object, unit: object = "second") -> str:
    return _rfc3339(want_int(ts, "timestamp"), _unit(unit))


_RFC3339: Final = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?([Zz]|[+-]\d\d:\d\d)"
)


def _rfc3339_to_unix_ts(env: Env, value: object, unit: object = "second") -> int:
    s, u = want_str(value), _unit(unit)
    match = _RFC3339.fullmatch(s)
    if not match:
        raise EvalError(f"not an RFC 3339 time: {s!r}")
    y, mo, d, h, mi, sec = (int(match.group(i)) for i in range(1, 7))
    nanos = int((match.group(7) or "").ljust(9, "0"))
    offset = 0 if match.group(8) in ("Z", "z") else _offset(match.group(8))
    return _to_ts((y, mo, d, h, mi, sec), nanos, offset, u)


def _to_ts(fields: tuple[int, ...], nanos: int, offset: int, unit: str) -> int:
    """(year, month, day, hour, minute, second) at `offset` → a timestamp in `unit`."""
    y, mo, d, h, mi, s = fields
    try:
        when = _dt.datetime(y, mo, d, h, mi, s, tzinfo=_dt.UTC)
    except ValueError as exc:
        raise EvalError(f"bad date: {exc}") from None
    seconds = int((when - _EPOCH).total_seconds()) - offset
    per = _UNITS[unit]
    return seconds * per + nanos * per // 1_000_000_000


_PLACEHOLDER: Final = re.compile(r"%(::z|:z|z|3N|6N|N|Y|m|d|H|M|S|%)")


def _format_date(env: Env, unit: object, offset: object, fmt: object, ts: object = None) -> str:
    u, shift, template = _unit(unit), _offset(offset), want_str(fmt, "format")
    stamp = int(env.now * _UNITS[u]) if ts is None else want_int(ts, "timestamp")
    when, nanos = _split_ts(stamp, u)
    when += _dt.timedelta(seconds=shift)
    values = {
        "Y": f"{when.year:04}", "m": f"{when.month:02}", "d": f"{when.day:02}",
        "H": f"{when.hour:02}", "M": f"{when.minute:02}", "S": f"{when.second:02}",
        "N": f"{nanos:09}", "3N": f"{nanos // 1_000_000:03}", "6N": f"{nanos // 1_000:06}",
        "z": _offset_text(shift, 0), ":z": _offset_text(shift, 1), "::z": _offset_text(shift, 2),
        "%": "%",
    }  # fmt: skip
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


_PARSERS: Final = {
    "Y": r"(?P<Y>\d{4})", "m": r"(?P<m>\d\d)", "d": r"(?P<d>\d\d)", "H": r"(?P<H>\d\d)",
    "M": r"(?P<M>\d\d)", "S": r"(?P<S>\d\d)", "N": r"(?P<N>\d{9})", "3N": r"(?P<N3>\d{3})",
    "6N": r"(?P<N6>\d{6})", "z": r"(?P<z>[+-]\d{4})", ":z": r"(?P<z1>[+-]\d\d:\d\d)",
    "::z": r"(?P<z2>[+-]\d\d:\d\d:\d\d)", "%": "%",
}  # fmt: skip


_DEFAULTS: Final = (("Y", "1970"), ("m", "1"), ("d", "1"), ("H", "0"), ("M", "0"), ("S", "0"))


def _date_to_unix_ts(env: Env, unit: object, *args: object) -> int:
    """date_to_unix_ts(Unit, [Offset,] Format, Date): the offset defaults to the one in Date."""
    u = _unit(unit)
    offset_arg, fmt, value = (None, *args) if len(args) == 2 else args
    template, s = want_str(fmt, "format"), want_str(value, "date")
    pattern, last = [], 0
    for m in _PLACEHOLDER.finditer(template):
        pattern.append(re.escape(template[last : m.start()]))
        pattern.append(_PARSERS[m.group(1)])
        last = m.end()
    pattern.append(re.escape(template[last:]))
    try:
        match = re.fullmatch("".join(pattern), s)
    except re.error:
        raise EvalError(f"format {template!r} repeats a placeholder") from None
    if not match:
        raise EvalError(f"{s!r} does not match the format {template!r}")
    got = {k: v for k, v in match.groupdict().items() if v is not None}
    zone = got.get("z") or got.get("z1") or got.get("z2")
    offset = _offset(offset_arg) if offset_arg is not None else (_offset(zone) if zone else 0)
    nanos = int(got.get("N") or "0")
    nanos += int(got.get("N3") or "0") * 1_000_000 + int(got.get("N6") or "0") * 1_000
    return _to_ts(tuple(int(got.get(k, default)) for k, default in _DEFAULTS), nanos, offset, u)


def _timezone_to_second(env: Env, offset: object) -> int:
    return _offset(offset)


def _env_fn(fn: object, min_args: int, max_args: int) -> Function:
    assert callable(fn)
    return Function(fn, min_args, max_args, uses_env=True)


FUNCTIONS: Final[dict[str, Function]] = {
    "now_timestamp": _env_fn(_now, 0, 1),
    "now_rfc3339": _env_fn(_now_rfc3339, 0, 1),
    "unix_ts_to_rfc3339": _env_fn(_unix_ts_to_rfc3339, 1, 2),
    "rfc3339_to_unix_ts": _env_fn(_rfc3339_to_unix_ts, 1, 2),
    "format_date": _env_fn(_format_date, 3, 4),
    "date_to_unix_ts": _env_fn(_date_to_unix_ts, 3, 4),
    "timezone_to_second": _env_fn(_timezone_to_second, 1, 1),
    "timezone_to_offset_seconds": _env_fn(_timezone_to_second, 1, 1),
}
