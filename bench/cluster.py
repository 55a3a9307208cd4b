"""Cluster benchmark: one node against two nodes joined through NATS, local against cross-node paths.

    .venv/bin/python -m bench.cluster [--seconds S] [--repeat N] [--all | --sessions]

Starts `nats-server -js` and broker nodes (`mqttcloud broker --cluster`) and drives them with the load
generator of `bench/broker.py` (pre-encoded packets, closed loop: at most WINDOW messages in flight).
Three setups, started afresh each round:

- 1 node:         a cluster of one; every client on it.
- 2 nodes shared: two nodes bound to one port with SO_REUSEPORT; the kernel spreads the clients
                  (their placement is read back with `ss` and printed).
- 2 nodes cross:  publishers on node A, subscribers on node B: every message crosses NATS.

Per setup: fan-in (8 QoS 0 publishers -> 1 subscriber on `bench/#`, deliveries/s) and fan-out (1 QoS 0
publisher -> 50 subscribers of `bench/fan`, deliveries/s), 100-byte payloads, each with the broker CPU
per delivery (user + system time of every node process from /proc/<pid>/stat over the measured
phase; nats-server's own CPU per delivery beside it, not included), and for 1 node and cross the QoS 1
publish -> deliver latency p50/p99 at 1,000 msg/s. The setups of a round run side by side (the idle
ones cost heartbeats only): throughput one setup at a time, latency in LATENCY_TURNS alternating turns
per path, samples pooled, so the two p99s come from the same seconds of this shared machine. Targets
(issue #12): cross-node CPU per message <= 2x local, cross-node QoS 1 p99 <= 3x local.

With `--sessions` (3 nodes, node timeout 3 s): takeover time across nodes (a persistent v3.1.1 session
with a QoS 1 subscription, connected on one node, CONNECTs on the other: CONNECT sent until CONNACK
with Session Present, p50/p99 over the rounds) and recovery after kill -9 (persistent clients on node
A, a publisher on node C at 200 msg/s; A is killed, every client reconnects to node B at once: time
from the kill until every client has received a message published after the kill). Target: <= 10 s.
`--all` runs both.
"""

import argparse
import asyncio
import contextlib
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import uvloop
from bench import procs
from bench.broker import (
    PAYLOAD,
    LatencySub,
    Pub,
    Sink,
    Sub,
    _connect,
    _packet,
    _utf8,
    closed_loop,
    connect_packet,
    percentile,
    subscribe_packet,
)

SETUPS = ("1 node", "2 nodes shared", "2 nodes cross")


@dataclass
class Load:
    """One closed-loop phase: deliveries/s, CPU µs per delivery (nodes, nats-server), placement."""

    rate: float
    node_cpu: float
    nats_cpu: float
    placement: str = ""


@dataclass
class Row:
    fan_in: Load
    fan_out: Load
    p50: float | None = None  # QoS 1 publish -> deliver, ms
    p99: float | None = None


NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


class Node:
    def __init__(
        self, name: str, nats_url: str, workdir: Path, node_timeout: float = 10.0, port: int = 0
    ) -> None:
        self.name = name
        self.dir = workdir / name
        self.dir.mkdir()
        ready = self.dir / "ready.json"
        argv = [
            sys.executable, "-m", "mqttcloud", "broker", "--broker-id", "bench", "--cluster", nats_url,
            "--node-name", name, "--listen", f"tcp://127.0.0.1:{port}", "--allow-anonymous",
            "--data-dir", str(self.dir / "data"), "--ready-file", str(ready), "--log-level", "WARNING",
            "--node-timeout", str(node_timeout),
        ]  # fmt: skip
        self.proc = procs.start(argv, self.dir / "err", ready, timeout=20)
        from mqttcloud import contracts  # noqa: PLC0415  (keep the bench's import light)

        self.port = contracts.ReadyFile.model_validate_json(ready.read_text()).listeners[0].port

    def cpu_seconds(self) -> float:
        return procs.cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        procs.stop(self.proc)


