"""EMQX rule SQL, sans-I/O and stdlib only: `parse(sql) -> Rule`, `Rule.evaluate(columns, now)`
(or `Rule.run(Env(columns, now))` for several rules on one input).

Parts: lexer.py → parser.py (nodes.py) → compiler.py (closures over env.py + values.py);
functions/ holds the built-ins, events.py the sources and their columns, topics.py FROM and
`=~` matching. Rule: nothing here does I/O, reads a clock or imports outside the stdlib.
"""

from mqttcloud.rulesql.env import Env
from mqttcloud.rulesql.errors import EvalError, SqlError
from mqttcloud.rulesql.events import EVENT_FIELDS, MESSAGE_FIELDS, source_fields
from mqttcloud.rulesql.functions import FUNCTIONS
from mqttcloud.rulesql.rule import Rule, parse

__all__ = [
    "EVENT_FIELDS",
    "FUNCTIONS",
    "MESSAGE_FIELDS",
    "Env",
    "EvalError",
    "Rule",
    "SqlError",
    "parse",
    "source_fields",
]
