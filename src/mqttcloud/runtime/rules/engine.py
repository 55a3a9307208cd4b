"""RuleEngine: one tenant's compiled rules, run on the messages and client events its broker sees.

The engine is the tenant broker's message tap (`Broker.tap`, shared with captures through
`TenantRuntime`) and event tap (`Broker.events`). For each message it finds the rules whose FROM
matches the topic, evaluates them with the message's columns (`columns.py`) and hands every output to
the rule's actions (`outputs.py`, `http.py`); client events go to the rules that select their
`$events/...` source. Counters use EMQX 5's names (`rule_metrics`).

Rules this module must not break:
- A tenant without rules pays nothing: the taps are unset. With rules, a topic's matching rules are
  computed once and cached (`MAX_CACHED_TOPICS`), columns are built only when a rule matches, and an
  event no rule selects costs one dict lookup. Rules with the same SQL text are evaluated once per
  input (`SqlGroup`; evaluation is pure), then each is counted and runs its own actions. All rules
  read one `rulesql.Env` per input: its payload is decoded once, and a WHERE that reads only the
  input is evaluated once per WHERE text (`Rule.run`).
- Evaluation is synchronous and never raises into the core; actions only enqueue (sinks and the
  republisher deliver later), so MQTT traffic never waits for an action. An action failing in a loop
  is counted each time and logged at most once per `sink.LOG_INTERVAL` per rule.
- Each enabled rule is compiled once per `apply`; SQL that does not parse is skipped and logged (the
  control plane refuses it). Counters of a rule or delivering action that stays (same id / same spec)
  survive `apply`; sinks whose spec changed or went away are returned to be closed.
"""

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from mqttcloud import contracts
from mqttcloud.broker.actions import Action
from mqttcloud.broker.channel import Channel
from mqttcloud.broker.core import Broker
from mqttcloud.broker.message import Message
from mqttcloud.broker.subscriptions import Subscription
from mqttcloud.contracts.rules import HttpAction, MqttAction, PgsqlAction, RedisAction
from mqttcloud.rulesql import Env, EvalError, Rule, SqlError, parse
from mqttcloud.rulesql.compiler import reads
from mqttcloud.runtime.rules import columns as cols
from mqttcloud.runtime.rules.http import HttpSink
from mqttcloud.runtime.rules.mqtt import MqttSink
from mqttcloud.runtime.rules.outputs import (
    ConsoleOutput,
    Republisher,
    RepublishOutput,
    RuleOutput,
    Sink,
    SinkOutput,
)
from mqttcloud.runtime.rules.pgsql import PgsqlSink
from mqttcloud.runtime.rules.redis import RedisSink
from mqttcloud.runtime.rules.sink import Output, ThrottledLog
from mqttcloud.runtime.rules.templates import ActionError

log = logging.getLogger(__name__)

MAX_CACHED_TOPICS: Final = 4096  # topics whose matching rules are remembered; emptied when full
EVENTS: Final = (
    "client_connected",
    "client_disconnected",
    "session_subscribed",
    "session_unsubscribed",
    "message_delivered",
    "message_acked",
    "message_dropped",
)


@dataclass(slots=True)
class RuleCounters:
    """EMQX's rule counters; `matched` is their sum: every evaluation passes or fails one way."""

    passed: int = 0
    failed_exception: int = 0
    failed_no_result: int = 0
    actions_total: int = 0
    actions_success: int = 0
    actions_failed: int = 0

    def contract(self) -> contracts.RuleCounters:
        return contracts.RuleCounters(
            matched=self.passed + self.failed_exception + self.failed_no_result,
            passed=self.passed,
            failed=self.failed_exception + self.failed_no_result,
            failed_exception=self.failed_exception,
            failed_no_result=self.failed_no_result,
            actions_total=self.actions_total,
            actions_success=self.actions_success,
            actions_failed=self.actions_failed,
            actions_failed_unknown=self.actions_failed,
        )


@dataclass(slots=True)
class CompiledRule:
    spec: contracts.RuleSpec
    rule: Rule
    counters: RuleCounters
    outputs: tuple[RuleOutput, ...] = field(default=())
    failures: ThrottledLog = field(default_factory=lambda: ThrottledLog("rule"))


@dataclass(frozen=True, slots=True)
class SqlGroup:
    """The enabled rules that share one SQL text: evaluated once per input, counted and acted on each."""

    rule: Rule
    members: tuple[CompiledRule, ...]


