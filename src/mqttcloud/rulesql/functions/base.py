"""`Function`, the registry entry of one built-in, and the argument checks every built-in uses.

Rule: a built-in gets plain values and checks their kinds with the `want_*` helpers, which
raise EvalError naming what was expected; a built-in that reads the input columns or the
clock is marked `uses_env` and gets the `Env` first.
"""

from collections.abc import Callable
from dataclasses import dataclass

from mqttcloud.rulesql.errors import EvalError
from mqttcloud.rulesql.values import is_number, kind_name, text


@dataclass(frozen=True, slots=True)
class Function:
    fn: Callable[..., object]  # each built-in has its own positional signature
    min_args: int
    max_args: int | None  # None: any number
    uses_env: bool = False


def fixed(fn: Callable[..., object], min_args: int, max_args: int | None = -1) -> Function:
    """A built-in taking `min_args` (up to `max_args`; -1 means exactly `min_args`) arguments."""
    return Function(fn, min_args, min_args if max_args == -1 else max_args)


def want_str(value: object, what: str = "argument") -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return text(value)
    raise EvalError(f"{what} must be a string, got {kind_name(value)}")


def want_bytes(value: object, what: str = "argument") -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    raise EvalError(f"{what} must be a string or binary, got {kind_name(value)}")


def want_int(value: object, what: str = "argument") -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise EvalError(f"{what} must be an integer, got {kind_name(value)}")


def want_number(value: object, what: str = "argument") -> int | float:
    if is_number(value):
        assert isinstance(value, int | float)
        return value
    raise EvalError(f"{what} must be a number, got {kind_name(value)}")


def want_list(value: object, what: str = "argument") -> list[object]:
    if isinstance(value, list):
        return value
    raise EvalError(f"{what} must be an array, got {kind_name(value)}")


def want_map(value: object, what: str = "argument") -> dict[str, object]:
    if isinstance(value, dict):
        return value
    raise EvalError(f"{what} must be a map, got {kind_name(value)}")


def want_choice(value: object, choices: tuple[str, ...], what: str) -> str:
    choice = want_str(value, what)
    if choice not in choices:
        raise EvalError(f"{what} must be one of {', '.join(choices)}, got {choice!r}")
    return choice
