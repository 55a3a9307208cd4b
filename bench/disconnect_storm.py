"""Connection storms against one broker process: how long does its event loop stall?

    .venv/bin/python bench/disconnect_storm.py [--clients 10000] [--profile DIR]

Starts `python -m mqttcloud broker --allow-anonymous` on ephemeral ports, then, for each storm, a prober
in a separate process times admin `ping` round trips every 10 ms (the supervisor's health check is a ping
every 2 s with a 2 s timeout, two misses = restart) and polls `stats` until `connections.count` settles:

- connect storm:    N raw TCP connections, each writes a pre-encoded CONNECT (keep-alive 60 s) at once;
- disconnect storm: the load generator closes all N sockets at once;
- kick-all storm:   N clients connected again, then `apply_spec` with the tenant disabled (kicks them all).

Reported per storm: the max and p99 ping latency while the storm runs and the time until `stats` shows
the expected connection count. `--profile DIR` runs `py-spy record` on the broker during each storm and
writes DIR/<storm>.txt (raw collapsed stacks) when py-spy is on PATH or in the venv (STORM_NATIVE=1 adds
`--native`: most of a storm's cost is inside uvloop). STORM_PYTHONPATH=DIR is appended to the broker's
PYTHONPATH (e.g. a sitecustomize.py that logs gc pauses); `--keep-log FILE` keeps the broker's stderr.
"""

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from mqttcloud import contracts  # noqa: E402
from mqttcloud.control.broker_client import BrokerClient  # noqa: E402

TENANT = contracts.TenantId("default")
PING_EVERY = 0.010


def _utf8(s: str) -> bytes:
    raw = s.encode()
    return struct.pack("!H", len(raw)) + raw


