"""String built-ins: lower, upper, trim/ltrim/rtrim, reverse, strlen, substr, split, tokens,
concat, sprintf, pad, replace, regex_match, regex_replace, ascii, find, unescape,
join_to_string.

Rule: each keeps the EMQX (Erlang `string` module) behaviour its docs show: `substr` starts
at 0, `split` drops empty parts unless asked with `*_notrim`, `find` returns the rest of the
string from the match (or '' when there is none), `pad` repeats the whole pad string.
"""

import re
from typing import Final

from mqttcloud.rulesql.errors import EvalError
from mqttcloud.rulesql.functions.base import Function, fixed, want_choice, want_int, want_list, want_str
from mqttcloud.rulesql.values import is_number, to_str


def _substr(s: object, start: object, length: object = None) -> str:
    value, first = want_str(s), want_int(start, "start")
    if first < 0:
        raise EvalError("start must not be negative")
    if length is None:
        return value[first:]
    count = want_int(length, "length")
    if count < 0:
        raise EvalError("length must not be negative")
    return value[first : first + count]


_SPLIT_MODES: Final = ("notrim", "leading", "leading_notrim", "trailing", "trailing_notrim")


def _split(s: object, sep: object, mode: object = "all") -> list[str]:
    value, separator = want_str(s), want_str(sep, "separator")
    how = "all" if mode == "all" else want_choice(mode, _SPLIT_MODES, "mode")
    if not separator:
        parts = [value]
    elif how.startswith("leading"):
        parts = value.split(separator, 1)
    elif how.startswith("trailing"):
        parts = value.rsplit(separator, 1)
    else:
        parts = value.split(separator)
    return parts if how.endswith("notrim") else [p for p in parts if p]


def _tokens(s: object, seps: object, nocrlf: object = None) -> list[str]:
    value, separators = want_str(s), want_str(seps, "separators")
    if nocrlf is not None:
        want_choice(nocrlf, ("nocrlf",), "option")
        separators += "\r\n"
    if not separators:
        return [value] if value else []
    pattern = "[" + re.escape(separators) + "]+"
    return [t for t in re.split(pattern, value) if t]


def _concat(*parts: object) -> str:
    if len(parts) == 1:
        return "".join(to_str(p) for p in want_list(parts[0]))
    return "".join(to_str(p) for p in parts)


def _erlang_term(value: object) -> str:
    """How Erlang's `~p` / `~w` print a rule value."""
    if isinstance(value, str | bytes):
        return '<<"' + want_str(value).replace("\\", "\\\\").replace('"', '\\"') + '">>'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "undefined"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ",".join(_erlang_term(v) for v in value) + "]"
    if isinstance(value, dict):
        return "#{" + ",".join(f"{_erlang_term(k)} => {_erlang_term(v)}" for k, v in value.items()) + "}"
    return str(value)


_DIRECTIVE: Final = re.compile(r"~(?:\.(\d+))?([spwndf~])")


def _sprintf(fmt: object, *args: object) -> str:
    """Erlang io_lib:format with the directives ~s ~p ~w ~d ~f ~.Nf ~n ~~."""
    template, remaining = want_str(fmt, "format"), list(args)

    def directive(match: re.Match[str]) -> str:
        precision, code = match.group(1), match.group(2)
        if code == "n":
            return "\n"
        if code == "~":
            return "~"
        if not remaining:
            raise EvalError("sprintf has more directives than arguments")
        value = remaining.pop(0)
        if code == "s":
            return to_str(value)
        if code in "pw":
            return _erlang_term(value)
        if code == "d":
            return str(want_int(value))
        if not is_number(value):
            raise EvalError(f"~f needs a number, got {value!r}")
        assert isinstance(value, int | float)
        return f"{float(value):.{int(precision or 6)}f}"

    out = _DIRECTIVE.sub(directive, template)
    if remaining:
        raise EvalError("sprintf has more arguments than directives")
    return out


def _pad(s: object, length: object, where: object = "trailing", char: object = " ") -> str:
    value, size = want_str(s), want_int(length, "length")
    side = want_choice(where, ("trailing", "leading", "both"), "direction")
    fill = want_str(char, "pad string")
    missing = max(size - len(value), 0)
    if side == "trailing":
        return value + fill * missing
    if side == "leading":
        return fill * missing + value
    before = missing // 2
    return fill * before + value + fill * (missing - before)


