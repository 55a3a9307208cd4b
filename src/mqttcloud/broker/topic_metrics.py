"""Topic metrics (EMQX's): per registered topic name, messages in, out and dropped, by QoS, with rates.

Owns `TopicMetrics`, one tenant's counters (`counters`: topic -> nine counts in
`contracts.TOPIC_METRIC_NAMES` order) and their rates, and `count`, which the router calls per message.

Rules:
- Zero cost while no topic is registered: the router tests `counters` (an empty dict) once per routed
  message; while some are, `count` costs one dict lookup for a topic that is not registered.
- `messages.in` (and its QoS) counts a message on the node it was published at; `messages.out` counts each
  receiver this node's router planned it for, at the delivery QoS (queued for an offline session
  included); `messages.dropped` counts a message published here that no subscription matched. Summing
  the nodes of a cluster gives each message once in, once per receiver out.
- Rates are EMQX's: every `TICK` second the per-second delta of each count feeds a modified moving
  average over `WINDOW` samples (`rate = (rate * (WINDOW - 1) + delta / elapsed) / WINDOW`); a reset
  zeroes counts and rates. Rates are reported rounded to 4 places, as EMQX does.
"""

from collections.abc import Iterable

from mqttcloud import contracts
from mqttcloud.broker.message import Message

TICK = 1.0  # seconds between rate samples (EMQX's ticking interval)
WINDOW = 5  # samples in the moving average (EMQX's short window)

IN, OUT, DROPPED = 0, 1, 8  # indexes into a topic's counts (`contracts.TOPIC_METRIC_NAMES`)
QOS_IN = (2, 4, 6)  # messages.qos<n>.in by QoS
QOS_OUT = (3, 5, 7)  # messages.qos<n>.out by QoS
SIZE = len(contracts.TOPIC_METRIC_NAMES)

#: Receivers of one message as the router plans them: (client id, delivery QoS, RETAIN, subscription ids).
Receivers = list[tuple[str, int, bool, tuple[int, ...]]]


def count(
    counters: dict[str, list[int]], msg: Message, receivers: Receivers | None, published_here: bool
) -> None:
    """Count one routed message if its topic is registered.

    Args:
        receivers: who this node delivers it to; None when no subscription matched it.
        published_here: it was published on this node (not forwarded by another one).
    """
    counts = counters.get(msg.topic)
    if counts is None:
        return
    if published_here:
        counts[IN] += 1
        counts[QOS_IN[msg.qos]] += 1
        if receivers is None:
            counts[DROPPED] += 1
    if receivers:
        counts[OUT] += len(receivers)
        for receiver in receivers:
            counts[QOS_OUT[receiver[1]]] += 1


def count_in(counters: dict[str, list[int]], msg: Message) -> None:
    """A message published here that only other nodes deliver (a cluster router forwards it)."""
    counts = counters.get(msg.topic)
    if counts is not None:
        counts[IN] += 1
        counts[QOS_IN[msg.qos]] += 1


class _Rates:
    """The moving averages of one topic's counts, and the counts they were last sampled at."""

    __slots__ = ("last", "rates")

    def __init__(self) -> None:
        self.last = [0] * SIZE
        self.rates = [0.0] * SIZE


class TopicMetrics:
    """The counters of one tenant's registered topics, and their rates (sampled by `tick`)."""

    __slots__ = ("_rates", "counters", "sampled_at", "ticking")

    def __init__(self) -> None:
        self.counters: dict[str, list[int]] = {}  # the router's view: never replaced, changed in place
        self._rates: dict[str, _Rates] = {}
        self.sampled_at = 0.0
        self.ticking = False  # a "topic_metrics" deadline is scheduled

    def set_topics(self, topics: Iterable[str], now: float) -> bool:
        """Count exactly `topics` from now on: new ones start at zero, kept ones keep their counts.

        Returns: True when the caller must schedule a `tick` at `now + TICK` (counting just started).
        """
        wanted = dict.fromkeys(topics)
        for topic in [t for t in self.counters if t not in wanted]:
            del self.counters[topic]
            del self._rates[topic]
        for topic in wanted:
            if topic not in self.counters:
                self.counters[topic] = [0] * SIZE
                self._rates[topic] = _Rates()
        if self.counters and not self.ticking:
            self.ticking = True
            self.sampled_at = now
            return True
        return False

    def tick(self, now: float) -> bool:
        """Sample every count into its rate. Returns: True while there is something to sample (the
        caller schedules the next tick at `now + TICK`)."""
        elapsed = now - self.sampled_at
        if elapsed > 0:
            keep = (WINDOW - 1) / WINDOW
            for topic, counts in self.counters.items():
                sample = self._rates[topic]
                last, rates = sample.last, sample.rates
                for i in range(SIZE):
                    value = counts[i]
                    rates[i] = rates[i] * keep + (value - last[i]) / elapsed / WINDOW
                    last[i] = value
            self.sampled_at = now
        self.ticking = bool(self.counters)
        return self.ticking

    def reset(self, topic: str | None) -> list[str]:
        """Zero the counts and rates of `topic` (None: of every topic); returns the topics reset."""
        topics = list(self.counters) if topic is None else [topic] if topic in self.counters else []
        for name in topics:
            self.counters[name][:] = [0] * SIZE
            self._rates[name] = _Rates()
        return topics

    def report(self, topic: str | None = None) -> contracts.TopicMetricsResult:
        """The counts and rates of `topic` (None: every topic), in registration order."""
        topics = list(self.counters) if topic is None else [topic] if topic in self.counters else []
        return contracts.TopicMetricsResult(
            topics=[
                contracts.TopicMetric(
                    topic=name,
                    counts=list(self.counters[name]),
                    rates=[round(rate, 4) for rate in self._rates[name].rates],
                )
                for name in topics
            ]
        )