def placement(nodes: list[Node], port: int, clients: Sequence[Sub | Pub]) -> list[int]:
    """The index of the node each client's connection landed on (read from `ss`), -1 if not found."""
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    owner: dict[int, int] = {}  # client's port -> node index
    pids = {n.proc.pid: i for i, n in enumerate(nodes)}
    for line in out.splitlines():
        cols = line.split()
        if len(cols) < 4 or "pid=" not in line:
            continue
        pid = int(line.split("pid=", 1)[1].split(",", 1)[0])
        if pid in pids:
            owner[int(cols[3].rsplit(":", 1)[1])] = pids[pid]
    where = []
    for client in clients:
        sock = client.transport.get_extra_info("sockname") if client.transport is not None else None
        where.append(owner.get(sock[1], -1) if sock else -1)
    return where


async def load(setup: "Setup", ports: tuple[int, int], clients: tuple[int, int], seconds: float) -> Load:
    """A closed-loop QoS 0 phase (`bench.broker.closed_loop`): `clients` (publishers, subscribers) on
    `ports` (theirs); deliveries/s, node and nats-server CPU per delivery, and where the clients landed."""
    (pub_port, sub_port), (publishers, subscribers) = ports, clients
    async with closed_loop(pub_port, sub_port, publishers, subscribers, settle=1.0) as run:
        await asyncio.sleep(0.5)
        count0, t0, cpu0, nats0 = run.delivered(), time.perf_counter(), setup.node_cpu(), setup.nats_cpu()
        await asyncio.sleep(seconds)
        count1, t1, cpu1, nats1 = run.delivered(), time.perf_counter(), setup.node_cpu(), setup.nats_cpu()
        where = ""
        if pub_port == sub_port and len(setup.nodes) > 1:
            on_pub = placement(setup.nodes, pub_port, run.pubs)
            on_sub = placement(setup.nodes, sub_port, run.subs)
            where = (f"pubs {'/'.join(str(on_pub.count(i)) for i in range(len(setup.nodes)))}, "
                     f"subs {'/'.join(str(on_sub.count(i)) for i in range(len(setup.nodes)))}")  # fmt: skip
    n = max(1, count1 - count0)
    return Load(n / (t1 - t0), (cpu1 - cpu0) / n * 1e6, (nats1 - nats0) / n * 1e6, where)


async def qos1_latency(pub_port: int, sub_port: int, rate: int, seconds: float) -> list[float]:
    sub = LatencySub()
    await _connect(sub_port, lambda: sub)
    await sub.ready
    await asyncio.sleep(1.0)
    pub = Sink()
    await _connect(pub_port, lambda: pub)
    await pub.ready
    assert pub.transport is not None
    tick = 0.005
    per_tick = max(1, int(rate * tick))
    topic = _utf8("lat/t")
    mid, n, start = 0, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        out = []
        for _ in range(per_tick):
            mid = mid % 65535 + 1
            body = topic + mid.to_bytes(2, "big") + time.perf_counter_ns().to_bytes(8, "big") + PAYLOAD[:92]
            out.append(_packet(0x32, body))
        pub.transport.write(b"".join(out))
        n += 1
        await asyncio.sleep(max(0.0, start + n * tick - time.perf_counter()))
    sub.expected = n * per_tick
    if len(sub.samples) < sub.expected:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sub.all_in.wait(), 5.0)
    for proto in (sub, pub):
        if proto.transport is not None:
            proto.transport.abort()
    return sub.samples


