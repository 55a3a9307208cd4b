"""`Statement` → closures: each expression becomes one `Env -> value` function, built once.

Rules:
- SELECT fields run in order; a field's value is written to the output under its alias (or
  the column path it reads, or a string constant's text, or else its SQL text) and, when a
  later field or a condition reads that name, to the columns as well (EMQX lets WHERE see
  aliases). Undefined values are not written.
- WHERE and INCASE pass only on `true`; false or undefined drop the input, any other value is
  an EvalError. AND/OR take booleans; NOT of a non-boolean is false (EMQX).
- WHERE runs before the fields when it reads none of their names and none of them can fail (the
  outcome is EMQX's, and a dropped input costs no field); such a WHERE reads only the input, so its
  outcome is shared by every rule with the same WHERE text on that input (`Env.conditions`),
  unless it calls `random()`. `payload.k <op> number` compiles to one closure.
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
_VOLATILE: Final = frozenset({"random"})  # built-ins that may answer differently on one input
FieldWriter = Callable[[Env, dict[str, object]], None]
Result = dict[str, object] | list[dict[str, object]] | None
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
        key, constant = _payload_key(expr.left), expr.right
        if key is not None and isinstance(constant, nodes.Const) and is_number(constant.value):
            return _payload_comparison(op, key, constant.value, source)  # type: ignore[arg-type]  # a number

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


def _payload_key(expr: nodes.Expr) -> str | None:
    """`k` when `expr` is `payload.k`, else None."""
    if not isinstance(expr, nodes.Path) or len(expr.steps) != 2:
        return None
    root, step = expr.steps
    if isinstance(root, nodes.Key) and root.name == "payload" and isinstance(step, nodes.Key):
        return step.name
    return None


def _payload_comparison(op: str, key: str, constant: float, source: str) -> Eval:
    """`payload.k <op> number` as one closure: the commonest WHERE, read with no value wrappers."""
    numeric = _NUMERIC_COMPARISONS[op]

    def payload_comparison(env: Env) -> object:
        payload = env.payload()
        value = payload.get(key) if type(payload) is dict else get_key(payload, key)
        kind = type(value)
        if kind is int or kind is float:
            return numeric(value, constant)  # type: ignore[arg-type]  # int or float
        try:
            return compare(op, value, constant)
        except EvalError as exc:
            raise EvalError(exc.message, exc.field or source) from None

    return payload_comparison


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


def _calls(expr: nodes.Expr) -> set[str]:
    """The built-ins `expr` calls."""
    out: set[str] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, nodes.Call):
            out.add(node.name)
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


def _to_env(field: nodes.Field, read_later: set[str]) -> bool:
    """Whether a field's value must be written to the columns: a later part reads its name."""
    return field.expr is not None and (_ALL in read_later or output_key(field)[0] in read_later)


def _writer(field: nodes.Field, read_later: set[str]) -> FieldWriter:
    if field.expr is None:

        def star(env: Env, out: dict[str, object]) -> None:
            out.update(env.columns())

        return star
    value_of, keys = compile_expr(field.expr), output_key(field)
    to_env = _to_env(field, read_later)
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


def _writers(fields: tuple[nodes.Field, ...], read_after: set[str]) -> tuple[list[FieldWriter], bool]:
    """The fields' writers, and whether any of them writes to the columns."""
    writers: list[FieldWriter] = []
    writes_env = False
    for i, field in enumerate(fields):
        read_later = _field_reads(fields[i + 1 :]) | read_after
        writers.append(_writer(field, read_later))
        writes_env = writes_env or _to_env(field, read_later)
    return writers, writes_env


def _condition(expr: nodes.Expr | None, clause: str) -> Callable[[Env], bool]:
    if expr is None:
        return lambda env: True
    test, source = compile_expr(expr), expr.source
    if _is_boolean(expr):
        return test  # type: ignore[return-value]  # gives only True or False

    def passes(env: Env) -> bool:
        value = test(env)
        if value is True:
            return True
        if value is False or value is None:
            return False
        raise EvalError(f"{clause} must be a boolean, got {kind_name(value)}", source)

    return passes


def _is_boolean(expr: nodes.Expr) -> bool:
    """Expressions that give True or False (or raise), never another value."""
    if isinstance(expr, nodes.Binary):
        return expr.op == "=~" or expr.op in _NUMERIC_COMPARISONS
    return isinstance(expr, nodes.Logical | nodes.In) or (isinstance(expr, nodes.Unary) and expr.op == "not")


