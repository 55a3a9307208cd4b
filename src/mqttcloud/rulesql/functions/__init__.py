"""The built-in functions of rule SQL, by lower-case name (`FUNCTIONS`), one module per family.

Rule: the parser rejects a call to a name not in `FUNCTIONS` or with an argument count
outside the entry's bounds, so evaluation never meets an unknown function.
"""

from typing import Final

from mqttcloud.rulesql.functions import containers, context, conversion, dates, encoding, numeric, strings
from mqttcloud.rulesql.functions.base import Function

FUNCTIONS: Final[dict[str, Function]] = {
    **numeric.FUNCTIONS,
    **strings.FUNCTIONS,
    **conversion.FUNCTIONS,
    **containers.FUNCTIONS,
    **encoding.FUNCTIONS,
    **dates.FUNCTIONS,
    **context.FUNCTIONS,
}

__all__ = ["FUNCTIONS", "Function"]
