"""Connection setup, our broker and Debian's mosquitto side by side: connects/s and reconnect storms.

    .venv/bin/python -m bench.connect_storm [--clients 10000] [--rounds 3] [--only ours|mosquitto]
                                            [--core compiled|interpreted|both]

Brokers start as in `bench/broker.py` (pinned to CPU 0, this load generator to CPU 1, uvloop) and
take turns, round after round, so all are measured in the same minutes of the machine's life. Ours
runs with the compiled core (`mqttcloud compile`; the run stops if the build is missing or stale)
and with the interpreted one (`MQTTCLOUD_CORE`), so the baseline without it is in the same run:

- connects/s: N clients connect with at most 256 handshakes in flight (TCP connect, CONNECT with
  keep-alive 60 s, CONNACK), as the idle phase of `bench/broker.py` does; the rate, and the broker's
  CPU time per connect (user + system, from /proc: what the rate costs, whatever the load).
- reconnect storm: with the N clients connected, all N sockets are reset at once (a node failure as
  its clients see it) and all N reconnect at once with the same client ids (at most 1,024 handshakes
  in flight: the load generator's bound, under the listen backlog); the time from the resets to the
  last CONNACK, and the broker's CPU time per reconnect.
"""

import argparse
import asyncio
import contextlib
import functools
import os
import socket
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import uvloop
from bench import procs
from bench.broker import MOSQUITTO, Broker, connect_packet, start_mosquitto, start_ours

CONNECT_WINDOW = 256  # handshakes in flight in the connects/s phase (as bench/broker.py)
STORM_WINDOW = 1024  # handshakes in flight during a reconnect storm


async def connect_all(port: int, count: int, window: int, prefix: str) -> list[socket.socket]:
    """Connect `count` clients (`prefix`-i) with at most `window` handshakes in flight; all CONNACKed."""
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(window)
    socks: list[socket.socket] = []

    async def one(i: int) -> None:
        async with sem:
            s = socket.socket()
            s.setblocking(False)
            await loop.sock_connect(s, ("127.0.0.1", port))
            await loop.sock_sendall(s, connect_packet(f"{prefix}-{i}"))
            got = b""
            while len(got) < 4:
                chunk = await loop.sock_recv(s, 4 - len(got))
                if not chunk:
                    raise ConnectionError("closed before CONNACK")
                got += chunk
            if got[3] != 0:
                raise ConnectionError(f"CONNACK refused: {got.hex()}")
            socks.append(s)

    await asyncio.gather(*(one(i) for i in range(count)))
    return socks


def reset_all(socks: list[socket.socket]) -> None:
    for s in socks:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST: no TIME_WAIT
        s.close()


async def connects_per_second(broker: Broker, count: int) -> tuple[float, float]:
    """(connects/s, broker CPU µs per connect) for `count` fresh clients."""
    cpu0 = broker.cpu_seconds()
    start = time.perf_counter()
    socks = await connect_all(broker.port, count, CONNECT_WINDOW, "idle")
    elapsed = time.perf_counter() - start
    cpu = broker.cpu_seconds() - cpu0
    reset_all(socks)
    await asyncio.sleep(1.0)  # let the broker close them before the next phase
    return count / elapsed, cpu / count * 1e6


async def reconnect_storm(broker: Broker, count: int) -> tuple[float, float]:
    """(seconds until all `count` are connected again, broker CPU µs per reconnect)."""
    socks = await connect_all(broker.port, count, CONNECT_WINDOW, "storm")
    await asyncio.sleep(1.0)
    cpu0 = broker.cpu_seconds()
    start = time.perf_counter()
    reset_all(socks)
    socks = await connect_all(broker.port, count, STORM_WINDOW, "storm")
    elapsed = time.perf_counter() - start
    cpu = broker.cpu_seconds() - cpu0
    reset_all(socks)
    await asyncio.sleep(1.0)
    return elapsed, cpu / count * 1e6


def _spread(values: list[float], fmt: str) -> str:
    ordered = sorted(values)
    return "/".join(format(v, fmt) for v in (ordered[0], ordered[len(ordered) // 2], ordered[-1]))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["ours", "mosquitto"])
    parser.add_argument("--core", choices=["compiled", "interpreted", "both"], default="both")
    ns = parser.parse_args(argv)
    procs.prepare_load_generator()
    starters: list[Callable[[Path], Broker]] = []
    if ns.only != "mosquitto":
        cores = ["compiled", "interpreted"] if ns.core == "both" else [ns.core]
        starters += [functools.partial(start_ours, core=core) for core in cores]
    if ns.only != "ours" and Path(MOSQUITTO).exists():
        starters.append(start_mosquitto)
    rows: dict[str, dict[str, list[float]]] = {}
    with contextlib.ExitStack() as stack:
        brokers: list[Broker] = []
        for starter in starters:
            broker = starter(Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-conn-"))))
            stack.callback(broker.stop)
            brokers.append(broker)
            rows[broker.name] = {"rate": [], "cpu": [], "storm": [], "storm_cpu": []}
        for _ in range(ns.rounds):
            for broker in brokers:
                rate, cpu = uvloop.run(connects_per_second(broker, ns.clients))
                rows[broker.name]["rate"].append(rate)
                rows[broker.name]["cpu"].append(cpu)
            for broker in brokers:
                took, cpu = uvloop.run(reconnect_storm(broker, ns.clients))
                rows[broker.name]["storm"].append(took)
                rows[broker.name]["storm_cpu"].append(cpu)
    print(f"{ns.clients:,} clients, {ns.rounds} rounds (min/median/max); load {os.getloadavg()[0]:.2f}")
    for name, r in rows.items():
        print(
            f"{name:23s} connects/s {_spread(r['rate'], ',.0f')}  CPU µs/connect {_spread(r['cpu'], '.0f')}"
            f"  storm s {_spread(r['storm'], '.2f')}  CPU µs/reconnect {_spread(r['storm_cpu'], '.0f')}"
        )
    theirs = rows.get("mosquitto")
    for name, ours in rows.items():
        if theirs is not None and ours is not theirs:
            ratios = [a / b for a, b in zip(ours["rate"], theirs["rate"], strict=True)]
            print(f"connects/s {name}/mosquitto per round: {_spread(ratios, '.2f')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