def columns_read(rule: Rule) -> set[str]:
    """The column names `rule` may read (`*` for all: `SELECT *`, or a function reading any column)."""
    statement = rule.statement
    names = reads(statement.where) | reads(statement.incase)
    for entry in (*statement.fields, *statement.do):
        names |= {"*"} if entry.expr is None else reads(entry.expr)
    return names


Matched = tuple[tuple[SqlGroup, ...], cols.MessageReader]


def new_sink(action: HttpAction | PgsqlAction | RedisAction | MqttAction) -> Sink:
    """The sink that delivers for `action` (not started)."""
    match action:
        case HttpAction():
            return HttpSink(action)
        case PgsqlAction():
            return PgsqlSink(action)
        case RedisAction():
            return RedisSink(action)
        case MqttAction():
            return MqttSink(action)


class RuleEngine:
    """Every rule of one tenant, with the HTTP sinks its actions use."""

    def __init__(
        self,
        broker: Broker,
        perform: Callable[[list[Action]], None],
        *,
        sockname: Callable[[Channel], str] = lambda _ch: "",
        now: Callable[[], float] = time.time,
    ) -> None:
        self.broker = broker
        self.republisher = Republisher(broker, perform, now)
        self._sockname = sockname
        self._now = now
        self.rules: dict[str, CompiledRule] = {}
        self.sinks: dict[str, Sink] = {}
        self._message_groups: tuple[SqlGroup, ...] = ()
        self._by_topic: dict[str, Matched] = {}
        self._by_event: dict[str, tuple[SqlGroup, ...]] = {}

    # ---------------------------------------------------------------------------------- rule set

    @property
    def has_message_rules(self) -> bool:
        return bool(self._message_groups)

    @property
    def has_event_rules(self) -> bool:
        return bool(self._by_event)

    def apply(self, specs: Sequence[contracts.RuleSpec]) -> list[Sink]:
        """Compile `specs` (enabled ones) and start new sinks; returns the sinks to close."""
        old_rules, old_sinks = self.rules, self.sinks
        sinks: dict[str, Sink] = {}
        rules: dict[str, CompiledRule] = {}
        parsed: dict[str, Rule] = {}
        for spec in specs:
            if not spec.enabled:
                continue
            rule = parsed.get(spec.sql)
            if rule is None:
                try:
                    rule = parsed[spec.sql] = parse(spec.sql)
                except SqlError as exc:
                    log.error("rule %s: skipped, its SQL does not parse: %s", spec.id, exc)
                    continue
            previous = old_rules.get(spec.id)
            counters = previous.counters if previous is not None else RuleCounters()
            outputs = tuple(self._output(spec, action, sinks, old_sinks) for action in spec.actions)
            failures = previous.failures if previous is not None else ThrottledLog(f"rule {spec.id}")
            rules[spec.id] = CompiledRule(spec, rule, counters, outputs, failures)
        retired = [sink for name, sink in old_sinks.items() if sinks.get(name) is not sink]
        for name, sink in sinks.items():
            if old_sinks.get(name) is not sink:
                sink.start()
        self.rules, self.sinks = rules, sinks
        members: dict[str, list[CompiledRule]] = {}
        for compiled in rules.values():
            members.setdefault(compiled.spec.sql, []).append(compiled)
        groups = [SqlGroup(parsed[sql], tuple(found)) for sql, found in members.items()]
        self._message_groups = tuple(
            g for g in groups if any(not s.startswith("$events/") for s in g.rule.sources)
        )
        self._by_topic = {}
        by_event: dict[str, list[SqlGroup]] = {}
        for group in groups:
            for name in group.rule.events:
                by_event.setdefault(name, []).append(group)
        self._by_event = {name: tuple(found) for name, found in by_event.items()}
        return retired

    def _output(
        self,
        spec: contracts.RuleSpec,
        action: contracts.RuleAction,
        sinks: dict[str, Sink],
        old_sinks: dict[str, Sink],
    ) -> RuleOutput:
        match action:
            case contracts.RepublishAction():
                return RepublishOutput(action, self.republisher, self.broker.limits.max_topic_levels)
            case contracts.ConsoleAction():
                return ConsoleOutput(spec.id)
            case HttpAction() | PgsqlAction() | RedisAction() | MqttAction():
                sink = sinks.get(action.name)
                if sink is None:
                    old = old_sinks.get(action.name)
                    sink = old if old is not None and old.spec == action else new_sink(action)
                    sinks[action.name] = sink
                elif sink.spec != action:
                    log.warning(
                        "%s action %s: rules give it different settings; the first is used",
                        action.kind,
                        action.name,
                    )
                return SinkOutput(sink)

    def metrics(self) -> contracts.RuleMetricsResult:
        return contracts.RuleMetricsResult(
            rules={rule_id: c.counters.contract() for rule_id, c in self.rules.items()},
            actions={name: sink.counters() for name, sink in self.sinks.items()},
        )

    def close_all(self) -> list[Sink]:
        """Forget every rule; returns the sinks to close."""
        self.republisher.cancel()
        return self.apply(())

    # ------------------------------------------------------------------------------- evaluation

    def _run(self, groups: tuple[SqlGroup, ...], columns: dict[str, object], now: float) -> None:
        env = Env(columns, now)  # one for every rule: the payload is decoded once
        for group in groups:
            members = group.members
            try:
                result = group.rule.run(env)
            except EvalError as exc:
                for compiled in members:
                    compiled.counters.failed_exception += 1
                log.debug("rule %s: evaluation failed: %s", members[0].spec.id, exc)
                continue
            except Exception:  # a bug in rulesql: the message still routes
                for compiled in members:
                    compiled.counters.failed_exception += 1
                log.exception("rule %s: evaluation raised", members[0].spec.id)
                continue
            if not result:  # None (WHERE false) or an empty FOREACH
                for compiled in members:
                    compiled.counters.failed_no_result += 1
                continue
            outputs = result if isinstance(result, list) else (result,)
            for compiled in members:
                compiled.counters.passed += 1
                for output in outputs:
                    self._act(compiled, output)

    def _act(self, compiled: CompiledRule, output: Output) -> None:
        counters = compiled.counters
        for action in compiled.outputs:
            counters.actions_total += 1
            try:
                action.run(output)
            except (ActionError, EvalError) as exc:
                counters.actions_failed += 1
                compiled.failures.warning(f"action failed: {exc}")
                continue
            except Exception:
                counters.actions_failed += 1
                log.exception("rule %s: action raised", compiled.spec.id)
                continue
            counters.actions_success += 1

    # ---------------------------------------------------------------------------- MessageTap

    def offer(self, msg: Message) -> None:
        matched = self._by_topic.get(msg.topic)
        if matched is None:
            matched = self._match(msg.topic)
        groups, read = matched
        if groups:
            now = self._now()
            self._run(groups, read(self.broker, msg, now), now)

    def _match(self, topic: str) -> Matched:
        if len(self._by_topic) >= MAX_CACHED_TOPICS:
            self._by_topic.clear()
        groups = tuple(g for g in self._message_groups if g.rule.matches(topic))
        names: set[str] = set()
        for group in groups:
            names |= columns_read(group.rule)
        matched = self._by_topic[topic] = (groups, cols.message_reader(names))
        return matched

    # ------------------------------------------------------------------------------ EventTap

    def client_connected(self, ch: Channel, now: float) -> None:
        rules = self._by_event.get("client_connected")
        if rules:
            self._run(rules, cols.client_connected(self.broker, ch, self._sockname(ch), now), now)

    def client_disconnected(self, ch: Channel, reason: str, now: float) -> None:
        rules = self._by_event.get("client_disconnected")
        if rules:
            self._run(rules, cols.client_disconnected(self.broker, ch, reason, self._sockname(ch), now), now)

    def session_subscribed(self, ch: Channel, sub: Subscription, now: float) -> None:
        rules = self._by_event.get("session_subscribed")
        if rules:
            self._run(rules, cols.session_subscribed(self.broker, ch, sub, now), now)

    def session_unsubscribed(self, ch: Channel, topic_filter: str, now: float) -> None:
        rules = self._by_event.get("session_unsubscribed")
        if rules:
            self._run(rules, cols.session_unsubscribed(self.broker, ch, topic_filter, now), now)

    def message_delivered(self, ch: Channel, msg: Message, qos: int, now: float) -> None:
        rules = self._by_event.get("message_delivered")
        if rules:
            self._run(
                rules, cols.message_delivery("message.delivered", self.broker, ch, msg, qos=qos, now=now), now
            )

    def message_acked(self, ch: Channel, msg: Message, qos: int, now: float) -> None:
        rules = self._by_event.get("message_acked")
        if rules:
            self._run(
                rules, cols.message_delivery("message.acked", self.broker, ch, msg, qos=qos, now=now), now
            )

    def message_dropped(self, msg: Message, reason: str, now: float) -> None:
        rules = self._by_event.get("message_dropped")
        if rules:
            self._run(rules, cols.message_dropped(self.broker, msg, reason, now), now)
