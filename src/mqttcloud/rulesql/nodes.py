"""The syntax tree of a rule: one frozen dataclass per expression form and per statement.

Rule: nodes are plain data produced by `parser.py` and read by `compiler.py`; every node
keeps `source`, the exact SQL text it came from (used as the output key of an unaliased
expression and in error messages).
"""

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Const:
    value: bool | int | float | str | None
    source: str


@dataclass(frozen=True, slots=True)
class Key:
    name: str


@dataclass(frozen=True, slots=True)
class Index:
    """`x[i]`: 1-based, negative counts from the end (EMQX), `i` any expression."""

    index: "Expr"


@dataclass(frozen=True, slots=True)
class Slice:
    """`x[a..b]`: the elements a..b inclusive, 1-based, negative counts from the end."""

    start: int
    stop: int


Step = Key | Index | Slice


@dataclass(frozen=True, slots=True)
class Path:
    """A column and the steps into it: `clientid`, `payload.a.b`, `payload.list[1]`."""

    steps: tuple[Step, ...]  # steps[0] is always a Key: the column name
    source: str


@dataclass(frozen=True, slots=True)
class ArrayLit:
    items: tuple["Expr", ...]
    source: str


@dataclass(frozen=True, slots=True)
class Range:
    """`[1..3]`: the list of integers from start to stop inclusive."""

    start: int
    stop: int
    source: str


UnaryOp = Literal["-", "+", "not"]
BinaryOp = Literal["+", "-", "*", "/", "div", "mod", "=", "!=", "<>", "<", "<=", ">", ">=", "=~"]


@dataclass(frozen=True, slots=True)
class Unary:
    op: UnaryOp
    operand: "Expr"
    source: str


@dataclass(frozen=True, slots=True)
class Binary:
    op: BinaryOp
    left: "Expr"
    right: "Expr"
    source: str


@dataclass(frozen=True, slots=True)
class Logical:
    op: Literal["and", "or"]
    left: "Expr"
    right: "Expr"
    source: str


@dataclass(frozen=True, slots=True)
class In:
    value: "Expr"
    options: tuple["Expr", ...]
    source: str


@dataclass(frozen=True, slots=True)
class Case:
    """`CASE [subject] WHEN w THEN t ... [ELSE e] END`; with a subject, WHEN values are compared."""

    subject: "Expr | None"
    branches: tuple[tuple["Expr", "Expr"], ...]
    otherwise: "Expr | None"
    source: str


@dataclass(frozen=True, slots=True)
class Call:
    name: str  # lower-cased
    args: tuple["Expr", ...]
    source: str


Expr = Const | Path | ArrayLit | Range | Unary | Binary | Logical | In | Case | Call


@dataclass(frozen=True, slots=True)
class Field:
    """One SELECT/DO/FOREACH entry: `*`, or an expression with an optional alias path."""

    expr: Expr | None  # None for `*`
    alias: tuple[str, ...] | None  # `AS a.b` → ("a", "b")


@dataclass(frozen=True, slots=True)
class Statement:
    """A parsed rule. For FOREACH, `fields` is the FOREACH clause (the last one is the array)."""

    fields: tuple[Field, ...]
    sources: tuple[str, ...]
    where: Expr | None
    is_foreach: bool = False
    do: tuple[Field, ...] = ()
    incase: Expr | None = None
