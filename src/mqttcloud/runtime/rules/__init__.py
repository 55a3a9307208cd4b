"""The rule engine of the broker process (EMQX data integration): rules, their actions, their counters.

Parts: engine.py (per-tenant `RuleEngine`: compile, match, evaluate, count), columns.py (EMQX's
columns from core objects), outputs.py (republish, console), http.py (HTTP actions: bounded queue,
workers, health probe), httpclient.py (their keep-alive HTTP/1.1 client), templates.py (`${...}`). Rule: asyncio lives here, never in `broker/`; the
core only calls the engine through its two taps (`broker.hooks.MessageTap`, `EventTap`).
"""

from mqttcloud.runtime.rules.engine import RuleEngine
from mqttcloud.runtime.rules.http import HttpSink

__all__ = ["HttpSink", "RuleEngine"]
