"""`Rule` and `parse`: the public face of the package.

Rule: a `Rule` is immutable and safe to share; `evaluate` keeps no state between calls, takes
the time as an argument and never changes the columns it is given.
"""

from collections.abc import Callable, Mapping

from mqttcloud.rulesql import topics
from mqttcloud.rulesql.compiler import Result, compile_statement
from mqttcloud.rulesql.env import Env
from mqttcloud.rulesql.events import EVENT_PREFIX, event_name
from mqttcloud.rulesql.nodes import Statement
from mqttcloud.rulesql.parser import parse_statement


class Rule:
    """A parsed and compiled rule SQL statement."""

    __slots__ = ("_filters", "_program", "run", "sources", "sql", "statement")

    def __init__(self, sql: str, statement: Statement) -> None:
        self.sql = sql
        self.statement = statement
        self.sources: tuple[str, ...] = statement.sources  # topic filters and `$events/...`
        self._filters = tuple(s for s in statement.sources if not s.startswith(EVENT_PREFIX))
        program = self._program = compile_statement(statement)
        # `run(env)`: `evaluate` on an Env that other rules read too (`Env(columns, now)` made once
        # per input, so the payload is decoded once for all of them); raises as `evaluate` does.
        self.run: Callable[[Env], Result] = (
            (lambda env: program.run(env.fork())) if program.writes_env else program.run
        )

    @property
    def is_foreach(self) -> bool:
        return self.statement.is_foreach

    @property
    def events(self) -> tuple[str, ...]:
        """The event names (`client_connected`, ...) the rule selects from."""
        return tuple(e for e in (event_name(s) for s in self.sources) if e is not None)

    def matches(self, topic: str) -> bool:
        """True when a message on `topic` (or the event topic `$events/<name>`) feeds this rule."""
        if topic.startswith(EVENT_PREFIX):
            return topic in self.sources
        return any(topics.match(topic, f) for f in self._filters)

    def evaluate(self, columns: Mapping[str, object], now: float) -> Result:
        """Run the rule on one input.

        Args:
            columns: the input's columns by EMQX name (see `events.py`); `payload` may be str,
                bytes or already-decoded JSON.
            now: seconds since the epoch, for the time functions.

        Returns:
            None when WHERE is not true; for FOREACH the list of outputs (maybe empty); else
            the one output.

        Raises:
            EvalError: the rule failed on this input (bad argument, payload not JSON, ...).
        """
        return self._program.run(Env(columns, now))

    def __repr__(self) -> str:
        return f"Rule({self.sql!r})"


def parse(sql: str) -> Rule:
    """Parse and compile rule SQL; raise SqlError(message, line, column) when it is invalid."""
    return Rule(sql, parse_statement(sql))
