"""Topic metrics' use cases: register a topic, read its counts and rates, reset them, delete it.

Registered topics are stored (`store.py`) and pushed to the deployment's brokers in the tenant spec; the
counts live in the brokers (`broker/topic_metrics.py`), read with the `topic_metrics` admin op from every
running node and summed, counts and rates alike, as EMQX sums its nodes. Rule: a deployment with no
running node reports zeros (its brokers start counting from zero, as EMQX's do after a restart); a
running node that does not answer is 503 `SERVICE_UNAVAILABLE`.
"""

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Literal

from mqttcloud.contracts import TOPIC_METRIC_NAMES, TopicMetricsArgs, TopicMetricsResult
from mqttcloud.control.deployment_api import live
from mqttcloud.control.deployment_api.errors import ServiceUnavailable
from mqttcloud.control.deployment_api.target import Target
from mqttcloud.control.deployment_api.topic_metrics import store
from mqttcloud.control.deployment_api.topic_metrics.models import TopicMetricRow

_ZERO_COUNTS = (0,) * len(TOPIC_METRIC_NAMES)
_ZERO_RATES = (0.0,) * len(TOPIC_METRIC_NAMES)


@dataclass(frozen=True, slots=True)
class TopicStat:
    """One registered topic with its counts and rates summed over the running nodes (both in
    `TOPIC_METRIC_NAMES` order)."""

    topic: str
    created_at: dt.datetime
    reset_at: dt.datetime | None
    counts: tuple[int, ...]
    rates: tuple[float, ...]

    def count(self, name: str) -> int:
        return self.counts[TOPIC_METRIC_NAMES.index(name)]

    def rate(self, name: str) -> float:
        return self.rates[TOPIC_METRIC_NAMES.index(name)]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _on_nodes(
    target: Target, op: Literal["topic_metrics", "reset_topic_metrics"], topic: str | None
) -> dict[str, tuple[list[int], list[float]]]:
    """`op` on every running node, summed per topic; {} when no node runs. Raises: ServiceUnavailable
    (a running node does not answer)."""
    try:
        nodes = target.broker().clients
    except ServiceUnavailable:
        return {}
    args = TopicMetricsArgs(tenant=target.tenant, topic=topic)
    results = await live.call(asyncio.gather(*(node.call(op, args, TopicMetricsResult) for node in nodes)))
    sums: dict[str, tuple[list[int], list[float]]] = {}
    for result in results:
        for metric in result.topics:
            counts, rates = sums.setdefault(metric.topic, ([0] * len(_ZERO_COUNTS), [0.0] * len(_ZERO_RATES)))
            for i, (value, rate) in enumerate(zip(metric.counts, metric.rates, strict=True)):
                counts[i] += value
                rates[i] += rate
    return sums


def _stat(row: TopicMetricRow, sums: dict[str, tuple[list[int], list[float]]]) -> TopicStat:
    counts, rates = sums.get(row.topic, (_ZERO_COUNTS, _ZERO_RATES))
    return TopicStat(
        topic=row.topic,
        created_at=row.created_at,
        reset_at=row.reset_at,
        counts=tuple(counts),
        rates=tuple(round(rate, 4) for rate in rates),
    )


async def list_topics(target: Target) -> list[TopicStat]:
    """Every registered topic, oldest first. Raises: ServiceUnavailable."""
    rows = await target.read(lambda s: store.rows(s, deployment_id=target.deployment_id))
    sums = await _on_nodes(target, "topic_metrics", None) if rows else {}
    return [_stat(row, sums) for row in rows]


async def get(target: Target, topic: str) -> TopicStat:
    """Raises: NotFound (not registered), ServiceUnavailable."""
    row = await target.read(lambda s: store.get(s, deployment_id=target.deployment_id, topic=topic))
    return _stat(row, await _on_nodes(target, "topic_metrics", topic))


async def register(target: Target, topic: str) -> TopicStat:
    """Register `topic`; its brokers count it once this returns. Raises: BadRequest, Conflict."""
    now = _now()
    row = await target.write(
        lambda s: store.register(s, deployment_id=target.deployment_id, topic=topic, now=now)
    )
    return _stat(row, await _on_nodes(target, "topic_metrics", topic))


async def reset(target: Target, topic: str | None) -> list[TopicStat]:
    """Zero the counts and rates of `topic` (None: of every topic) on every node. Raises: NotFound."""
    now = _now()
    rows = await target.write(
        lambda s: store.reset(s, deployment_id=target.deployment_id, topic=topic, now=now)
    )
    sums = await _on_nodes(target, "reset_topic_metrics", topic)
    return [_stat(row, sums) for row in rows]


async def delete(target: Target, topic: str) -> None:
    """Stop counting `topic`. Raises: NotFound."""
    await target.write(lambda s: store.delete(s, deployment_id=target.deployment_id, topic=topic))
