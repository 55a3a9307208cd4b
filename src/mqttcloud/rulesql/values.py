"""The value semantics of rule SQL, as EMQX defines them: comparison, arithmetic, conversion
to string, and reading/writing nested fields.

Values are JSON-shaped: None (undefined), bool, int, float, str, bytes (a binary that is not
UTF-8 text), list and dict.
Rules:
- A comparison with one undefined side is false; a number compared with a string converts the
  string to a number; true/false compared with a string compare as 'true'/'false'; values of
  different kinds order as Erlang terms do (number < boolean < map < array < string).
- `+` adds numbers or concatenates two strings; `/` always gives a float; `div` and `mod`
  take integers and truncate toward zero (Erlang `div`/`rem`).
- Array positions are 1-based and negative ones count from the end; 0 is never an element.
- Writing undefined never creates a field.
"""

import json
import math
import operator
from typing import Final

from mqttcloud.rulesql.errors import EvalError


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def kind_name(value: object) -> str:
    """The EMQX-facing name of a value's type, for error messages."""
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {float: "float", str: "string", bytes: "binary", list: "array", dict: "map"}.get(
        type(value), type(value).__name__
    )


# -- conversion to text ------------------------------------------------------------------------


def format_float(value: float) -> str:
    """EMQX's float → string: up to 10 decimals, trailing zeros dropped, at least one kept."""
    if not math.isfinite(value):
        raise EvalError(f"cannot convert {value} to a string")
    if value != 0 and (abs(value) >= 1e15 or abs(value) < 1e-10):
        return repr(value)
    out = f"{value:.10f}".rstrip("0")
    return out + "0" if out.endswith(".") else out


def to_str(value: object) -> str:
    """`str(x)`: the text form EMQX gives a value (maps and arrays become JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if value is None:
        return "undefined"
    return json_encode(value)


def _json_default(value: object) -> object:
    if isinstance(value, bytes):
        return text(value)
    raise TypeError(f"cannot encode {kind_name(value)} as JSON")


def json_encode(value: object) -> str:
    """Compact JSON (`{"a":1}`), as EMQX's `json_encode` writes it."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise EvalError(str(exc), "json_encode") from None


def json_decode(value: object) -> object:
    """Decode a JSON text; raise EvalError when it is not JSON."""
    if not isinstance(value, str | bytes):
        raise EvalError(f"expected a JSON string, got {kind_name(value)}", "json_decode")
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        raise EvalError("invalid JSON", "json_decode") from None


def to_number(value: str | bytes) -> int | float:
    """A string compared with a number: read as an integer, else as a float."""
    s = text(value)
    try:
        return int(s)
    except ValueError:
        pass
    try:
        result = float(s)
    except ValueError:
        raise EvalError(f"cannot compare the string {s!r} with a number") from None
    if not math.isfinite(result):
        raise EvalError(f"cannot compare the string {s!r} with a number")
    return result


# -- comparison --------------------------------------------------------------------------------


def _rank(value: object) -> int:
    if is_number(value):
        return 0
    if isinstance(value, bool):
        return 1
    if isinstance(value, dict):
        return 2
    if isinstance(value, list):
        return 3
    return 4  # str, bytes


_ORDERINGS: Final = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _order(op: str, left: object, right: object) -> bool:
    rank_l, rank_r = _rank(left), _rank(right)
    if rank_l != rank_r:
        diff = rank_l - rank_r
        return {"<": diff < 0, "<=": diff < 0, ">": diff > 0, ">=": diff > 0}[op]
    if isinstance(left, dict):
        raise EvalError("maps can only be compared with = and !=")
    if isinstance(left, bytes | str):
        left = left.encode() if isinstance(left, str) else left
        right = right.encode() if isinstance(right, str) else right
    try:
        # same rank: numbers, booleans, arrays or bytes, which Python orders as Erlang does
        return bool(_ORDERINGS[op](left, right))  # type: ignore[arg-type]
    except TypeError:
        raise EvalError(f"cannot order {kind_name(left)} values") from None