def _vbi(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(client_id: str, keepalive: int = 60) -> bytes:
    body = _utf8("MQTT") + bytes([4, 0x02]) + struct.pack("!H", keepalive) + _utf8(client_id)
    return bytes([0x10]) + _vbi(len(body)) + body


# --------------------------------------------------------------------------------------------- prober


async def _probe(admin_port: int, token: str, target: int, within: float) -> dict[str, float]:
    """Ping every 10 ms and poll stats until connections.count == target (or `within` s pass)."""
    client = BrokerClient("127.0.0.1", admin_port, token, timeout=30.0)
    latencies: list[float] = []
    start = time.perf_counter()
    settled = float("nan")
    count = -1

    async def pinger() -> None:
        while True:
            t0 = time.perf_counter()
            await client.ping()
            latencies.append(time.perf_counter() - t0)
            await asyncio.sleep(PING_EVERY)

    task = asyncio.create_task(pinger())
    try:
        while time.perf_counter() - start < within:
            stats = await client.stats(TENANT)
            count = stats.values.get("connections.count", -1)
            if count == target:
                settled = time.perf_counter() - start
                break
            await asyncio.sleep(PING_EVERY)
        # a few more pings after settling: the storm's tail (timers, writes) still counts
        await asyncio.sleep(0.3)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.close()
    latencies.sort()
    return {
        "pings": float(len(latencies)),
        "max_ms": latencies[-1] * 1e3 if latencies else float("nan"),
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3 if latencies else float("nan"),
        "settled_s": settled,
        "final_count": float(count),
    }


def _prober_main(conn: Connection, admin_port: int, token: str) -> None:
    """Child process: wait for ("go", target, timeout), signal "ready" once pinging, send the result."""
    while True:
        msg = conn.recv()
        if msg is None:
            return
        _, target, within = msg
        conn.send("ready")
        conn.send(asyncio.run(_probe(admin_port, token, target, within)))


# ------------------------------------------------------------------------------------------ generator


class _Client(asyncio.Protocol):
    def __init__(self, connected: asyncio.Future[None] | None) -> None:
        self.connected = connected
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.connected is not None and not self.connected.done() and data[:1] == b"\x20":
            self.connected.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.connected is not None and not self.connected.done():
            self.connected.set_exception(ConnectionError("closed before CONNACK"))


async def open_clients(port: int, n: int, prefix: str) -> list[_Client]:
    """N connections opened concurrently (bounded by the accept backlog), CONNECT written on each."""
    loop = asyncio.get_running_loop()
    packets = [connect_packet(f"{prefix}-{i}") for i in range(n)]
    clients: list[_Client] = []
    sem = asyncio.Semaphore(512)

    async def one(i: int) -> None:
        async with sem:
            fut: asyncio.Future[None] = loop.create_future()
            _, proto = await loop.create_connection(lambda: _Client(fut), "127.0.0.1", port)
            assert proto.transport is not None
            proto.transport.write(packets[i])
            clients.append(proto)
            await fut

    await asyncio.gather(*(one(i) for i in range(n)))
    return clients


# ----------------------------------------------------------------------------------------------- main


class Broker:
    def __init__(self, tmp: Path, profile_dir: Path | None, log_level: str, src: Path) -> None:
        self.tmp = tmp
        self.profile_dir = profile_dir
        self.token = "bench-token"
        ready = tmp / "ready.json"
        path = [str(src), *filter(None, [os.environ.get("STORM_PYTHONPATH")])]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
        self.log = (tmp / "broker.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mqttcloud", "broker", "--listen", "tcp://127.0.0.1:0",
             "--allow-anonymous", "--data-dir", str(tmp / "data"), "--ready-file", str(ready),
             "--admin-token", self.token, "--log-level", log_level],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"broker did not start, log: {(tmp / 'broker.log').read_text()}")
            time.sleep(0.05)
        info = contracts.ReadyFile.model_validate_json(ready.read_text())
        self.admin_port = info.admin.port
        self.port = info.listeners[0].port
        self._spy: subprocess.Popen[bytes] | None = None

    def start_profile(self, name: str) -> None:
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if self.profile_dir is None or not Path(spy).exists():
            return
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        out = self.profile_dir / f"{name}.txt"
        self._spy = subprocess.Popen(
            [spy, "record", "-p", str(self.proc.pid), "-r", "250", "-f", "raw", "-o", str(out)]
            + (["--native"] if os.environ.get("STORM_NATIVE") else []),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(1.0)  # py-spy attaches

    def stop_profile(self) -> None:
        if self._spy is not None:
            self._spy.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._spy.wait(15)
            self._spy = None

    def stop(self) -> None:
        self.stop_profile()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _storm(
    broker: Broker, conn: Connection, name: str, target: int, act: Callable[[], None]
) -> dict[str, float]:
    broker.start_profile(name)
    conn.send(("go", target, 60.0))
    assert conn.recv() == "ready"
    time.sleep(0.2)  # baseline pings before the storm
    t0 = time.perf_counter()
    act()
    result: dict[str, float] = conn.recv()
    result["act_s"] = time.perf_counter() - t0
    broker.stop_profile()
    print(
        f"{name:>16}: max ping {result['max_ms']:7.1f} ms  p99 {result['p99_ms']:6.1f} ms  "
        f"({result['pings']:.0f} pings)  connections.count={result['final_count']:.0f} after "
        f"{result['settled_s']:.2f} s",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--profile", type=Path, help="py-spy raw stacks per storm into this directory")
    parser.add_argument("--log-level", default="INFO", help="the broker's (INFO: as the supervisor runs it)")
    parser.add_argument(
        "--src",
        type=Path,
        default=ROOT / "src",
        help="run the broker from this tree (e.g. `git archive` of a commit)",
    )
    parser.add_argument("--keep-log", type=Path, help="copy the broker's log here")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    ns = parser.parse_args()
    n: int = ns.clients
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 2 * n + 1000))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # inherited by the broker
    if want < n + 200:
        raise SystemExit(f"RLIMIT_NOFILE hard limit {hard} is too low for {n} clients")

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="storm-") as tmpdir:
        broker = Broker(Path(tmpdir), ns.profile, ns.log_level, ns.src)
        parent, child = mp.get_context("spawn").Pipe()
        prober = mp.get_context("spawn").Process(
            target=_prober_main, args=(child, broker.admin_port, broker.token), daemon=True
        )
        prober.start()
        loop = asyncio.new_event_loop()
        try:
            holder: list[list[_Client]] = []

            def connect(prefix: str) -> None:
                holder[:] = [loop.run_until_complete(open_clients(broker.port, n, prefix))]

            def close_all() -> None:
                for c in holder[0]:
                    assert c.transport is not None
                    c.transport.close()
                loop.run_until_complete(asyncio.sleep(0.05))  # let the FINs go out

            results["connect"] = _storm(broker, parent, "connect storm", n, lambda: connect("a"))
            results["disconnect"] = _storm(broker, parent, "disconnect storm", 0, close_all)
            connect("b")
            client = BrokerClient("127.0.0.1", broker.admin_port, broker.token, timeout=30)
            spec, generation = _disabled_spec(broker)

            def kick_all() -> None:
                async def go() -> None:
                    await client.apply_spec(spec, generation)
                    await client.close()

                loop.run_until_complete(go())

            results["kick-all"] = _storm(broker, parent, "kick-all storm", 0, kick_all)
            close_all()
        finally:
            parent.send(None)
            prober.join(10)
            loop.close()
            broker.stop()
        if ns.keep_log:
            shutil.copy(Path(tmpdir) / "broker.log", ns.keep_log)
    if ns.json:
        ns.json.write_text(json.dumps(results, indent=2))


def _disabled_spec(broker: Broker) -> tuple[contracts.BrokerSpec, int]:
    """The broker's spec with its only tenant disabled: applying it kicks every connected client."""
    ready = contracts.ReadyFile.model_validate_json((broker.tmp / "ready.json").read_text())
    spec = contracts.BrokerSpec(
        broker_id="default",
        data_dir=str((broker.tmp / "data").resolve()),
        ready_file=str((broker.tmp / "ready.json").resolve()),
        admin=contracts.AdminSpec(port=broker.admin_port, token=broker.token),
        listeners=[
            contracts.ListenerSpec(
                name="tcp:default",
                kind=contracts.ListenerKind.TCP,
                host="127.0.0.1",
                port=ready.listeners[0].port,
                tenant=TENANT,
            )
        ],
        tenants=[contracts.TenantSpec(tenant_id=TENANT, allow_anonymous=True, enabled=False)],
    )
    return spec, ready.spec_generation + 1


if __name__ == "__main__":
    main()
