"""Supervisor test helpers: a Supervisor factory with short timeouts and a recorder of its callbacks."""

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mqttcloud.contracts import AdminSpec, BrokerSpec, ListenerKind, ListenerSpec, TenantId, TenantSpec
from mqttcloud.control.supervisor import BrokerStatus, RestartPolicy, Supervisor

FAKE_BROKER = Path(__file__).with_name("fake_broker.py")

# Fast enough for tests, slow enough for a loaded 2-core machine.
FAST_POLICY = RestartPolicy(backoff_base=0.1, backoff_cap=0.4, max_crashes=3, crash_window=60.0)


@dataclass
class Events:
    """What the supervisor reported, with the monotonic time of each report."""

    statuses: list[tuple[float, str, BrokerStatus, str]] = field(default_factory=list)
    applied: list[tuple[str, int]] = field(default_factory=list)

    def on_status(self, broker_id: str, status: BrokerStatus, detail: str) -> None:
        self.statuses.append((time.monotonic(), broker_id, status, detail))

    async def on_applied(self, broker_id: str, generation: int) -> None:  # async on purpose: both work
        self.applied.append((broker_id, generation))

    def of(self, broker_id: str) -> list[tuple[BrokerStatus, str]]:
        return [(status, detail) for _, bid, status, detail in self.statuses if bid == broker_id]


@dataclass
class Harness:
    tmp_path: Path
    events: Events = field(default_factory=Events)
    supervisors: list[Supervisor] = field(default_factory=list)

    @property
    def run_dir(self) -> Path:
        return self.tmp_path / "run"

    @property
    def starts_file(self) -> Path:
        return self.tmp_path / "starts.txt"

    def starts(self) -> int:
        """How many times a fake broker process started."""
        if not self.starts_file.exists():
            return 0
        return len(self.starts_file.read_text(encoding="utf-8").splitlines())

    def spec(
        self, broker_id: str = "d1", tenants: tuple[str, ...] = ("t1",), **changes: object
    ) -> BrokerSpec:
        spec = BrokerSpec(
            broker_id=broker_id,
            data_dir=str(self.tmp_path / "data" / broker_id),
            ready_file=str(self.run_dir / broker_id / "ready.json"),
            admin=AdminSpec(token=f"token-{broker_id}"),
            listeners=[
                ListenerSpec(name="tcp:default", kind=ListenerKind.TCP, port=0, tenant=TenantId(tenants[0]))
            ],
            tenants=[TenantSpec(tenant_id=TenantId(t)) for t in tenants],
        )
        return spec.model_copy(update=changes)

    async def start(
        self,
        mode: str = "ok",
        *,
        command: list[str] | None = None,
        health_interval: float = 0.1,
        ping_timeout: float = 1.0,
        ready_timeout: float = 10.0,
        stop_timeout: float = 5.0,
        restart_policy: RestartPolicy = FAST_POLICY,
    ) -> Supervisor:
        if command is None:
            command = [sys.executable, str(FAKE_BROKER), "--mode", mode, "--starts", str(self.starts_file)]
        sup = Supervisor(
            self.run_dir,
            on_status=self.events.on_status,
            on_applied=self.events.on_applied,
            health_interval=health_interval,
            ping_timeout=ping_timeout,
            ready_timeout=ready_timeout,
            stop_timeout=stop_timeout,
            request_timeout=5.0,
            restart_policy=restart_policy,
            command=command,
        )
        await sup.start()
        self.supervisors.append(sup)
        return sup

    def dump_logs(self) -> None:
        for log in sorted(self.run_dir.glob("*/broker.log")):
            print(f"===== {log} =====\n{log.read_text(encoding='utf-8', errors='replace')}")


async def poll(predicate: Callable[[], bool], within: float = 10.0, what: str = "condition") -> None:
    """Wait until `predicate()` holds, checking every 20 ms, or fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