def equal(left: object, right: object) -> bool:
    """`=`: numbers equal by value (1 = 1.0), booleans only to booleans, everything else exactly."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if isinstance(left, bytes) and isinstance(right, str):
        return left == right.encode()
    if isinstance(left, str) and isinstance(right, bytes):
        return left.encode() == right
    return bool(left == right)


def compare(op: str, left: object, right: object) -> bool:
    """Apply a comparison operator with EMQX's rules (see the module docstring)."""
    if left is None or right is None:
        if left is None and right is None:
            return op in ("=", "<=", ">=")
        return False
    if is_number(left) and isinstance(right, str | bytes):
        right = to_number(right)
    elif isinstance(left, str | bytes) and is_number(right):
        left = to_number(left)
    elif isinstance(left, bool) and isinstance(right, str | bytes):
        left = "true" if left else "false"
    elif isinstance(left, str | bytes) and isinstance(right, bool):
        right = "true" if right else "false"
    if op == "=":
        return equal(left, right)
    if op in ("!=", "<>"):
        return not equal(left, right)
    return _order(op, left, right)


def same(left: object, right: object) -> bool:
    """Erlang exact match (`=:=`), used by `IN` and `CASE x WHEN`: 1 and 1.0 differ."""
    return type(left) is type(right) and equal(left, right)


# -- arithmetic --------------------------------------------------------------------------------


def _numbers(op: str, left: object, right: object) -> tuple[int | float, int | float]:
    if is_number(left) and is_number(right):
        return left, right  # type: ignore[return-value]  # is_number checked both
    raise EvalError(f"bad operands: {kind_name(left)} {op} {kind_name(right)}")


def _trunc_div(left: int, right: int) -> int:
    quotient = abs(left) // abs(right)
    return quotient if (left >= 0) == (right >= 0) else -quotient


def _integers(op: str, left: object, right: object) -> tuple[int, int]:
    if isinstance(left, int) and isinstance(right, int) and not isinstance(left | right, bool):
        if right == 0:
            raise EvalError(f"{op} by zero")
        return left, right
    raise EvalError(f"{op} takes integers, got {kind_name(left)} and {kind_name(right)}")


def arith(op: str, left: object, right: object) -> object:
    """Apply an arithmetic operator (`+ - * / div mod`)."""
    if op == "+" and isinstance(left, str) and isinstance(right, str):
        return left + right
    if op == "div":
        a, b = _integers(op, left, right)
        return _trunc_div(a, b)
    if op == "mod":
        a, b = _integers(op, left, right)
        return a - b * _trunc_div(a, b)
    x, y = _numbers(op, left, right)
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if y == 0:
        raise EvalError("division by zero")
    return x / y


# -- nested fields -----------------------------------------------------------------------------


def get_key(value: object, key: str) -> object:
    """`value.key`: a map's entry; a string holding a JSON object is decoded first."""
    if isinstance(value, dict):
        return value.get(key)
    if isinstance(value, str | bytes):
        try:
            decoded = json.loads(value)
        except (ValueError, RecursionError):
            return None
        return decoded.get(key) if isinstance(decoded, dict) else None
    return None


def get_index(value: object, index: object) -> object:
    """`value[i]`: 1-based, negative from the end; anything out of range is undefined."""
    if not isinstance(value, list) or not isinstance(index, int) or isinstance(index, bool):
        return None
    if index > 0 and index <= len(value):
        return value[index - 1]
    if index < 0 and -index <= len(value):
        return value[index]
    return None


def get_slice(value: object, start: int, stop: int) -> list[object]:
    """`value[a..b]`: the elements a..b inclusive (1-based, negative from the end)."""
    if not isinstance(value, list):
        raise EvalError(f"a range needs an array, got {kind_name(value)}")
    first = start if start > 0 else len(value) + start + 1
    last = stop if stop > 0 else len(value) + stop + 1
    return value[max(first, 1) - 1 : max(last, 0)]


def _as_map(value: object) -> dict[str, object]:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, str | bytes):
        try:
            decoded = json.loads(value)
        except (ValueError, RecursionError):
            return {}
        if isinstance(decoded, dict):
            return decoded
    return {}


def put_path(target: dict[str, object], keys: tuple[str, ...], value: object) -> None:
    """Set `target[k1][k2]... = value`, copying every nested map it changes (inputs stay intact).

    A level that is not a map (or a string holding a JSON object) is replaced by a map.
    """
    if value is None:
        return
    if len(keys) == 1:
        target[keys[0]] = value
        return
    inner = _as_map(target.get(keys[0]))
    put_path(inner, keys[1:], value)
    target[keys[0]] = inner