def _decodes_payload(expr: nodes.Expr) -> bool:
    """True when evaluating `expr` always reads `payload.<something>` (so a payload that is not
    JSON has made it fail)."""
    if isinstance(expr, nodes.Path):
        first = expr.steps[0]
        return isinstance(first, nodes.Key) and first.name == "payload" and len(expr.steps) > 1
    if isinstance(expr, nodes.Binary):
        return _decodes_payload(expr.left) or _decodes_payload(expr.right)
    if isinstance(expr, nodes.Logical):
        return _decodes_payload(expr.left)
    if isinstance(expr, nodes.Unary):
        return _decodes_payload(expr.operand)
    if isinstance(expr, nodes.In):
        return _decodes_payload(expr.value)
    if isinstance(expr, nodes.Call):
        return any(_decodes_payload(a) for a in expr.args)
    return False


def _cannot_fail(field: nodes.Field, payload_read: bool) -> bool:
    """A field whose evaluation raises nothing: a constant or a plain column path (into the payload
    only when it is known to be JSON)."""
    expr = field.expr
    if expr is None or isinstance(expr, nodes.Const):
        return True
    if not isinstance(expr, nodes.Path) or not all(isinstance(s, nodes.Key) for s in expr.steps):
        return False
    first = expr.steps[0]
    assert isinstance(first, nodes.Key)
    return first.name != "payload" or len(expr.steps) == 1 or payload_read


def _where_first(statement: nodes.Statement) -> bool:
    """WHERE may run before the fields when it reads none of their names and they cannot fail:
    the outcome is the same, and an input WHERE drops costs no field. Such a WHERE reads only the
    input, so rules with the same WHERE text share its outcome on one input (`Env.conditions`),
    unless it calls a volatile built-in (`random()`)."""
    where = statement.where
    if where is None:
        return False
    names = reads(where)
    if _ALL in names:
        return False
    payload_read = _decodes_payload(where)
    return all(
        (field.expr is None or _writes_back(field) or output_key(field)[0] not in names)
        and _cannot_fail(field, payload_read)
        for field in statement.fields
    )


def _writes_back(field: nodes.Field) -> bool:
    """`SELECT clientid` or `SELECT payload.k`: the value goes back where it was read from."""
    expr = field.expr
    return (
        field.alias is None
        and isinstance(expr, nodes.Path)
        and len(expr.steps) <= 2
        and all(isinstance(s, nodes.Key) for s in expr.steps)
    )


@dataclass(frozen=True, slots=True)
class Program:
    """A compiled statement: `run(env)` → output dict, list of dicts (FOREACH), or None.

    `writes_env`: `run` writes aliases to the Env, so an Env shared between rules must be forked.
    """

    run: Callable[[Env], Result]
    writes_env: bool


def compile_statement(statement: nodes.Statement) -> Program:
    where = _condition(statement.where, "WHERE")
    if statement.is_foreach:
        return _compile_foreach(statement, where)
    writers, writes_env = _writers(statement.fields, reads(statement.where))
    if _where_first(statement):
        assert statement.where is not None
        key, shared = statement.where.source, not _calls(statement.where) & _VOLATILE

        def where_then_select(env: Env) -> dict[str, object] | None:
            if shared:
                passed = env.conditions.get(key)
                if passed is None:
                    passed = env.conditions[key] = where(env)
            else:
                passed = where(env)
            if not passed:
                return None
            out: dict[str, object] = {}
            for write in writers:
                write(env, out)
            return out

        return Program(where_then_select, writes_env)

    def select(env: Env) -> dict[str, object] | None:
        out: dict[str, object] = {}
        for write in writers:
            write(env, out)
        return out if where(env) else None

    return Program(select, writes_env)


def _compile_foreach(statement: nodes.Statement, where: Callable[[Env], bool]) -> Program:
    *head, last = statement.fields
    assert last.expr is not None
    read_after = reads(statement.where) | reads(statement.incase) | _field_reads(statement.do)
    writers, _ = _writers((*head, last), read_after)
    collection = compile_expr(last.expr)
    item_name = last.alias[0] if last.alias else "item"
    incase = _condition(statement.incase, "INCASE")
    do, _ = _writers(statement.do, set())

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

    return Program(foreach, writes_env=True)
