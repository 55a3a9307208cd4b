"""The two exceptions of the rule SQL package: one for the text of a rule, one for running it.

Rule: `parse` raises only `SqlError`, and it always says where (1-based line and column) and
why. `Rule.evaluate` raises only `EvalError` (EMQX counts these as `failed.exception`); any
other exception escaping `rulesql/` is a bug.
"""


class SqlError(ValueError):
    """The SQL text is not a valid rule; `line`/`column` point at the offending character."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"{message} at line {line}, column {column}")
        self.message = message
        self.line = line
        self.column = column


class EvalError(ValueError):
    """Running a rule on one input failed (bad argument type, bad JSON payload, division by 0).

    `field` names the SELECT/WHERE expression (its source text) or function that failed.
    """

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.message = message
        self.field = field
