"""Supervision decisions, pure: what to do with each broker, how long to wait, when to give up.

Nothing here reads a clock, touches a process or awaits: the loop passes `now` and the facts it has, and
acts on the answer. That keeps every restart rule unit-testable with plain numbers.

Rules this module must not break:
- `reconcile` never asks to restart a running broker for a change `apply_spec` can carry live
  (listeners, TLS, tenants, users, ACL, bans, limits, $SYS interval): clients stay connected.
- `combined_status` is a deployment's status from its nodes': running only when every node runs.
- A broker marked failed is not spawned again until its desired spec changes (or the caller clears the
  failure, which is what "start requested again" means).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from mqttcloud.contracts import BrokerSpec


class BrokerStatus(StrEnum):
    """What the supervisor reports for one broker through `on_status`."""

    STARTING = "starting"  # spawned (or respawning), waiting for its ReadyFile and first ping
    RUNNING = "running"  # answered a ping; health-checked periodically
    STOPPING = "stopping"  # SIGTERM sent, waiting for exit
    STOPPED = "stopped"  # exited and reaped after a requested stop
    FAILED = "failed"  # crashed too often; not restarted until the spec changes or a retry


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """Bounds for crash handling. Defaults: 0.5 s, 1 s, 2 s ... capped at 30 s; 5 crashes in 5 min fail."""

    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_crashes: int = 5
    crash_window: float = 300.0


DEFAULT_POLICY = RestartPolicy()


@dataclass(frozen=True, slots=True)
class DesiredBroker:
    spec: BrokerSpec
    generation: int  # bumped by the supervisor each time the desired spec changes


@dataclass(frozen=True, slots=True)
class RunningBroker:
    """What the supervisor currently runs (or last ran) for one broker id."""

    spec: BrokerSpec  # the spec the process was started with or last had applied
    generation: int
    is_failed: bool = False


@dataclass(frozen=True, slots=True)
class Spawn:
    broker_id: str
    spec: BrokerSpec
    generation: int


@dataclass(frozen=True, slots=True)
class Stop:
    broker_id: str


@dataclass(frozen=True, slots=True)
class Apply:
    """Push a changed spec to the running process over the admin channel (no restart)."""

    broker_id: str
    spec: BrokerSpec
    generation: int


@dataclass(frozen=True, slots=True)
class Restart:
    """The change touches something only a new process can take (admin endpoint, data dir, ready file)."""

    broker_id: str
    spec: BrokerSpec
    generation: int


@dataclass(frozen=True, slots=True)
class Nothing:
    broker_id: str


Step = Spawn | Stop | Apply | Restart | Nothing

# Fields a running broker cannot change in place: the admin endpoint it listens on and reports in the
# ReadyFile, where it keeps its data, where it writes the ReadyFile, the node name it reports, and the
# cluster it joined (its NATS connection, and SO_REUSEPORT on its listening sockets).
_PROCESS_FIELDS = ("admin", "data_dir", "ready_file", "node_name", "cluster")


def needs_restart(old: BrokerSpec, new: BrokerSpec) -> bool:
    """True when `new` differs from `old` in a field `apply_spec` cannot change live."""
    return any(getattr(old, name) != getattr(new, name) for name in _PROCESS_FIELDS)


def reconcile(desired: Mapping[str, DesiredBroker], running: Mapping[str, RunningBroker]) -> list[Step]:
    """Compare what should run with what runs and return one step per broker id, sorted by id.

    Args:
        desired: broker id → the spec that should run (from the database, via the control plane).
        running: broker id → what the supervisor has for that id right now, failed ones included.

    Returns:
        `Spawn` for a new id, `Stop` for an id no longer desired, `Apply` for a changed spec the running
        process can take live, `Restart` for one it cannot, `Nothing` otherwise. A failed broker whose
        spec changed is spawned again; a failed broker with the same spec stays failed (`Nothing`).
    """
    steps: list[Step] = []
    for broker_id in sorted(desired.keys() | running.keys()):
        want = desired.get(broker_id)
        have = running.get(broker_id)
        if want is None:
            steps.append(Stop(broker_id))
        elif have is None:
            steps.append(Spawn(broker_id, want.spec, want.generation))
        elif want.spec == have.spec:
            steps.append(Nothing(broker_id))
        elif have.is_failed:
            steps.append(Spawn(broker_id, want.spec, want.generation))
        elif needs_restart(have.spec, want.spec):
            steps.append(Restart(broker_id, want.spec, want.generation))
        else:
            steps.append(Apply(broker_id, want.spec, want.generation))
    return steps


def combined_status(statuses: Iterable[BrokerStatus]) -> BrokerStatus:
    """The status of a deployment from the statuses of its nodes (at least one).

    Failed if any node failed; running when all run; stopped when all stopped; stopping while any
    stops; starting otherwise (a node starting, restarting after a crash, or just added).
    """
    seen = set(statuses)
    if BrokerStatus.FAILED in seen:
        return BrokerStatus.FAILED
    if seen == {BrokerStatus.RUNNING}:
        return BrokerStatus.RUNNING
    if seen == {BrokerStatus.STOPPED}:
        return BrokerStatus.STOPPED
    if BrokerStatus.STOPPING in seen:
        return BrokerStatus.STOPPING
    return BrokerStatus.STARTING


def backoff(failures: int, policy: RestartPolicy = DEFAULT_POLICY) -> float:
    """Seconds to wait before the next start after `failures` recent crashes (0 → start now).

    Exponential: base, 2·base, 4·base, ... capped at `policy.backoff_cap`.
    """
    if failures <= 0:
        return 0.0
    # Cap the exponent first so a long crash history cannot overflow the float.
    return min(policy.backoff_cap, policy.backoff_base * 2.0 ** min(failures - 1, 62))


def recent_crashes(crash_times: Iterable[float], now: float, policy: RestartPolicy = DEFAULT_POLICY) -> int:
    """How many crashes happened within `policy.crash_window` seconds before `now`."""
    return sum(1 for t in crash_times if now - t <= policy.crash_window)


def is_failed(crash_times: Iterable[float], now: float, policy: RestartPolicy = DEFAULT_POLICY) -> bool:
    """True when the broker crashed `max_crashes` times within the window: stop restarting it."""
    return recent_crashes(crash_times, now, policy) >= policy.max_crashes
