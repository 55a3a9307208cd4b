"""Cluster benchmark: one node against two nodes joined through NATS, local against cross-node paths.

    .venv/bin/python -m bench.cluster [--seconds S]

Starts `nats-server -js` and broker nodes (`mqttcloud broker --cluster`, each on its own port) and runs
the load generator of `bench/broker.py` (pre-encoded packets, closed loop) with publishers on one port
and subscribers on another:

- local:  1 node; publishers and subscribers on it.
- cross:  2 nodes; publishers on node A, subscribers on node B (every message crosses NATS).

Per path: QoS 0 fan-in throughput (8 publishers -> 1 subscriber on `bench/#`, deliveries/s), broker
CPU per delivered message (user + system time of every node process, /proc/<pid>/stat, over the
throughput phase), and QoS 1 publish -> deliver latency p50/p99 at 1,000 msg/s. Targets (issue #12):
cross-node CPU per message <= 2x local, cross-node QoS 1 p99 <= 3x local.

With `--sessions` (3 nodes, node timeout 3 s): takeover time across nodes (a persistent v3.1.1 session
with a QoS 1 subscription, connected on one node, CONNECTs on the other: CONNECT sent until CONNACK
with Session Present, p50/p99 over the rounds) and recovery after kill -9 (persistent clients on node
A, a publisher on node C at 200 msg/s; A is killed, every client reconnects to node B at once: time
from the kill until every client has received a message published after the kill). Target: <= 10 s.
"""

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvloop
from bench.broker import (
    PAYLOAD,
    WINDOW,
    Flow,
    LatencySub,
    Pub,
    Sink,
    Sub,
    _connect,
    _free_port,
    _packet,
    _utf8,
    connect_packet,
    percentile,
    publish_qos0,
    subscribe_packet,
)

#: (fan-in QoS 0 deliveries/s, node CPU µs per delivery, QoS 1 p50 ms, QoS 1 p99 ms)
Row = tuple[float, float, float, float]
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


class Node:
    def __init__(self, name: str, nats_url: str, workdir: Path, node_timeout: float = 10.0) -> None:
        self.name = name
        self.dir = workdir / name
        self.dir.mkdir()
        ready = self.dir / "ready.json"
        argv = [
            sys.executable, "-m", "mqttcloud", "broker", "--broker-id", "bench", "--cluster", nats_url,
            "--node-name", name, "--listen", "tcp://127.0.0.1:0", "--allow-anonymous",
            "--data-dir", str(self.dir / "data"), "--ready-file", str(ready), "--log-level", "WARNING",
            "--node-timeout", str(node_timeout),
        ]  # fmt: skip
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=(self.dir / "err").open("wb"))
        deadline = time.monotonic() + 20
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((self.dir / "err").read_text())
            time.sleep(0.05)
        from mqttcloud import contracts  # noqa: PLC0415  (keep the bench's import light)

        self.port = contracts.ReadyFile.model_validate_json(ready.read_text()).listeners[0].port

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)


