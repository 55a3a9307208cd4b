"""The Prometheus text format (version 0.0.4) of the platform's own metrics, written by hand.

Why not `prometheus_client` at run time: its registry takes a lock and builds label objects per
observation, while the request counters here are plain dict increments (http_metrics.py); rendering the
text is a few lines. Tests parse the output with `prometheus_client`'s parser, the reference.

Rule: `/metrics` is unauthenticated (as EMQX's `/api/v5/prometheus/stats` is by default), so no sample
carries a tenant identifier: no deployment, project, key or account id, only counts and route templates.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from mqttcloud.control.health.http_metrics import HttpCounters
from mqttcloud.control.supervisor.policy import BrokerStatus

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family: `kind` is counter, gauge or histogram; samples are (suffix, labels, value)."""

    name: str
    kind: str
    help: str
    samples: Sequence[tuple[str, Labels, float]] = field(default_factory=list)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render(families: Iterable[Family]) -> str:
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {family.help}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for suffix, labels, value in family.samples:
            text = ",".join(f'{key}="{_escape(item)}"' for key, item in labels.items())
            lines.append(
                f"{family.name}{suffix}{{{text}}} {_number(value)}"
                if text
                else f"{family.name}{suffix} {_number(value)}"
            )
    return "\n".join(lines) + "\n"


def http_families(counters: HttpCounters) -> list[Family]:
    requests = [
        ("", {"method": method, "route": route, "status": str(status)}, count)
        for (method, route, status), count in sorted(counters.requests.items())
    ]
    latency: list[tuple[str, Labels, float]] = []
    for (method, route), histogram in sorted(counters.latency.items()):
        labels = {"method": method, "route": route}
        for bound, count in histogram.cumulative():
            latency.append(("_bucket", {**labels, "le": bound}, count))
        latency.append(("_sum", labels, histogram.total))
        latency.append(("_count", labels, sum(histogram.counts)))
    return [
        Family(
            "mqttcloud_http_requests_total",
            "counter",
            "HTTP requests answered, by route template and status",
            requests,
        ),
        Family(
            "mqttcloud_http_request_duration_seconds",
            "histogram",
            "Time from receiving an HTTP request to the end of its response",
            latency,
        ),
    ]


class BrokerRestarts:
    """Counts broker restarts from the supervisor's status reports (a `BrokerRuntime` status listener).

    A restart is a broker reported `starting` again after it was `running` or `stopping` without a stop
    in between: a crash or a restart for a changed spec. A stop followed by a start is not one.
    """

    def __init__(self) -> None:
        self.total = 0
        self._last: dict[str, BrokerStatus] = {}

    def on_status(self, broker_id: str, status: BrokerStatus) -> None:
        previous = self._last.get(broker_id)
        if status is BrokerStatus.STARTING and previous in {BrokerStatus.RUNNING, BrokerStatus.STOPPING}:
            self.total += 1
        if status is BrokerStatus.STOPPED:
            self._last.pop(broker_id, None)  # stopped (perhaps deleted): its next start is not a restart
        else:
            self._last[broker_id] = status