def _replace(s: object, old: object, new: object, where: object = "all") -> str:
    value, pattern, replacement = want_str(s), want_str(old), want_str(new)
    side = want_choice(where, ("all", "leading", "trailing"), "where")
    if not pattern:
        return value
    if side == "all":
        return value.replace(pattern, replacement)
    at = value.find(pattern) if side == "leading" else value.rfind(pattern)
    return value if at < 0 else value[:at] + replacement + value[at + len(pattern) :]


def _compile(pattern: object) -> re.Pattern[str]:
    try:
        return re.compile(want_str(pattern, "regular expression"))
    except re.error as exc:
        raise EvalError(f"bad regular expression: {exc}") from None


def _regex_match(s: object, pattern: object) -> bool:
    return _compile(pattern).search(want_str(s)) is not None


_ERLANG_REPLACEMENT: Final = re.compile(r"\\(\d+)|\\g\{(\d+)\}|\\(.)|&")


def _regex_replace(s: object, pattern: object, replacement: object) -> str:
    """re:replace(S, RE, R, [global]): `&` is the whole match, `\\N` group N."""
    template = want_str(replacement, "replacement")

    def expand(match: re.Match[str]) -> str:
        def piece(m: re.Match[str]) -> str:
            if m.group(0) == "&":
                return match.group(0)
            group = m.group(1) or m.group(2)
            if group is not None:
                index = int(group)
                return (match.group(index) or "") if index <= (match.re.groups or 0) else ""
            return m.group(3)

        return _ERLANG_REPLACEMENT.sub(piece, template)

    return _compile(pattern).sub(expand, want_str(s))


def _ascii(s: object) -> int:
    value = want_str(s).encode()
    if not value:
        raise EvalError("ascii of an empty string")
    return value[0]


def _find(s: object, part: object, where: object = "leading") -> str:
    value, pattern = want_str(s), want_str(part)
    side = want_choice(where, ("leading", "trailing"), "direction")
    at = value.find(pattern) if side == "leading" else value.rfind(pattern)
    return "" if at < 0 else value[at:]


_UNESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0",
                     "\\": "\\", "'": "'", '"': '"', "a": "\a"}  # fmt: skip
_ESCAPE: Final = re.compile(r"\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|.)", re.DOTALL)


def _unescape(s: object) -> str:
    def one(m: re.Match[str]) -> str:
        code = m.group(1)
        if len(code) > 1:
            return chr(int(code[1:], 16))
        if code not in _UNESCAPES:
            raise EvalError(f"unknown escape sequence \\{code}")
        return _UNESCAPES[code]

    return _ESCAPE.sub(one, want_str(s))


def _join_to_string(*args: object) -> str:
    sep, items = (", ", args[0]) if len(args) == 1 else (want_str(args[0], "separator"), args[1])
    return sep.join(to_str(item) for item in want_list(items))


def _float2str(value: object, precision: object) -> str:
    number, digits = value, want_int(precision, "precision")
    if not is_number(number):
        raise EvalError("float2str needs a number")
    assert isinstance(number, int | float)
    out = f"{float(number):.{digits}f}".rstrip("0")
    return out + "0" if out.endswith(".") else out


FUNCTIONS: Final[dict[str, Function]] = {
    "lower": fixed(lambda s: want_str(s).lower(), 1),
    "upper": fixed(lambda s: want_str(s).upper(), 1),
    "trim": fixed(lambda s: want_str(s).strip(), 1),
    "ltrim": fixed(lambda s: want_str(s).lstrip(), 1),
    "rtrim": fixed(lambda s: want_str(s).rstrip(), 1),
    "reverse": fixed(lambda s: want_str(s)[::-1], 1),
    "strlen": fixed(lambda s: len(want_str(s)), 1),
    "substr": fixed(_substr, 2, 3),
    "split": fixed(_split, 2, 3),
    "tokens": fixed(_tokens, 2, 3),
    "concat": fixed(_concat, 1, None),
    "sprintf": fixed(_sprintf, 1, None),
    "pad": fixed(_pad, 2, 4),
    "replace": fixed(_replace, 3, 4),
    "regex_match": fixed(_regex_match, 2),
    "regex_replace": fixed(_regex_replace, 3),
    "ascii": fixed(_ascii, 1),
    "find": fixed(_find, 2, 3),
    "unescape": fixed(_unescape, 1),
    "join_to_string": fixed(_join_to_string, 1, 2),
    "float2str": fixed(_float2str, 2),
}
