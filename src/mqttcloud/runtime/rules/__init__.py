"""The rule engine of the broker process (EMQX data integration): rules, their actions, their counters.

Parts: engine.py (per-tenant `RuleEngine`: compile, match, evaluate, count), columns.py (EMQX's
columns from core objects), outputs.py (republish, console, hand-off to a sink), templates.py
(`${...}`); the delivering actions: sink.py (`ActionSink`: bounded queue, counters, status;
`BatchSink`: batching workers) under http.py + httpclient.py (HTTP: keep-alive workers, health
probe), pgsql.py, redis.py and mqtt.py. Rule: asyncio lives here, never in `broker/`; the core only
calls the engine through its two taps (`broker.hooks.MessageTap`, `EventTap`).
"""

from mqttcloud.runtime.rules.engine import RuleEngine
from mqttcloud.runtime.rules.http import HttpSink
from mqttcloud.runtime.rules.outputs import Sink

__all__ = ["HttpSink", "RuleEngine", "Sink"]
