"""`Statement` → closures: each expression becomes one `Env -> value` function, built once.

Rules:
- SELECT fields run in order; a field's value is written to the output under its alias (or
  the column path it reads, or a string constant's text, or else its SQL text) and, when a
  later field or a condition reads that name, to the columns as well (EMQX lets WHERE see
  aliases). Undefined values are not written.
- WHERE and INCASE pass only on `true`; false or undefined drop the input, any other value is
  an EvalError. AND/OR take booleans; NOT of a non-boolean is false (EMQX).
- FOREACH: the last FOREACH field is the array (a non-array gives no items) and its alias
  names the item (default `item`); INCASE filters items, DO shapes each one (without DO an
  item's output is every column plus the item).
"""

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from mqttcloud.rulesql import nodes, topics
from mqttcloud.rulesql.env import Env
from mqttcloud.rulesql.errors import EvalError
from mqttcloud.rulesql.functions import FUNCTIONS
from mqttcloud.rulesql.values import (
    arith,
    compare,
    get_index,
    get_key,
    get_slice,
    is_number,
    kind_name,
    put_path,
    same,
)

Eval = Callable[[Env], object]
_NUMERIC_COMPARISONS: Final[dict[str, Callable[[float, float], bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<>": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
FieldWriter = Callable[[Env, dict[str, object]], None]
_ALL: Final = "*"  # stands for "every column" in a set of referenced names


def _const(value: object) -> Eval:
    return lambda env: value


def _path(expr: nodes.Path) -> Eval:
    first = expr.steps[0]
    assert isinstance(first, nodes.Key)
    rest = expr.steps[1:]
    root = first.name
    if root == "payload" and rest:
        base: Eval = lambda env: env.payload()  # noqa: E731
    else:
        base = lambda env: env.get(root)  # noqa: E731
    if not rest:
        return base
    if all(isinstance(s, nodes.Key) for s in rest) and len(rest) == 1:
        key = rest[0].name  # type: ignore[union-attr]  # checked: a Key

        def one_key(env: Env) -> object:
            value = base(env)
            return value.get(key) if type(value) is dict else get_key(value, key)

        return one_key
    steps = [_step(s) for s in rest]

    def walk(env: Env) -> object:
        value = base(env)
        for step in steps:
            if value is None:
                return None
            value = step(value, env)
        return value

    return walk


def _step(step: nodes.Step) -> Callable[[object, Env], object]:
    if isinstance(step, nodes.Key):
        key = step.name
        return lambda value, env: get_key(value, key)
    if isinstance(step, nodes.Index):
        index = compile_expr(step.index)
        return lambda value, env: get_index(value, index(env))
    start, stop = step.start, step.stop
    return lambda value, env: get_slice(value, start, stop)


def _unary(expr: nodes.Unary) -> Eval:
    operand, source = compile_expr(expr.operand), expr.source
    if expr.op == "not":
        return lambda env: operand(env) is False
    negate = expr.op == "-"

    def sign(env: Env) -> object:
        value = operand(env)
        if not is_number(value):
            raise EvalError(f"unary {expr.op} needs a number, got {kind_name(value)}", source)
        assert isinstance(value, int | float)
        return -value if negate else value

    return sign


def _binary(expr: nodes.Binary) -> Eval:
    left, right, op, source = compile_expr(expr.left), compile_expr(expr.right), expr.op, expr.source
    if op == "=~":

        def topic_match(env: Env) -> object:
            topic, topic_filter = left(env), right(env)
            if isinstance(topic, str) and isinstance(topic_filter, str):
                return topics.match(topic, topic_filter)
            return False

        return topic_match
    if op in _NUMERIC_COMPARISONS:
        numeric = _NUMERIC_COMPARISONS[op]

        def comparison(env: Env) -> object:
            a, b = left(env), right(env)
            kind_a, kind_b = type(a), type(b)
            if (kind_a is int or kind_a is float) and (kind_b is int or kind_b is float):
                return numeric(a, b)  # type: ignore[arg-type]  # both int or float, e.g. `payload.temp > 30`
            try:
                return compare(op, a, b)
            except EvalError as exc:
                raise EvalError(exc.message, exc.field or source) from None

        return comparison

    def arithmetic(env: Env) -> object:
        try:
            return arith(op, left(env), right(env))
        except EvalError as exc:
            raise EvalError(exc.message, exc.field or source) from None

    return arithmetic


def _logical(expr: nodes.Logical) -> Eval:
    left, right, source = compile_expr(expr.left), compile_expr(expr.right), expr.source
    short_circuit = expr.op == "or"  # `or` stops on true, `and` on false

    def logical(env: Env) -> object:
        value = left(env)
        if not isinstance(value, bool):
            raise EvalError(f"{expr.op.upper()} needs booleans, got {kind_name(value)}", source)
        if value is short_circuit:
            return value
        value = right(env)
        if not isinstance(value, bool):
            raise EvalError(f"{expr.op.upper()} needs booleans, got {kind_name(value)}", source)
        return value

    return logical


def _in(expr: nodes.In) -> Eval:
    value, options = compile_expr(expr.value), [compile_expr(o) for o in expr.options]

    def member(env: Env) -> object:
        found = value(env)
        return any(same(found, option(env)) for option in options)

    return member


def _case(expr: nodes.Case) -> Eval:
    branches = [(compile_expr(w), compile_expr(t)) for w, t in expr.branches]
    otherwise = compile_expr(expr.otherwise) if expr.otherwise is not None else _const(None)
    if expr.subject is None:

        def case_when(env: Env) -> object:
            for when, then in branches:
                if when(env) is True:
                    return then(env)
            return otherwise(env)

        return case_when
    subject = compile_expr(expr.subject)

    def case_switch(env: Env) -> object:
        value = subject(env)
        for when, then in branches:
            if same(value, when(env)):
                return then(env)
        return otherwise(env)

    return case_switch


def _call(expr: nodes.Call) -> Eval:
    spec, args, source = FUNCTIONS[expr.name], [compile_expr(a) for a in expr.args], expr.source
    fn, uses_env = spec.fn, spec.uses_env

    def call(env: Env) -> object:
        values = [arg(env) for arg in args]
        try:
            return fn(env, *values) if uses_env else fn(*values)
        except EvalError as exc:
            raise EvalError(exc.message, exc.field or source) from None
        except Exception as exc:  # a built-in failing on its input is the rule failing on it
            raise EvalError(f"{type(exc).__name__}: {exc}", source) from None

    return call


def compile_expr(expr: nodes.Expr) -> Eval:
    """The function that evaluates `expr` against an Env."""
    if isinstance(expr, nodes.Const):
        return _const(expr.value)
    if isinstance(expr, nodes.Path):
        return _path(expr)
    if isinstance(expr, nodes.ArrayLit):
        items = [compile_expr(i) for i in expr.items]
        return lambda env: [item(env) for item in items]
    if isinstance(expr, nodes.Range):
        start, stop = expr.start, expr.stop
        return lambda env: list(range(start, stop + 1))
    if isinstance(expr, nodes.Unary):
        return _unary(expr)
    if isinstance(expr, nodes.Binary):
        return _binary(expr)
    if isinstance(expr, nodes.Logical):
        return _logical(expr)
    if isinstance(expr, nodes.In):
        return _in(expr)
    if isinstance(expr, nodes.Case):
        return _case(expr)
    return _call(expr)


# -- which names an expression reads -----------------------------------------------------------


def _children(expr: nodes.Expr) -> list[nodes.Expr]:
    if isinstance(expr, nodes.Path):
        return [s.index for s in expr.steps if isinstance(s, nodes.Index)]
    if isinstance(expr, nodes.ArrayLit | nodes.Call):
        return list(expr.items if isinstance(expr, nodes.ArrayLit) else expr.args)
    if isinstance(expr, nodes.Unary):
        return [expr.operand]
    if isinstance(expr, nodes.Binary | nodes.Logical):
        return [expr.left, expr.right]
    if isinstance(expr, nodes.In):
        return [expr.value, *expr.options]
    if isinstance(expr, nodes.Case):
        parts = [e for branch in expr.branches for e in branch]
        return [*parts, *(e for e in (expr.subject, expr.otherwise) if e is not None)]
    return []


def reads(expr: nodes.Expr | None) -> set[str]:
    """Column names `expr` reads (`*` when a built-in may read any column)."""
    if expr is None:
        return set()
    out: set[str] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, nodes.Path):
            first = node.steps[0]
            assert isinstance(first, nodes.Key)
            out.add(first.name)
        elif isinstance(node, nodes.Call) and FUNCTIONS[node.name].uses_env:
            out.add(_ALL)
        stack.extend(_children(node))
    return out


def _field_reads(fields: tuple[nodes.Field, ...]) -> set[str]:
    out: set[str] = set()
    for field in fields:
        out |= {_ALL} if field.expr is None else reads(field.expr)
    return out


# -- fields and statements ---------------------------------------------------------------------


def output_key(field: nodes.Field) -> tuple[str, ...]:
    """Where a field's value goes: its alias, else the path it reads, else its text."""
    if field.alias is not None:
        return field.alias
    expr = field.expr
    if isinstance(expr, nodes.Path) and all(isinstance(s, nodes.Key) for s in expr.steps):
        return tuple(s.name for s in expr.steps)  # type: ignore[union-attr]  # all Keys
    if isinstance(expr, nodes.Const) and isinstance(expr.value, str):
        return (expr.value,)
    assert expr is not None
    return (expr.source,)


def _writer(field: nodes.Field, read_later: set[str]) -> FieldWriter:
    if field.expr is None:

        def star(env: Env, out: dict[str, object]) -> None:
            out.update(env.columns())

        return star
    value_of, keys = compile_expr(field.expr), output_key(field)
    to_env = _ALL in read_later or keys[0] in read_later
    key = keys[0] if len(keys) == 1 else None

    def write(env: Env, out: dict[str, object]) -> None:
        value = value_of(env)
        if value is None:
            return
        if key is not None:
            out[key] = value
        else:
            put_path(out, keys, value)
        if to_env:
            env.put(keys, value)

    return write


def _writers(fields: tuple[nodes.Field, ...], read_after: set[str]) -> list[FieldWriter]:
    writers: list[FieldWriter] = []
    for i, field in enumerate(fields):
        writers.append(_writer(field, _field_reads(fields[i + 1 :]) | read_after))
    return writers


def _condition(expr: nodes.Expr | None, clause: str) -> Callable[[Env], bool]:
    if expr is None:
        return lambda env: True
    test, source = compile_expr(expr), expr.source

    def passes(env: Env) -> bool:
        value = test(env)
        if value is True:
            return True
        if value is False or value is None:
            return False
        raise EvalError(f"{clause} must be a boolean, got {kind_name(value)}", source)

    return passes


@dataclass(frozen=True, slots=True)
class Program:
    """A compiled statement: `run(env)` → output dict, list of dicts (FOREACH), or None."""

    run: Callable[[Env], dict[str, object] | list[dict[str, object]] | None]


def compile_statement(statement: nodes.Statement) -> Program:
    where = _condition(statement.where, "WHERE")
    if not statement.is_foreach:
        writers = _writers(statement.fields, reads(statement.where))

        def select(env: Env) -> dict[str, object] | None:
            out: dict[str, object] = {}
            for write in writers:
                write(env, out)
            return out if where(env) else None

        return Program(select)
    return _compile_foreach(statement, where)


def _compile_foreach(statement: nodes.Statement, where: Callable[[Env], bool]) -> Program:
    *head, last = statement.fields
    assert last.expr is not None
    read_after = reads(statement.where) | reads(statement.incase) | _field_reads(statement.do)
    writers = _writers((*head, last), read_after)
    collection = compile_expr(last.expr)
    item_name = last.alias[0] if last.alias else "item"
    incase = _condition(statement.incase, "INCASE")
    do = _writers(statement.do, set())

    def foreach(env: Env) -> list[dict[str, object]] | None:
        selected: dict[str, object] = {}
        for write in writers[:-1]:
            write(env, selected)
        items = collection(env)
        writers[-1](env, selected)  # the array itself is selected too (WHERE may read it)
        if not where(env):
            return None
        results: list[dict[str, object]] = []
        for item in items if isinstance(items, list) else ():
            item_env = env.child(item_name, item)
            if not incase(item_env):
                continue
            if not do:
                results.append(item_env.columns())
                continue
            out: dict[str, object] = {}
            for write in do:
                write(item_env, out)
            results.append(out)
        return results

    return Program(foreach)
