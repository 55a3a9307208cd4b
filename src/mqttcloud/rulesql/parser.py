"""Tokens → `Statement`: a recursive-descent parser for EMQX's rule SQL.

Grammar (keywords case-insensitive):
    rule      := SELECT fields FROM sources [WHERE expr]
               | FOREACH fields [DO fields] [INCASE expr] FROM sources [WHERE expr]
    fields    := field ("," field)*        field := "*" | expr [AS name ("." name)*]
    sources   := "topic filter" ("," "topic filter")*   (double quotes; `$events/<event>`)
    expr      := or;  or := and (OR and)*;  and := not (AND not)*;  not := NOT not | cmp
    cmp       := sum [("=" | "!=" | "<>" | "<" | "<=" | ">" | ">=" | "=~") sum | IN "(" expr, ... ")"]
    sum       := product (("+" | "-") product)*;  product := unary (("*" | "/" | DIV | MOD) unary)*
    unary     := ("-" | "+") unary | primary
    primary   := number | string | TRUE | FALSE | "(" expr ")" | "[" expr, ... "]" | "[" int ".." int "]"
               | CASE [expr] (WHEN expr THEN expr)+ [ELSE expr] END | name "(" args ")" | path
    path      := name ("." (name | 'quoted key') | "[" expr "]" | "[" int ".." int "]")*
Rule: every failure is a SqlError at the token where the rule stops making sense, saying what
was expected; function names and argument counts are checked here.
"""

import math

from mqttcloud.rulesql import nodes, topics
from mqttcloud.rulesql.errors import SqlError
from mqttcloud.rulesql.events import EVENT_FIELDS, EVENT_PREFIX, event_name
from mqttcloud.rulesql.functions import FUNCTIONS
from mqttcloud.rulesql.lexer import Kind, Token, tokenize

_COMPARISONS = ("=", "!=", "<>", "<", "<=", ">", ">=", "=~")
_MAX_DEPTH = 100  # nesting of expressions; deeper text is refused, not a RecursionError


