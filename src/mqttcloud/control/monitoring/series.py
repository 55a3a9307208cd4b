"""What one monitoring sample says, the rates between two samples, and the tiers points are kept in.

Pure: time is an argument, nothing here does I/O.

Rules: a rate is the increase of a counter between two samples over the time between them; a counter
that went down (the broker restarted, its counters start again from zero) increased by its new value, as
Prometheus' `rate()` counts a reset, so a rate is never negative. Two samples further apart than
`max_gap` give no rate: the first point after a gap (a stopped deployment, a broker that did not answer)
has gauges only, and no line is drawn across the gap.
"""

from collections.abc import Mapping
from dataclasses import dataclass

MINUTE = 60
DAY = 86_400
WEEK = 7 * DAY

# What a point holds: gauge name → the broker's `stats` name; rate name → the broker's counter.
GAUGES: Mapping[str, str] = {
    "connections": "live_connections.count",
    "sessions": "sessions.count",
    "subscriptions": "subscriptions.count",
    "retained": "retained.count",
}
RATES: Mapping[str, str] = {
    "received": "messages.received",
    "sent": "messages.sent",
    "dropped": "messages.dropped",
    "bytes_received": "bytes.received",
    "bytes_sent": "bytes.sent",
}

# The console's time ranges, and the longest history anyone may ask for.
RANGES: Mapping[str, int] = {"1h": 3600, "6h": 6 * 3600, "24h": DAY, "7d": WEEK}
LONGEST = 90 * DAY


@dataclass(frozen=True, slots=True)
class Reading:
    """One sample of a deployment: its gauges and its counters at `at` (Unix seconds)."""

    at: float
    gauges: Mapping[str, int]
    counters: Mapping[str, int]

    @classmethod
    def from_broker(cls, at: float, stats: Mapping[str, int], metrics: Mapping[str, int]) -> "Reading":
        """From the broker's `stats` and `metrics` answers (EMQX 5 names); a missing name reads 0."""
        return cls(
            at=at,
            gauges={name: int(stats.get(source, 0)) for name, source in GAUGES.items()},
            counters={name: int(metrics.get(source, 0)) for name, source in RATES.items()},
        )


@dataclass(frozen=True, slots=True)
class Point:
    """A deployment's gauges at `at`, and its rates per second since the previous reading (None: unknown)."""

    deployment_id: str
    at: float
    gauges: Mapping[str, float]
    rates: Mapping[str, float] | None


def point(deployment_id: str, previous: Reading | None, current: Reading, *, max_gap: float) -> Point:
    """The point of `current`, with rates since `previous` when it is recent enough (module rules)."""
    gauges = {name: float(value) for name, value in current.gauges.items()}
    elapsed = current.at - previous.at if previous is not None else 0.0
    if previous is None or not 0 < elapsed <= max_gap:
        return Point(deployment_id, current.at, gauges, None)
    rates: dict[str, float] = {}
    for name, value in current.counters.items():
        before = previous.counters.get(name, 0)
        increase = value - before if value >= before else value  # a reset: counted from zero
        rates[name] = increase / elapsed
    return Point(deployment_id, current.at, gauges, rates)


@dataclass(frozen=True, slots=True)
class Tier:
    """Points `step` seconds apart (averages of the samples in each step), kept for `keep` seconds."""

    step: int
    keep: int


def tiers(finest: int) -> tuple[Tier, ...]:
    """The sampling interval's points for a day, 1 min points for a week, 10 min points for 90 days."""
    kept: dict[int, int] = {}
    for step, keep in ((finest, DAY), (MINUTE, WEEK), (10 * MINUTE, LONGEST)):
        kept[step] = max(keep, kept.get(step, 0))
    return tuple(Tier(step, keep) for step, keep in sorted(kept.items()))


def bucket(at: float, step: int) -> int:
    """The start of the `step`-second period that holds `at`."""
    return int(at // step) * step


def step_for(span: float, finest: int) -> int:
    """The step shown for a time range: at most ~1,500 points, from a tier that still covers it."""
    if span <= 6 * 3600:
        return finest
    if span <= WEEK:
        return max(MINUTE, finest)
    return 10 * MINUTE