class Setup:
    """nats-server and `count` nodes, on their own ports or all on one (SO_REUSEPORT)."""

    def __init__(self, work: Path, label: str, count: int, shared: bool) -> None:
        self.label = label
        nats_port = procs.free_port()
        data = work / f"js-{label.replace(' ', '-')}"
        self.nats = subprocess.Popen(
            [NATS_SERVER, "-a", "127.0.0.1", "-p", str(nats_port), "-js", "-sd", str(data)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(0.5)
        port = procs.free_port() if shared else 0
        self.nodes: list[Node] = []
        try:
            for i in range(count):
                name = f"{label.replace(' ', '-')}-{i}"
                self.nodes.append(Node(name, f"nats://127.0.0.1:{nats_port}", work, port=port))
        except BaseException:
            self.stop()
            raise

    def node_cpu(self) -> float:
        return sum(n.cpu_seconds() for n in self.nodes)

    def nats_cpu(self) -> float:
        return procs.cpu_seconds(self.nats.pid)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        procs.stop(self.nats)


#: QoS 1 latency turns per path: 1 node and cross take turns, so both p99s come from the same seconds
LATENCY_TURNS = 6


async def measure(setups: list[Setup], seconds: float) -> dict[str, Row]:
    """Throughput of each setup alone (the others idle), then the QoS 1 latency turns."""
    results: dict[str, Row] = {}
    for setup in setups:
        ports = (setup.nodes[0].port, setup.nodes[-1].port)
        results[setup.label] = Row(
            fan_in=await load(setup, ports, (8, 1), seconds),
            fan_out=await load(setup, ports, (1, 50), seconds),
        )
    samples: dict[str, list[float]] = {"1 node": [], "2 nodes cross": []}  # latency on a known path only
    by_label = {setup.label: setup for setup in setups}
    for turn in range(LATENCY_TURNS):
        for label in list(samples) if turn % 2 == 0 else reversed(list(samples)):
            nodes = by_label[label].nodes
            samples[label] += await qos1_latency(nodes[0].port, nodes[-1].port, 1000, seconds / 3)
    for label, lat in samples.items():
        results[label].p50, results[label].p99 = percentile(lat, 0.5), percentile(lat, 0.99)
    return results


def run(seconds: float, repeat: int) -> list[dict[str, Row]]:
    rounds: list[dict[str, Row]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeat):
            work = Path(tmp) / f"round{r}"
            work.mkdir()
            setups: list[Setup] = []
            try:
                for label, count, shared in zip(SETUPS, (1, 2, 2), (False, True, False), strict=True):
                    setups.append(Setup(work, label, count, shared))
                rounds.append(uvloop.run(measure(setups, seconds)))
            finally:
                for setup in setups:
                    setup.stop()
    return rounds


def print_table(rounds: list[dict[str, Row]]) -> None:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}"

    print("| round | setup | fan-in msg/s | node CPU µs/msg | nats µs/msg | fan-out deliveries/s "
          "| node CPU µs/delivery | nats µs/delivery | QoS 1 p50 ms | p99 ms "
          "| placement (fan-in; fan-out) |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r, results in enumerate(rounds, 1):
        for label, row in results.items():
            fi, fo = row.fan_in, row.fan_out
            where = f"{fi.placement}; {fo.placement}" if fi.placement else ""
            print(f"| {r} | {label} | {fi.rate:,.0f} | {fi.node_cpu:.1f} | {fi.nats_cpu:.1f} "
                  f"| {fo.rate:,.0f} | {fo.node_cpu:.2f} | {fo.nats_cpu:.2f} "
                  f"| {ms(row.p50)} | {ms(row.p99)} | {where} |")  # fmt: skip
    for r, results in enumerate(rounds, 1):
        local, cross = results["1 node"], results["2 nodes cross"]
        fan_in = cross.fan_in.node_cpu / local.fan_in.node_cpu
        fan_out = cross.fan_out.node_cpu / local.fan_out.node_cpu
        p99 = f"{cross.p99 / local.p99:.2f}x" if cross.p99 and local.p99 else "-"
        print(f"round {r}, cross/local: CPU per message fan-in {fan_in:.2f}x (target <= 2x), "
              f"fan-out {fan_out:.2f}x; QoS 1 p99 {p99} (target <= 3x)")  # fmt: skip


def _connect_persistent(port: int, clientid: str) -> tuple[socket.socket, bool]:
    """A v3.1.1 CONNECT with CleanSession=0; returns the socket and Session Present."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    sock.sendall(_packet(0x10, _utf8("MQTT") + bytes([4, 0x00]) + struct.pack("!H", 60) + _utf8(clientid)))
    ack = _read_exact(sock, 4)
    assert ack[0] == 0x20, ack
    assert ack[3] == 0, ack
    return sock, bool(ack[2] & 1)


def _read_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _read_packet(sock: socket.socket) -> tuple[int, bytes]:
    first = _read_exact(sock, 1)[0]
    length, shift = 0, 0
    while True:
        b = _read_exact(sock, 1)[0]
        length |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return first, _read_exact(sock, length)


def takeover(ports: list[int], rounds: int) -> list[float]:
    """Seconds from CONNECT on the other node to CONNACK with the session, per round."""
    sock, _present = _connect_persistent(ports[0], "tk")
    sock.sendall(subscribe_packet("tk/#", 1))
    _read_packet(sock)  # SUBACK
    time.sleep(0.5)  # the registry entry reaches every node
    samples: list[float] = []
    for i in range(rounds):
        t0 = time.perf_counter()
        new, present = _connect_persistent(ports[(i + 1) % len(ports)], "tk")
        samples.append(time.perf_counter() - t0)
        assert present, "session not moved"
        sock.close()
        sock = new
        time.sleep(0.05)
    sock.close()
    return samples


def recovery(nodes: list[Node], clients: int) -> float:
    """Seconds from kill -9 of nodes[0] until every client (moved to nodes[1]) got a fresh message."""
    a, b, c = nodes
    socks = []
    for i in range(clients):
        sock, _present = _connect_persistent(a.port, f"rc{i}")
        sock.sendall(subscribe_packet("rc/all", 1))
        _read_packet(sock)
        socks.append(sock)
    time.sleep(1.0)  # routes and registry entries spread
    pub = socket.create_connection(("127.0.0.1", c.port))
    pub.sendall(connect_packet("rcpub"))
    _read_exact(pub, 4)
    stop = threading.Event()

    def publish() -> None:
        topic = _utf8("rc/all")
        while not stop.is_set():
            pub.sendall(_packet(0x30, topic + struct.pack("!d", time.time())))
            time.sleep(0.005)

    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    time.sleep(0.5)
    killed = time.time()
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait()
    back: list[float] = []
    moved = []
    for i, old in enumerate(socks):
        old.close()
        sock, present = _connect_persistent(b.port, f"rc{i}")
        assert present, f"rc{i}: session not resumed"
        moved.append(sock)
    for sock in moved:
        while True:
            first, body = _read_packet(sock)
            if first >> 4 != 3:
                continue
            tlen = struct.unpack_from("!H", body)[0]
            offset = 2 + tlen + (2 if first & 0x06 else 0)
            if struct.unpack_from("!d", body, offset)[0] > killed:
                back.append(time.time() - killed)
                break
    stop.set()
    publisher.join()
    for sock in [*moved, pub]:
        sock.close()
    return max(back)


def run_sessions(rounds: int, clients: int) -> tuple[list[float], float]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        port = procs.free_port()
        nats = subprocess.Popen(
            [NATS_SERVER, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(work / "js")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(0.5)
        nodes: list[Node] = []
        try:
            nodes.extend(Node(f"s{i}", f"nats://127.0.0.1:{port}", work, node_timeout=3.0) for i in range(3))
            samples = takeover([nodes[0].port, nodes[1].port], rounds)
            recovered = recovery(nodes, clients)
        finally:
            for node in nodes:
                node.stop()
            procs.stop(nats)
    return samples, recovered


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measured phase")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of the three setups")
    parser.add_argument("--sessions", action="store_true", help="takeover and kill -9 recovery instead")
    parser.add_argument("--all", action="store_true", help="the three setups, then takeover and recovery")
    parser.add_argument("--rounds", type=int, default=50, help="takeovers measured (--sessions)")
    parser.add_argument("--clients", type=int, default=50, help="clients on the killed node (--sessions)")
    ns = parser.parse_args(argv)
    if not ns.sessions:
        print_table(run(ns.seconds, ns.repeat))
    if ns.sessions or ns.all:
        samples, recovered = run_sessions(ns.rounds, ns.clients)
        ms = [s * 1000 for s in samples]
        print(f"takeover across nodes ({len(ms)} rounds): p50 {percentile(ms, 0.5):.2f} ms, "
              f"p99 {percentile(ms, 0.99):.2f} ms, max {max(ms):.2f} ms")  # fmt: skip
        print(f"recovery after kill -9 ({ns.clients} clients): {recovered:.2f} s (target <= 10 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