class _Parser:
    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.tokens = tokenize(sql)
        self.pos = 0
        self.depth = 0

    # -- token helpers -------------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def at(self, kind: Kind, text: str | None = None) -> bool:
        return self.tok.kind is kind and (text is None or self.tok.text == text)

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind is Kind.OP and self.tok.text in ops

    def at_kw(self, *words: str) -> bool:
        return self.tok.kind is Kind.KEYWORD and self.tok.text in words

    def fail(self, message: str, tok: Token | None = None) -> SqlError:
        where = tok or self.tok
        return SqlError(message, where.line, where.column)

    def describe(self, tok: Token) -> str:
        if tok.kind is Kind.EOF:
            return "end of input"
        if tok.kind is Kind.SQ_STRING:
            return f"'{tok.text}'"
        if tok.kind is Kind.DQ_STRING:
            return f'"{tok.text}"'
        return f"{tok.text!r}"

    def expect_op(self, op: str) -> Token:
        if not self.at_op(op):
            raise self.fail(f"expected {op!r}, got {self.describe(self.tok)}")
        return self.advance()

    def expect_kw(self, word: str) -> Token:
        if not self.at_kw(word):
            raise self.fail(f"expected {word.upper()}, got {self.describe(self.tok)}")
        return self.advance()

    def source(self, start: Token) -> str:
        return self.sql[start.offset : self.tokens[self.pos - 1].end]

    # -- statements ----------------------------------------------------------------------------

    def statement(self) -> nodes.Statement:
        if self.at_kw("select"):
            self.advance()
            fields = self.fields(allow_star=True)
            sources = self.from_clause()
            where = self.where_clause()
            statement = nodes.Statement(fields, sources, where)
        elif self.at_kw("foreach"):
            self.advance()
            fields = self.fields(allow_star=False)
            last = fields[-1]
            if last.alias is not None and len(last.alias) > 1:
                raise self.fail("the FOREACH item name must be a plain name (AS item)")
            do: tuple[nodes.Field, ...] = ()
            incase = None
            if self.at_kw("do"):
                self.advance()
                do = self.fields(allow_star=True)
            if self.at_kw("incase"):
                self.advance()
                incase = self.expr()
            sources = self.from_clause()
            where = self.where_clause()
            statement = nodes.Statement(fields, sources, where, True, do, incase)
        else:
            raise self.fail(f"a rule starts with SELECT or FOREACH, got {self.describe(self.tok)}")
        if not self.at(Kind.EOF):
            raise self.fail(f"unexpected {self.describe(self.tok)} after the rule")
        return statement

    def fields(self, *, allow_star: bool) -> tuple[nodes.Field, ...]:
        out = [self.field(allow_star)]
        while self.at_op(","):
            self.advance()
            out.append(self.field(allow_star))
        return tuple(out)

    def field(self, allow_star: bool) -> nodes.Field:
        if self.at_op("*"):
            if not allow_star:
                raise self.fail("'*' is not allowed in the FOREACH clause")
            self.advance()
            return nodes.Field(None, None)
        if self.at_kw("from", "do", "incase", "where") or self.at(Kind.EOF):
            raise self.fail(f"expected a field, got {self.describe(self.tok)}")
        expr = self.expr()
        alias = None
        if self.at_kw("as"):
            self.advance()
            alias = self.alias()
        return nodes.Field(expr, alias)

    def alias(self) -> tuple[str, ...]:
        parts = [self.alias_part()]
        while self.at_op("."):
            self.advance()
            parts.append(self.alias_part())
        return tuple(parts)

    def alias_part(self) -> str:
        if self.tok.kind in (Kind.IDENT, Kind.SQ_STRING, Kind.DQ_STRING) and self.tok.text:
            return self.advance().text
        raise self.fail(f"expected a name after AS, got {self.describe(self.tok)}")

    def from_clause(self) -> tuple[str, ...]:
        self.expect_kw("from")
        out = [self.topic_source()]
        while self.at_op(","):
            self.advance()
            out.append(self.topic_source())
        return tuple(out)

    def topic_source(self) -> str:
        tok = self.tok
        if tok.kind is Kind.SQ_STRING:
            raise self.fail(f'topics in FROM are double-quoted: "{tok.text}"')
        if tok.kind is not Kind.DQ_STRING:
            raise self.fail(
                f'expected a "topic filter" or "$events/..." after FROM, got {self.describe(tok)}'
            )
        self.advance()
        name = event_name(tok.text)
        if name is not None:
            if name not in EVENT_FIELDS:
                known = ", ".join(EVENT_PREFIX + e for e in EVENT_FIELDS)
                raise self.fail(f"unknown event {tok.text!r} (known: {known})", tok)
            return tok.text
        problem = topics.filter_error(tok.text)
        if problem:
            raise self.fail(f"invalid topic filter {tok.text!r}: {problem}", tok)
        return tok.text

    def where_clause(self) -> nodes.Expr | None:
        if not self.at_kw("where"):
            return None
        self.advance()
        return self.expr()

    # -- expressions ---------------------------------------------------------------------------

    def nest(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.fail(f"expression nested deeper than {_MAX_DEPTH} levels")

    def expr(self) -> nodes.Expr:
        self.nest()
        try:
            return self.or_expr()
        finally:
            self.depth -= 1

    def or_expr(self) -> nodes.Expr:
        start = self.tok
        left = self.and_expr()
        while self.at_kw("or"):
            self.advance()
            right = self.and_expr()
            left = nodes.Logical("or", left, right, self.source(start))
        return left

    def and_expr(self) -> nodes.Expr:
        start = self.tok
        left = self.not_expr()
        while self.at_kw("and"):
            self.advance()
            right = self.not_expr()
            left = nodes.Logical("and", left, right, self.source(start))
        return left

    def not_expr(self) -> nodes.Expr:
        start = self.tok
        if self.at_kw("not"):
            self.advance()
            self.nest()
            operand = self.not_expr()
            self.depth -= 1
            return nodes.Unary("not", operand, self.source(start))
        return self.comparison()

    def comparison(self) -> nodes.Expr:
        start = self.tok
        left = self.sum_expr()
        if self.at_op(*_COMPARISONS):
            op = self.advance().text
            right = self.sum_expr()
            return nodes.Binary(op, left, right, self.source(start))  # type: ignore[arg-type]  # op is one of _COMPARISONS
        if self.at_kw("in"):
            self.advance()
            self.expect_op("(")
            options = self.expr_list(")")
            return nodes.In(left, options, self.source(start))
        return left

    def sum_expr(self) -> nodes.Expr:
        start = self.tok
        left = self.product()
        while self.at_op("+", "-"):
            op = self.advance().text
            right = self.product()
            left = nodes.Binary(op, left, right, self.source(start))  # type: ignore[arg-type]  # + or -
        return left

    def product(self) -> nodes.Expr:
        start = self.tok
        left = self.unary()
        while self.at_op("*", "/") or self.at_kw("div", "mod"):
            op = self.advance().text
            right = self.unary()
            left = nodes.Binary(op, left, right, self.source(start))  # type: ignore[arg-type]  # * / div mod
        return left

    def unary(self) -> nodes.Expr:
        start = self.tok
        if self.at_op("-", "+"):
            op = self.advance().text
            self.nest()
            operand = self.unary()
            self.depth -= 1
            number = operand.value if isinstance(operand, nodes.Const) else None
            if isinstance(number, int | float) and not isinstance(number, bool):
                return nodes.Const(-number if op == "-" else number, self.source(start))
            return nodes.Unary(op, operand, self.source(start))  # type: ignore[arg-type]  # - or +
        return self.primary()

    def expr_list(self, close: str) -> tuple[nodes.Expr, ...]:
        items: list[nodes.Expr] = []
        if self.at_op(close):
            self.advance()
            return ()
        items.append(self.expr())
        while self.at_op(","):
            self.advance()
            items.append(self.expr())
        self.expect_op(close)
        return tuple(items)

    def signed_int(self) -> int | None:
        """An integer literal (with an optional minus) at the cursor, consumed; else None."""
        negative = self.at_op("-") and self.tokens[self.pos + 1].kind is Kind.INT
        if negative:
            self.advance()
        if self.at(Kind.INT) and len(self.tok.text) <= 300:
            value = int(self.advance().text)
            return -value if negative else value
        return None

    def primary(self) -> nodes.Expr:
        tok = self.tok
        if tok.kind in (Kind.INT, Kind.FLOAT):
            self.advance()
            if len(tok.text) > 300:
                raise self.fail("number literal too long", tok)
            number = int(tok.text) if tok.kind is Kind.INT else float(tok.text)
            if number in (math.inf, -math.inf):
                raise self.fail(f"number {tok.text} is out of range", tok)
            return nodes.Const(number, tok.text)
        if tok.kind in (Kind.SQ_STRING, Kind.DQ_STRING):
            self.advance()
            return nodes.Const(tok.text, self.source(tok))
        if self.at_kw("true", "false"):
            self.advance()
            return nodes.Const(tok.text == "true", tok.text)
        if self.at_op("("):
            self.advance()
            inner = self.expr()
            self.expect_op(")")
            return inner
        if self.at_op("["):
            return self.array()
        if self.at_kw("case"):
            return self.case()
        if tok.kind is Kind.IDENT:
            self.advance()
            if self.at_op("("):
                return self.call(tok)
            return self.path(tok)
        raise self.fail(f"expected an expression, got {self.describe(tok)}")

    def array(self) -> nodes.Expr:
        start = self.advance()  # "["
        mark = self.pos
        first = self.signed_int()
        if first is not None and self.at_op(".."):
            self.advance()
            last = self.signed_int()
            if last is None:
                raise self.fail("expected an integer after '..'")
            self.expect_op("]")
            return nodes.Range(first, last, self.source(start))
        self.pos = mark
        items = self.expr_list("]")
        return nodes.ArrayLit(items, self.source(start))

    def case(self) -> nodes.Expr:
        start = self.advance()  # CASE
        subject = None if self.at_kw("when") else self.expr()
        branches: list[tuple[nodes.Expr, nodes.Expr]] = []
        while self.at_kw("when"):
            self.advance()
            condition = self.expr()
            self.expect_kw("then")
            branches.append((condition, self.expr()))
        if not branches:
            raise self.fail(f"expected WHEN, got {self.describe(self.tok)}")
        otherwise = None
        if self.at_kw("else"):
            self.advance()
            otherwise = self.expr()
        self.expect_kw("end")
        return nodes.Case(subject, tuple(branches), otherwise, self.source(start))

    def call(self, name_tok: Token) -> nodes.Expr:
        self.advance()  # "("
        args = self.expr_list(")")
        name = name_tok.text.lower()
        spec = FUNCTIONS.get(name)
        if spec is None:
            raise self.fail(f"unknown function {name_tok.text!r}", name_tok)
        if len(args) < spec.min_args or (spec.max_args is not None and len(args) > spec.max_args):
            if spec.max_args is None:
                want = f"at least {spec.min_args}"
            elif spec.min_args == spec.max_args:
                want = str(spec.min_args)
            else:
                want = f"{spec.min_args} to {spec.max_args}"
            raise self.fail(f"{name}() takes {want} arguments, got {len(args)}", name_tok)
        return nodes.Call(name, args, self.source(name_tok))

    def path(self, name_tok: Token) -> nodes.Expr:
        steps: list[nodes.Step] = [nodes.Key(name_tok.text)]
        while True:
            if self.at_op("."):
                self.advance()
                if (
                    self.tok.kind in (Kind.IDENT, Kind.KEYWORD, Kind.SQ_STRING, Kind.DQ_STRING)
                    or self.tok.kind is Kind.INT
                ):
                    steps.append(nodes.Key(self.advance().text))
                else:
                    raise self.fail(f"expected a field name after '.', got {self.describe(self.tok)}")
            elif self.at_op("["):
                self.advance()
                mark = self.pos
                first = self.signed_int()
                if first is not None and self.at_op(".."):
                    self.advance()
                    last = self.signed_int()
                    if last is None:
                        raise self.fail("expected an integer after '..'")
                    if first == 0 or last == 0:
                        raise self.fail("array positions start at 1 (0 is not a position)")
                    steps.append(nodes.Slice(first, last))
                else:
                    self.pos = mark
                    steps.append(nodes.Index(self.expr()))
                self.expect_op("]")
            else:
                return nodes.Path(tuple(steps), self.source(name_tok))


def parse_statement(sql: str) -> nodes.Statement:
    """Parse one rule; raise SqlError (with line and column) when it is not valid rule SQL."""
    if not isinstance(sql, str):
        raise SqlError("the rule SQL must be a string", 1, 1)
    return _Parser(sql).statement()