async def fan_in(pub_port: int, sub_port: int, nodes: list[Node], seconds: float) -> tuple[float, float]:
    """(deliveries/s, node CPU µs per delivery) for 8 QoS 0 publishers -> 1 subscriber."""
    flow = Flow()
    sub = Sub("s0", "bench/#", flow.wake)
    await _connect(sub_port, lambda: sub)
    await sub.ready
    await asyncio.sleep(1.0)  # the route reaches the publishers' node
    pubs = [Pub(f"p{i}") for i in range(8)]
    for p in pubs:
        await _connect(pub_port, lambda p=p: p)  # type: ignore[misc]  # bind the loop variable
    await asyncio.gather(*(p.ready for p in pubs))
    packets = [publish_qos0(f"bench/{i}", PAYLOAD) for i in range(8)]
    size = len(packets[0])
    chunks = [pk * 100 for pk in packets]
    stop = False

    def delivered() -> int:
        return sub.count_bytes // size

    async def pump(i: int) -> None:
        transport = pubs[i].transport
        assert transport is not None
        while not stop:
            if flow.sent - delivered() > WINDOW:
                flow.progress.clear()
                try:
                    await asyncio.wait_for(flow.progress.wait(), 1.0)
                except TimeoutError:
                    flow.sent = delivered()
                continue
            await pubs[i].can_write.wait()
            transport.write(chunks[i])
            flow.sent += 100
            await asyncio.sleep(0)

    tasks = [asyncio.create_task(pump(i)) for i in range(8)]
    await asyncio.sleep(0.5)
    count0, t0, cpu0 = delivered(), time.perf_counter(), sum(n.cpu_seconds() for n in nodes)
    await asyncio.sleep(seconds)
    count1, t1, cpu1 = delivered(), time.perf_counter(), sum(n.cpu_seconds() for n in nodes)
    stop = True
    await asyncio.gather(*tasks)
    for transport in [sub.transport, *(p.transport for p in pubs)]:
        if transport is not None:
            transport.abort()
    n = max(1, count1 - count0)
    return n / (t1 - t0), (cpu1 - cpu0) / n * 1e6


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


async def measure(pub_port: int, sub_port: int, nodes: list[Node], seconds: float) -> Row:
    rate, cpu = await fan_in(pub_port, sub_port, nodes, seconds)
    lat = await qos1_latency(pub_port, sub_port, 1000, seconds)
    return rate, cpu, percentile(lat, 0.5), percentile(lat, 0.99)


def run(seconds: float) -> dict[str, Row]:
    results: dict[str, Row] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for path, count in (("local (1 node)", 1), ("cross (2 nodes)", 2)):
            port = _free_port()
            nats = subprocess.Popen(
                [NATS_SERVER, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(work / f"js{count}")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(0.5)
            nodes: list[Node] = []
            try:
                nodes.extend(Node(f"{count}n{i}", f"nats://127.0.0.1:{port}", work) for i in range(count))
                results[path] = uvloop.run(measure(nodes[0].port, nodes[-1].port, nodes, seconds))
            finally:
                for node in nodes:
                    node.stop()
                nats.send_signal(signal.SIGTERM)
                nats.wait(10)
    return results


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
        port = _free_port()
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
            nats.send_signal(signal.SIGTERM)
            nats.wait(10)
    return samples, recovered


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measured phase")
    parser.add_argument("--sessions", action="store_true", help="takeover and kill -9 recovery instead")
    parser.add_argument("--rounds", type=int, default=50, help="takeovers measured (--sessions)")
    parser.add_argument("--clients", type=int, default=50, help="clients on the killed node (--sessions)")
    ns = parser.parse_args(argv)
    if ns.sessions:
        samples, recovered = run_sessions(ns.rounds, ns.clients)
        ms = [s * 1000 for s in samples]
        print(f"takeover across nodes ({len(ms)} rounds): p50 {percentile(ms, 0.5):.2f} ms, "
              f"p99 {percentile(ms, 0.99):.2f} ms, max {max(ms):.2f} ms")  # fmt: skip
        print(f"recovery after kill -9 ({ns.clients} clients): {recovered:.2f} s (target <= 10 s)")
        return 0
    results = run(ns.seconds)
    print(f"{'path':<18}{'fan-in QoS 0 msg/s':>20}{'CPU µs/msg':>12}{'QoS 1 p50 ms':>14}{'p99 ms':>9}")
    for path, (rate, cpu, p50, p99) in results.items():
        print(f"{path:<18}{rate:>20,.0f}{cpu:>12.1f}{p50:>14.2f}{p99:>9.2f}")
    local, cross = results["local (1 node)"], results["cross (2 nodes)"]
    print(f"cross/local: CPU per message {cross[1] / local[1]:.2f}x (target <= 2x), "
          f"QoS 1 p99 {cross[3] / local[3]:.2f}x (target <= 3x)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
