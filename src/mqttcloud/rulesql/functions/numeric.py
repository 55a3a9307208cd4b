"""Math and bit built-ins: abs, ceil, floor, round, sqrt, power, exp, log*, trigonometry,
fmod, random, bitand/bitor/bitxor/bitnot/bitsl/bitsr, subbits.

Rule: as in EMQX (Erlang), ceil/floor/round return integers and round halves away from
zero; power, sqrt, exp, log and trigonometry return floats; a domain error (sqrt(-1),
log(0)) is an EvalError.
"""

import math
import random
import struct
from collections.abc import Callable
from typing import Final

from mqttcloud.rulesql.errors import EvalError
from mqttcloud.rulesql.functions.base import Function, fixed, want_bytes, want_choice, want_int, want_number


def _abs(x: object) -> int | float:
    return abs(want_number(x))


def _ceil(x: object) -> int:
    return math.ceil(want_number(x))


def _floor(x: object) -> int:
    return math.floor(want_number(x))


def _round(x: object) -> int:
    """Erlang round/1: halves go away from zero (round(2.5) = 3, round(-2.5) = -3)."""
    n = want_number(x)
    if isinstance(n, int):
        return n
    return int(math.copysign(math.floor(abs(n) + 0.5), n))


def _float_fn(name: str, fn: Callable[..., float], arity: int = 1) -> Function:
    def call(*args: object) -> float:
        numbers = [want_number(a) for a in args]
        try:
            return float(fn(*numbers))
        except (ValueError, OverflowError):
            raise EvalError(f"{name}{tuple(numbers)} is out of the function's domain") from None

    return fixed(call, arity)


def _random() -> float:
    return random.random()  # noqa: S311  # a SQL random(), not a secret


def _shift_left(x: int, y: int) -> int:
    if y > 4096:
        raise EvalError("bitsl shifts by at most 4096 bits")
    return x << y if y >= 0 else x >> -y


def _bits(op: Callable[[int, int], int]) -> Function:
    return fixed(lambda x, y: op(want_int(x), want_int(y)), 2)


def _subbits(data: object, *args: object) -> object:
    """subbits(Bin, Len) | (Bin, Start, Len) | (Bin, Start, Len, Type, Signedness, Endianness)."""
    raw = want_bytes(data)
    if len(args) == 1:
        start, length = 1, want_int(args[0])
        kind, signed, endian = "integer", "unsigned", "big"
    elif len(args) == 2:
        start, length = want_int(args[0]), want_int(args[1])
        kind, signed, endian = "integer", "unsigned", "big"
    elif len(args) == 5:
        start, length = want_int(args[0]), want_int(args[1])
        kind = want_choice(args[2], ("integer", "float", "bits"), "type")
        signed = want_choice(args[3], ("unsigned", "signed"), "signedness")
        endian = want_choice(args[4], ("big", "little"), "endianness")
    else:
        raise EvalError("subbits takes 2, 3 or 6 arguments")
    total = len(raw) * 8
    if start < 1 or length < 1 or start > total:
        return None
    length = min(length, total - start + 1)
    value = (int.from_bytes(raw, "big") >> (total - start + 1 - length)) & ((1 << length) - 1)
    if kind == "bits":
        return value.to_bytes((length + 7) // 8, "big")
    if endian == "little":
        if length % 8:
            raise EvalError("little-endian subbits needs a whole number of bytes")
        value = int.from_bytes(value.to_bytes(length // 8, "big"), "little")
    if kind == "float":
        if length not in (32, 64):
            raise EvalError("a float is 32 or 64 bits")
        return float(struct.unpack(">f" if length == 32 else ">d", value.to_bytes(length // 8, "big"))[0])
    if signed == "signed" and value >= 1 << (length - 1):
        value -= 1 << length
    return value


FUNCTIONS: Final[dict[str, Function]] = {
    "abs": fixed(_abs, 1),
    "ceil": fixed(_ceil, 1),
    "floor": fixed(_floor, 1),
    "round": fixed(_round, 1),
    "sqrt": _float_fn("sqrt", math.sqrt),
    "exp": _float_fn("exp", math.exp),
    "power": _float_fn("power", math.pow, 2),
    "fmod": _float_fn("fmod", math.fmod, 2),
    "log": _float_fn("log", math.log),
    "log10": _float_fn("log10", math.log10),
    "log2": _float_fn("log2", math.log2),
    "sin": _float_fn("sin", math.sin),
    "cos": _float_fn("cos", math.cos),
    "tan": _float_fn("tan", math.tan),
    "asin": _float_fn("asin", math.asin),
    "acos": _float_fn("acos", math.acos),
    "atan": _float_fn("atan", math.atan),
    "sinh": _float_fn("sinh", math.sinh),
    "cosh": _float_fn("cosh", math.cosh),
    "tanh": _float_fn("tanh", math.tanh),
    "asinh": _float_fn("asinh", math.asinh),
    "acosh": _float_fn("acosh", math.acosh),
    "atanh": _float_fn("atanh", math.atanh),
    "random": fixed(_random, 0),
    "bitnot": fixed(lambda x: ~want_int(x), 1),
    "bitand": _bits(lambda x, y: x & y),
    "bitor": _bits(lambda x, y: x | y),
    "bitxor": _bits(lambda x, y: x ^ y),
    "bitsl": _bits(_shift_left),
    "bitsr": _bits(lambda x, y: _shift_left(x, -y)),
    "subbits": fixed(_subbits, 2, 6),
}
