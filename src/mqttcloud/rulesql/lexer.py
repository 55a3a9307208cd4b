"""Rule SQL text → tokens, each with its 1-based line and column.

Owns the token kinds of EMQX's dialect: keywords (case-insensitive), identifiers, numbers,
'single' and "double" quoted strings, operators and punctuation. As in EMQX, a string keeps
its backslashes (`unescape()` interprets them) except `\'` / `\"`, which stand for the quote.
Rule: anything the lexer cannot read raises `SqlError` at the first unreadable character;
the token list always ends with one `EOF` token.
"""

import re
from dataclasses import dataclass
from enum import Enum
from typing import Final

from mqttcloud.rulesql.errors import SqlError


class Kind(Enum):
    KEYWORD = "keyword"
    IDENT = "identifier"
    INT = "integer"
    FLOAT = "float"
    SQ_STRING = "'string'"
    DQ_STRING = '"string"'
    OP = "operator"
    EOF = "end of input"


KEYWORDS: Final = frozenset(
    {
        "select", "from", "where", "as", "and", "or", "not", "case", "when", "then", "else",
        "end", "foreach", "do", "incase", "div", "mod", "in", "true", "false",
    }
)  # fmt: skip

# Longest first, so `<=` wins over `<` and `..` over `.`.
_OPERATORS: Final = ("=~", "<>", "!=", "<=", ">=", "..", "=", "<", ">", "+", "-", "*", "/",
                     ".", ",", "(", ")", "[", "]")  # fmt: skip
_NUMBER: Final = re.compile(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_IDENT: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str  # keywords lower-cased; strings without their quotes
    line: int
    column: int
    offset: int  # where the token starts in the SQL text (to quote an expression's source)
    end: int  # where it ends (exclusive)


def tokenize(sql: str) -> list[Token]:
    """Split `sql` into tokens; raise SqlError at the first character no token can start with."""
    tokens: list[Token] = []
    i, line, line_start, n = 0, 1, 0, len(sql)
    while i < n:
        ch = sql[i]
        column = i - line_start + 1
        if ch == "\n":
            i, line, line_start = i + 1, line + 1, i + 1
            continue
        if ch.isspace():
            i += 1
            continue
        if ch in "'\"":
            text, end, lines, last_nl = _read_string(sql, i, line, column)
            kind = Kind.SQ_STRING if ch == "'" else Kind.DQ_STRING
            tokens.append(Token(kind, text, line, column, i, end))
            if lines:
                line, line_start = line + lines, last_nl + 1
            i = end
            continue
        if "0" <= ch <= "9":
            match = _NUMBER.match(sql, i)
            assert match is not None
            text = match.group(0)  # `1..3` stays INT `1`: a fraction needs a digit after the dot
            kind = Kind.INT if text.isdigit() else Kind.FLOAT
            tokens.append(Token(kind, text, line, column, i, i + len(text)))
            i += len(text)
            continue
        match = _IDENT.match(sql, i)
        if match:
            word = match.group(0)
            if word.lower() in KEYWORDS:
                tokens.append(Token(Kind.KEYWORD, word.lower(), line, column, i, match.end(0)))
            else:
                tokens.append(Token(Kind.IDENT, word, line, column, i, match.end(0)))
            i = match.end(0)
            continue
        for op in _OPERATORS:
            if sql.startswith(op, i):
                tokens.append(Token(Kind.OP, op, line, column, i, i + len(op)))
                i += len(op)
                break
        else:
            raise SqlError(f"unexpected character {ch!r}", line, column)
    tokens.append(Token(Kind.EOF, "", line, i - line_start + 1, n, n))
    return tokens


def _read_string(sql: str, start: int, line: int, column: int) -> tuple[str, int, int, int]:
    """Read a quoted string at `start`; return (text, end index, newlines inside, last newline)."""
    quote = sql[start]
    out: list[str] = []
    i, lines, last_nl = start + 1, 0, -1
    while i < len(sql):
        ch = sql[i]
        if ch == quote:
            return "".join(out), i + 1, lines, last_nl
        if ch == "\\" and sql.startswith(quote, i + 1):
            out.append(quote)
            i += 2
            continue
        if ch == "\n":
            lines, last_nl = lines + 1, i
        out.append(ch)
        i += 1
    raise SqlError(f"unterminated string (missing {quote})", line, column)
