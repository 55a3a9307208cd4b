"""Client event history under a 10,000-client reconnect storm: the broker with it on against it off.

    .venv/bin/python -m bench.event_history [--clients 10000] [--rounds 3] [--replies]

Each round starts a broker with event history off (`BrokerSpec.event_history = 0`) and one with it on
(the default buffer, `contracts.EVENT_BUFFER` events), one after the other, each on a fresh data folder
(`mqttcloud broker --config`, pinned to CPU 0; this load generator on CPU 1, as bench/connect_storm.py).
With history on, the platform's collector (control/events/collector.py `take_batch`: batches of up to
5,000 events taken 1,000 per `events` call, 0.5 s linger after a batch that emptied the buffer) takes
the events over the admin channel while the storm runs; it does not write them to a database (the
platform's process does that, not the broker).

`--replies` measures only what taking costs the broker: N clients connect with nobody taking (N events
buffered), then 5,000 of them are taken with replies of 5,000 events and 5,000 with replies of 1,000
(the order alternates by round), the broker's stall read by `ping` around each.

One run: N clients connect (at most 256 handshakes in flight), then all N sockets are reset at once and
reconnect with the same client ids (at most 1,024 in flight). The longest stall is measured inside the
broker by its loop-lag probe (runtime/loop_lag.py: a timer due every 10 ms), read through the admin op
`ping` before and after each phase: `loop_stall_ms`, the timer's longest lateness (what clients feel,
the machine's other load included), and `loop_stall_cpu_ms`, the most CPU the loop's thread used between
two ticks (the broker's own work: the figure to compare on a shared machine). Printed per run: both for
the connect phase and the storm, the storm's seconds and broker CPU per reconnect, and the events
recorded, taken (what the platform would store) and shed.
"""

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import uvloop
from bench import procs
from bench.broker import Broker
from bench.connect_storm import CONNECT_WINDOW, STORM_WINDOW, connect_all, reset_all

from mqttcloud import contracts
from mqttcloud.contracts.events import EVENT_BUFFER
from mqttcloud.control.broker_client import BrokerClient
from mqttcloud.control.events.collector import LINGER, MAX_BATCH, TAKE, take_batch

TENANT = contracts.TenantId("default")
POLL_WAIT = 5.0  # as control/events/collector.py


@dataclass
class Run:
    history: bool
    connect_stall_ms: float = 0.0
    storm_stall_ms: float = 0.0
    connect_cpu_ms: float = 0.0
    storm_cpu_ms: float = 0.0
    storm_seconds: float = 0.0
    storm_cpu_us: float = 0.0
    recorded: int = 0
    taken: int = 0
    shed: int = 0
    batches: list[int] = field(default_factory=list)


def start_broker(workdir: Path, history: bool) -> tuple[Broker, BrokerClient]:
    token = secrets.token_urlsafe(16)
    ready = workdir / "ready.json"
    spec = contracts.BrokerSpec(
        broker_id="bench-events",
        data_dir=str(workdir / "data"),
        ready_file=str(ready),
        admin=contracts.AdminSpec(port=0, token=token),
        listeners=[
            contracts.ListenerSpec(
                name="tcp:default", kind=contracts.ListenerKind.TCP, host="127.0.0.1", port=0, tenant=TENANT
            )
        ],
        tenants=[contracts.TenantSpec(tenant_id=TENANT, allow_anonymous=True)],
        event_history=EVENT_BUFFER if history else 0,
        loop_lag_probe=True,
    )
    spec_path = workdir / "spec.json"
    spec_path.write_text(spec.model_dump_json())
    cmd = [
        *procs.pin(0),
        sys.executable,
        "-m",
        "mqttcloud",
        "broker",
        "--config",
        str(spec_path),
        "--log-level",
        "WARNING",
    ]
    proc = procs.start(cmd, workdir / "broker.stderr", ready)  # inherits our raised RLIMIT_NOFILE
    ready_file = contracts.ReadyFile.model_validate(json.loads(ready.read_text()))
    name = "history on" if history else "history off"
    broker = Broker(name, ready_file.listeners[0].port, proc, workdir)
    return broker, BrokerClient("127.0.0.1", ready_file.admin.port, token, timeout=POLL_WAIT + 10)


async def collect(admin: BrokerClient, run: Run, stop: asyncio.Event) -> None:
    """Take events as the platform's collector does, until `stop` is set and nothing is left."""
    while True:
        batch = await take_batch(admin, TENANT, wait=1.0)
        taken = len(batch.events)
        run.taken += taken
        run.shed += batch.shed
        run.recorded = batch.recorded
        if taken:
            run.batches.append(taken)
        if stop.is_set() and taken == 0:
            return
        if batch.drained:
            await asyncio.sleep(LINGER)


async def one_run(broker: Broker, admin: BrokerClient, run: Run, clients: int) -> None:
    stop = asyncio.Event()
    collector = asyncio.create_task(collect(admin, run, stop)) if run.history else None
    try:
        await admin.ping()  # a new stall window
        socks = await connect_all(broker.port, clients, CONNECT_WINDOW, "storm")
        ping = await admin.ping()
        run.connect_stall_ms, run.connect_cpu_ms = ping.loop_stall_ms, ping.loop_stall_cpu_ms
        await asyncio.sleep(1.0)
        await admin.ping()
        cpu0 = broker.cpu_seconds()
        start = time.perf_counter()
        reset_all(socks)
        socks = await connect_all(broker.port, clients, STORM_WINDOW, "storm")
        run.storm_seconds = time.perf_counter() - start
        run.storm_cpu_us = (broker.cpu_seconds() - cpu0) / clients * 1e6
        ping = await admin.ping()
        run.storm_stall_ms, run.storm_cpu_ms = ping.loop_stall_ms, ping.loop_stall_cpu_ms
        reset_all(socks)
        await asyncio.sleep(1.0)
    finally:
        stop.set()
        if collector is not None:
            await collector
        await admin.close()


