"""A small in-memory history of each deployment's connections and message counters, for the charts.

The console samples a running broker's `stats` and `metrics` (admin channel) when a chart page polls, at
most once per `min_interval` seconds per deployment, and keeps the last `window` seconds. Rates are the
difference of two consecutive counter samples over the time between them; a counter that went down (the
broker restarted) starts over from that sample instead of giving a negative rate.

Pure: time is an argument, nothing here does I/O. The history lives as long as the platform process.
"""

from collections import deque
from dataclasses import dataclass

WINDOW = 3600.0  # seconds of history shown (the last hour)
MIN_INTERVAL = 5.0  # seconds between two samples of one deployment
MAX_SAMPLES = int(WINDOW / MIN_INTERVAL) + 2


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # epoch seconds
    connections: int
    received: int  # messages.received counter
    sent: int  # messages.sent counter


@dataclass(frozen=True, slots=True)
class Point:
    at: float
    connections: int
    received_rate: float | None  # messages/s since the previous sample; None for the first one
    sent_rate: float | None


class MetricsHistory:
    def __init__(self, *, window: float = WINDOW, min_interval: float = MIN_INTERVAL) -> None:
        self.window = window
        self.min_interval = min_interval
        self._samples: dict[str, deque[Sample]] = {}

    def is_due(self, deployment_id: str, now: float) -> bool:
        """Whether a new sample of this deployment would be kept."""
        samples = self._samples.get(deployment_id)
        return not samples or now - samples[-1].at >= self.min_interval

    def record(self, deployment_id: str, sample: Sample) -> bool:
        """Keep a sample unless the last one is younger than `min_interval`. Returns whether it was kept."""
        if not self.is_due(deployment_id, sample.at):
            return False
        samples = self._samples.setdefault(deployment_id, deque(maxlen=MAX_SAMPLES))
        samples.append(sample)
        while samples and sample.at - samples[0].at > self.window:
            samples.popleft()
        return True

    def forget(self, deployment_id: str) -> None:
        self._samples.pop(deployment_id, None)

    def points(self, deployment_id: str, now: float) -> list[Point]:
        """The samples of the last `window` seconds with the message rates between them."""
        result: list[Point] = []
        previous: Sample | None = None
        for sample in self._samples.get(deployment_id, ()):
            if now - sample.at > self.window:
                previous = sample
                continue
            received_rate = sent_rate = None
            if previous is not None and sample.at > previous.at:
                elapsed = sample.at - previous.at
                if sample.received >= previous.received and sample.sent >= previous.sent:
                    received_rate = (sample.received - previous.received) / elapsed
                    sent_rate = (sample.sent - previous.sent) / elapsed
            result.append(Point(sample.at, sample.connections, received_rate, sent_rate))
            previous = sample
        return result
