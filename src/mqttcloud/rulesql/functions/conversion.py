"""Type built-ins: str, str_utf8, int, float, bool, and the is_* predicates.

Rule: a conversion that cannot be made is an EvalError (EMQX: "failure to convert will cause
SQL matching to fail"); int() of a float rounds (Erlang round/1), int('3.6') reads a float
first; bool() takes true/false, 'true'/'false' and 1/0 only.
"""

import math
from typing import Final

from mqttcloud.rulesql.errors import EvalError
from mqttcloud.rulesql.functions.base import Function, fixed
from mqttcloud.rulesql.functions.numeric import FUNCTIONS as _NUMERIC
from mqttcloud.rulesql.values import is_number, kind_name, text, to_str

_round = _NUMERIC["round"].fn


def _rounded(value: float) -> int:
    result = _round(value)
    assert isinstance(result, int)
    return result


def _int(value: object) -> int:
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise EvalError(f"cannot convert {value} to an integer")
        return _rounded(value)
    if isinstance(value, str | bytes):
        s = text(value).strip()
        try:
            return int(s)
        except ValueError:
            pass
        try:
            return _rounded(float(s))
        except (ValueError, OverflowError):
            raise EvalError(f"cannot convert {s!r} to an integer") from None
    raise EvalError(f"cannot convert {kind_name(value)} to an integer")


def _float(value: object) -> float:
    if is_number(value):
        assert isinstance(value, int | float)
        return float(value)
    if isinstance(value, str | bytes):
        s = text(value).strip()
        try:
            result = float(s)
        except ValueError:
            raise EvalError(f"cannot convert {s!r} to a float") from None
        if math.isfinite(result):
            return result
    raise EvalError(f"cannot convert {kind_name(value)} {value!r} to a float")


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if value in (1, 0) and is_number(value):
        return value == 1
    if isinstance(value, str | bytes) and text(value) in ("true", "false"):
        return text(value) == "true"
    raise EvalError(f"cannot convert {value!r} to a boolean")


def _str_utf8(value: object) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            raise EvalError("not valid UTF-8") from None
    return to_str(value)


def _is_float(value: object) -> bool:
    return isinstance(value, float)


FUNCTIONS: Final[dict[str, Function]] = {
    "str": fixed(to_str, 1),
    "str_utf8": fixed(_str_utf8, 1),
    "int": fixed(_int, 1),
    "float": fixed(_float, 1),
    "bool": fixed(_bool, 1),
    "is_null": fixed(lambda v: v is None, 1),
    "is_not_null": fixed(lambda v: v is not None, 1),
    "is_str": fixed(lambda v: isinstance(v, str | bytes), 1),
    "is_bool": fixed(lambda v: isinstance(v, bool), 1),
    "is_int": fixed(lambda v: isinstance(v, int) and not isinstance(v, bool), 1),
    "is_float": fixed(_is_float, 1),
    "is_num": fixed(is_number, 1),
    "is_map": fixed(lambda v: isinstance(v, dict), 1),
    "is_array": fixed(lambda v: isinstance(v, list), 1),
}