async def reply_stalls(
    broker: Broker, admin: BrokerClient, clients: int, order: tuple[int, ...]
) -> dict[int, tuple[float, float]]:
    """{events per reply: (stall ms, its CPU part)} while 5,000 buffered events are taken that way."""
    stalls: dict[int, tuple[float, float]] = {}
    try:
        socks = await connect_all(broker.port, clients, CONNECT_WINDOW, "replies")
        await asyncio.sleep(1.0)  # the connects' own stalls end before the first window
        for take in order:
            await admin.ping()  # a new stall window
            batch = await take_batch(admin, TENANT, wait=0.0, take=take, max_batch=MAX_BATCH)
            ping = await admin.ping()
            assert len(batch.events) == MAX_BATCH, len(batch.events)
            stalls[take] = (ping.loop_stall_ms, ping.loop_stall_cpu_ms)
        reset_all(socks)
    finally:
        await admin.close()
    return stalls


def replies_main(clients: int, rounds: int) -> int:
    sizes = (MAX_BATCH, TAKE)
    found: dict[int, list[tuple[float, float]]] = {size: [] for size in sizes}
    for n in range(rounds):
        order = sizes if n % 2 == 0 else sizes[::-1]
        with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
            broker, admin = start_broker(Path(tmp), True)
            try:
                stalls = uvloop.run(reply_stalls(broker, admin, clients, order))
            finally:
                broker.stop()
        for size in sizes:
            found[size].append(stalls[size])
        print("  ".join(f"{size:,}/reply stall {stalls[size][0]:5.1f} ms (CPU {stalls[size][1]:4.1f})"
                        for size in sizes), flush=True)  # fmt: skip
    load = os.getloadavg()[0]
    print(f"{MAX_BATCH:,} events taken each way, {rounds} rounds (min/median/max); load {load:.2f}")
    for size in sizes:
        print(f"{size:5,} events per reply: stall ms {_spread([s for s, _ in found[size]], '.1f')}"
              f"  CPU part {_spread([c for _, c in found[size]], '.1f')}")  # fmt: skip
    return 0


def _spread(values: list[float], fmt: str) -> str:
    ordered = sorted(values)
    return "/".join(format(v, fmt) for v in (ordered[0], ordered[len(ordered) // 2], ordered[-1]))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--replies", action="store_true", help="measure only the stall of taking events")
    ns = parser.parse_args(argv)
    procs.prepare_load_generator()
    if ns.replies:
        return replies_main(ns.clients, ns.rounds)
    runs: list[Run] = []
    for _ in range(ns.rounds):
        for history in (False, True):
            with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
                broker, admin = start_broker(Path(tmp), history)
                try:
                    run = Run(history)
                    uvloop.run(one_run(broker, admin, run, ns.clients))
                    runs.append(run)
                finally:
                    broker.stop()
            print(
                f"{'on ' if history else 'off'}  stall ms (CPU part): connect {run.connect_stall_ms:5.0f}"
                f" ({run.connect_cpu_ms:3.0f})  storm {run.storm_stall_ms:5.0f} ({run.storm_cpu_ms:3.0f})"
                f"  storm {run.storm_seconds:5.2f} s"
                f"  CPU {run.storm_cpu_us:4.0f} µs/reconnect  events recorded {run.recorded:,}"
                f" taken {run.taken:,} shed {run.shed:,} (largest batch {max(run.batches, default=0):,})",
                flush=True,
            )
    off = [r for r in runs if not r.history]
    on = [r for r in runs if r.history]
    print(f"{ns.clients:,} clients, {ns.rounds} rounds (min/median/max); load {os.getloadavg()[0]:.2f}")
    for name, group in (("off", off), ("on", on)):
        print(
            f"history {name:3s} storm stall ms {_spread([r.storm_stall_ms for r in group], '.0f')}"
            f" CPU part {_spread([r.storm_cpu_ms for r in group], '.0f')}"
            f"  connect stall ms {_spread([r.connect_stall_ms for r in group], '.0f')}"
            f" CPU part {_spread([r.connect_cpu_ms for r in group], '.0f')}"
            f"  storm s {_spread([r.storm_seconds for r in group], '.2f')}"
            f"  CPU µs/reconnect {_spread([r.storm_cpu_us for r in group], '.0f')}"
        )
    for label, key in (("stall", "storm_stall_ms"), ("stall CPU part", "storm_cpu_ms")):
        pairs = [(getattr(a, key), getattr(b, key)) for a, b in zip(off, on, strict=True)]
        ratios = [b / a for a, b in pairs if a]
        if ratios:
            print(f"storm {label} on/off per round: {_spread(ratios, '.2f')} (target <= 2)")
    taken = _spread([float(r.taken) for r in on], ",.0f")
    print(f"events per storm run (history on): taken {taken}, shed {sum(r.shed for r in on)} in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
