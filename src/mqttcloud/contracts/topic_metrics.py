"""Topic metrics (EMQX's `/mqtt/topic_metrics`): what the broker counts per registered topic name.

The registered topics reach the broker in `TenantSpec.topic_metrics`; the admin ops `topic_metrics`
(read) and `reset_topic_metrics` (zero the counts and rates) act on one node, and the control plane sums
the nodes of a deployment. Rule: a registered topic is a topic name (no wildcard), at most
`MAX_TOPIC_METRICS` per tenant; the counts live in the broker only, so they restart from zero with it.
"""

from pydantic import BaseModel, ConfigDict

MAX_TOPIC_METRICS = 512  # registered topics per deployment, EMQX's limit

#: The metrics of one topic, EMQX's names: each is reported as `<name>.count` and `<name>.rate`.
TOPIC_METRIC_NAMES = (
    "messages.in",
    "messages.out",
    "messages.qos0.in",
    "messages.qos0.out",
    "messages.qos1.in",
    "messages.qos1.out",
    "messages.qos2.in",
    "messages.qos2.out",
    "messages.dropped",
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TopicMetricsArgs(_Model):
    """`topic_metrics` and `reset_topic_metrics`: one registered topic, or None for all of them."""

    tenant: str
    topic: str | None = None


class TopicMetric(_Model):
    """One topic on one node: counts and per-second rates, in `TOPIC_METRIC_NAMES` order."""

    topic: str
    counts: list[int]
    rates: list[float]


class TopicMetricsResult(_Model):
    topics: list[TopicMetric]  # registered order; a topic the node does not count (yet) is absent
