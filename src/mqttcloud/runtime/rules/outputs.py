"""What a rule does with each output: republish it, log it, or hand it to a delivering action's sink.

`Republisher` holds the messages rules republish and publishes them through the broker's own routing
on the next event-loop iteration (never inside the routing call that fed the rule), as the broker
(no publisher, no ACL check, QoS and retain from the action), all of one iteration in one batch.

Rules this module must not break:
- A republished message feeds rules again, as in EMQX; to stop a rule set from feeding itself
  forever, each message carries a depth (0 for a client's message, +1 per republish) and a republish
  of a message of depth `MAX_DEPTH` is refused (the rule counts `actions.failed`, and it is logged).
- The republish queue is bounded (`MAX_PENDING`): past it a republish is refused the same way.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Final

from mqttcloud import contracts
from mqttcloud.broker.actions import Action
from mqttcloud.broker.core import Broker
from mqttcloud.broker.delivery import Out
from mqttcloud.protocol.errors import ProtocolError
from mqttcloud.protocol.properties import NO_PROPERTIES, Properties
from mqttcloud.protocol.topics import validate_topic_name
from mqttcloud.rulesql.values import json_encode
from mqttcloud.runtime.rules.http import HttpSink
from mqttcloud.runtime.rules.mqtt import MqttSink
from mqttcloud.runtime.rules.pgsql import PgsqlSink
from mqttcloud.runtime.rules.redis import RedisSink
from mqttcloud.runtime.rules.sink import Output
from mqttcloud.runtime.rules.templates import ActionError, Template, bool_value, int_value

log = logging.getLogger(__name__)

MAX_DEPTH: Final = 8  # republish hops a message may have behind it and still be republished
MAX_PENDING: Final = 100_000  # republished messages waiting for the next loop iteration


class Republisher:
    """The tenant's pending republishes and the message depth the rules are looking at."""

    def __init__(
        self, broker: Broker, perform: Callable[[list[Action]], None], now: Callable[[], float]
    ) -> None:
        self.broker = broker
        self._perform = perform
        self._now = now
        self._pending: deque[tuple[str, bytes, int, bool, Properties, int]] = deque()
        self._scheduled = False
        self.depth = 0  # of the message being routed right now (rules read it through the engine)

    def put(self, topic: str, payload: bytes, qos: int, retain: bool, props: Properties) -> None:
        if self.depth >= MAX_DEPTH:
            raise ActionError(f"republish depth limit ({MAX_DEPTH}) reached: rules feed each other")
        if len(self._pending) >= MAX_PENDING:
            raise ActionError("republish queue full")
        self._pending.append((topic, payload, qos, retain, props, self.depth + 1))
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Route every pending republish (those they trigger wait for the next iteration)."""
        self._scheduled = False
        pending, self._pending = self._pending, deque()
        broker = self.broker
        now = self._now()
        out = Out()
        m = broker.counters.values
        for topic, payload, qos, retain, props, depth in pending:
            msg = broker.make_message(
                topic, payload, qos=qos, retain=retain, properties=props, publisher=None, now=now
            )
            m["messages.publish"] += 1
            self.depth = depth
            try:
                broker.route(msg, now, out)
            finally:
                self.depth = 0
        self._perform(out.result())

    def cancel(self) -> None:
        self._pending.clear()


class RepublishOutput:
    """EMQX's `republish`: topic, QoS, retain, payload and user properties from templates."""

    def __init__(
        self, spec: contracts.RepublishAction, republisher: Republisher, max_topic_levels: int
    ) -> None:
        self.spec = spec
        self._republisher = republisher
        self._max_levels = max_topic_levels
        self._topic = Template(spec.topic)
        self._qos = Template(spec.qos) if isinstance(spec.qos, str) else None
        self._retain = Template(spec.retain) if isinstance(spec.retain, str) else None
        self._payload = Template(spec.payload) if spec.payload else None
        self._props = Template(spec.user_properties) if spec.user_properties else None

    def run(self, output: Output) -> None:
        spec = self.spec
        topic = self._topic.render(output)
        try:
            validate_topic_name(topic, self._max_levels)
        except ProtocolError as exc:
            raise ActionError(f"republish topic {topic!r}: {exc.message}") from None
        qos = int_value(self._qos.value(output), "qos") if self._qos is not None else int(spec.qos)
        if qos not in (0, 1, 2):
            raise ActionError(f"qos must be 0, 1 or 2, got {qos}")
        retain = (
            bool_value(self._retain.value(output), "retain")
            if self._retain is not None
            else bool(spec.retain)
        )
        payload = self._payload.render(output) if self._payload is not None else json_encode(output)
        props = NO_PROPERTIES
        if self._props is not None:
            pairs = self._props.value(output)
            if isinstance(pairs, dict) and pairs:
                props = Properties(user_properties=tuple((str(k), str(v)) for k, v in pairs.items()))
        self._republisher.put(topic, payload.encode(), qos, retain, props)


class ConsoleOutput:
    """EMQX's `console`: the output at info level."""

    def __init__(self, rule_id: str) -> None:
        self._rule_id = rule_id

    def run(self, output: Output) -> None:
        log.info("rule %s output: %s", self._rule_id, json_encode(output))


Sink = HttpSink | PgsqlSink | RedisSink | MqttSink


class SinkOutput:
    """Hands the output to the tenant's sink of that action name; a full queue is the sink's drop."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    def run(self, output: Output) -> None:
        self.sink.offer(output)


RuleOutput = RepublishOutput | ConsoleOutput | SinkOutput
