"""Deployment API under load: 10,000 connected MQTT clients, then list and publish through the v5 API.

    .venv/bin/python bench/deployment_api.py [--clients 10000] [--lists 300] [--publishes 5000]
                                             [--concurrency 32]

With BENCH_PROFILE=FILE in the environment the platform process runs under cProfile and dumps FILE.

Runs the real platform in a child process (`create_app` + uvicorn on plain HTTP, the real supervisor and
one Dedicated deployment's `mqttcloud broker`), mints a deployment API key with
`mqttcloud apikey create --deployment ID`, creates one user through the API and then:

1. opens `--clients` raw TCP MQTT connections (pre-encoded CONNECT with that user, CONNACK checked);
2. `GET /api/v5/clients?limit=100`, `--lists` times one after another: p50 / p99 / max latency;
3. `POST /api/v5/publish` (QoS 0, 100-byte payload) `--publishes` times from `--concurrency` keep-alive
   connections, to a topic one raw-socket subscriber listens on: publishes/s delivered to the subscriber.

Targets (issue #4): list p99 <= 100 ms, >= 1,000 publishes/s delivered. The deployment's API rate limit
(100/s per deployment by default, spec §1.10) is lifted for the run; the limiter still runs per request.
Everything stays on 127.0.0.1 and every loop is bounded in count and time.
"""

import argparse
import asyncio
import base64
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from mqttcloud.control.broker_client import BrokerUnavailable

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = "x" * 100
USER, PASSWORD = "bench-user", "bench-password"
ROOT_PASSWORD = "bench-root-password"


# -------------------------------------------------------------------------------- the platform child


def run_platform(data_dir: Path, port: int) -> None:
    """Child process: the platform on plain HTTP with the deployment API rate limit lifted."""
    import uvicorn  # noqa: PLC0415  (only the platform child needs the server stack)

    from mqttcloud.control.app import create_app  # noqa: PLC0415  (same)
    from mqttcloud.control.config import Settings  # noqa: PLC0415  (same)
    from mqttcloud.control.deployment_api.quotas import ApiRateLimiter  # noqa: PLC0415  (same)

    low = 32000 + (os.getpid() % 100) * 10
    settings = Settings.from_env(
        data_dir=data_dir, port=port, broker_port_low=low, broker_port_high=low + 9, rate_limit_profile="off"
    )
    app = create_app(settings)
    app.state.deployment_api_limiter = ApiRateLimiter(qps=0, burst=1)  # qps 0: no limit, still consulted
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", loop="uvloop", http="httptools"
    )
    profile_to = os.environ.get("BENCH_PROFILE")
    if not profile_to:
        uvicorn.Server(config).run()
        return
    import cProfile  # noqa: PLC0415  (only with BENCH_PROFILE)

    def stop(_signum: int, _frame: object) -> None:  # uvicorn re-raises SIGTERM after its shutdown
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    profiler = cProfile.Profile()
    try:
        profiler.runcall(uvicorn.Server(config).run)
    finally:
        profiler.dump_stats(profile_to)


# -------------------------------------------------------------------------------------------- wire


def _utf8(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def _vbi(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(clientid: str) -> bytes:
    """MQTT 3.1.1 CONNECT, clean session, keep-alive 0 (no PINGREQ needed), user name + password."""
    body = (
        _utf8("MQTT")
        + bytes([4, 0xC2])
        + struct.pack("!H", 0)
        + _utf8(clientid)
        + _utf8(USER)
        + _utf8(PASSWORD)
    )
    return bytes([0x10]) + _vbi(len(body)) + body


def subscribe_packet(topic: str) -> bytes:
    body = struct.pack("!H", 1) + _utf8(topic) + bytes([0])
    return bytes([0x82]) + _vbi(len(body)) + body


def open_clients(port: int, count: int, prefix: str, batch: int = 250) -> list[socket.socket]:
    """Connect `count` raw MQTT clients in batches (send every CONNECT of a batch, then read CONNACKs)."""
    sockets: list[socket.socket] = []
    deadline = time.monotonic() + 120
    for start in range(0, count, batch):
        current = []
        for i in range(start, min(count, start + batch)):
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(connect_packet(f"{prefix}-{i}"))
            current.append(sock)
        for sock in current:
            connack = _read_exact(sock, 4)
            if connack[0] != 0x20 or connack[3] != 0:
                raise SystemExit(f"CONNACK refused: {connack.hex()}")
        sockets.extend(current)
        if time.monotonic() > deadline:
            raise SystemExit("connecting took longer than 120 s")
    return sockets


def _read_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise SystemExit("connection closed by the broker")
        data += chunk
    return data


# --------------------------------------------------------------------------------------------- HTTP


class Http:
    """A minimal keep-alive HTTP/1.1 client on asyncio streams (the load generator must stay cheap)."""

    def __init__(self, port: int, auth: tuple[str, str]):
        self.port = port
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        self.headers = f"Host: 127.0.0.1\r\nAuthorization: Basic {token}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\n{self.headers}Content-Length: {len(body)}\r\n"
        if body:
            head += "Content-Type: application/json\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def http_json(
    port: int, method: str, path: str, auth: tuple[str, str], body: object = None
) -> tuple[int, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, data, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def cli(*args: str, data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "MQTTCLOUD_ROOT_PASSWORD": ROOT_PASSWORD}
    out = subprocess.run(
        [sys.executable, "-m", "mqttcloud", "apikey", "create", "--data-dir", str(data_dir), *args],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    result: dict[str, str] = json.loads(out)
    return result


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc), 0.0 when unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU time used by the platform and the broker process over one scenario (the machine is shared:
    wall-clock figures are noisy, CPU per operation much less so)."""

    def __init__(self, platform_pid: int, broker_pid: int) -> None:
        self.pids = {"platform": platform_pid, "broker": broker_pid}
        self.start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def per_op(self, ops: int) -> str:
        used = {name: cpu_seconds(pid) - self.start[name] for name, pid in self.pids.items()}
        return ", ".join(f"{name} {used[name] * 1e6 / max(1, ops):.0f} us" for name in self.pids)


def wait_until(predicate: Any, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


# -------------------------------------------------------------------------------------- scenarios


async def bench_list(port: int, auth: tuple[str, str], count: int, expected: int) -> dict[str, float]:
    http = Http(port, auth)
    latencies = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            status, body = await http.request("GET", "/api/v5/clients?limit=100")
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise SystemExit(f"list answered {status}: {body[:200]!r}")
        total = json.loads(body)["meta"]["count"]
        if total < expected:
            raise SystemExit(f"list counted {total} clients, expected at least {expected}")
    finally:
        await http.close()
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
        "max_ms": latencies[-1],
        "count": float(total),
    }


async def bench_admin_list(data_dir: Path, deployment_id: str, count: int) -> dict[str, float]:
    """The same page asked of the broker's admin channel directly: the broker's share of the latency."""
    from mqttcloud.contracts import ReadyFile, TenantId  # noqa: PLC0415  (bench-only imports)
    from mqttcloud.control.broker_client import BrokerClient  # noqa: PLC0415
    from mqttcloud.control.db import Database  # noqa: PLC0415
    from mqttcloud.control.deployments.models import Deployment  # noqa: PLC0415

    ready = ReadyFile.model_validate_json((data_dir / "brokers" / deployment_id / "ready.json").read_text())
    database = Database.from_url(f"sqlite:///{data_dir / 'mqttcloud.db'}")
    with database.session() as session:
        deployment = session.get(Deployment, deployment_id)
        assert deployment is not None
        token = deployment.admin_token
    database.dispose()
    client = BrokerClient(ready.admin.host, ready.admin.port, token, timeout=30)
    latencies = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            await client.list_clients(TenantId(deployment_id), page=1, limit=100)
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        await client.close()
    latencies.sort()
    return {"p50_ms": statistics.median(latencies), "p99_ms": latencies[int(len(latencies) * 0.99) - 1]}


async def bench_publish(
    port: int, auth: tuple[str, str], mqtt_port: int, total: int, concurrency: int
) -> dict[str, float]:
    subscriber = open_clients(mqtt_port, 1, "bench-subscriber")[0]
    subscriber.sendall(subscribe_packet("bench/pub"))
    _read_exact(subscriber, 5)  # SUBACK
    subscriber.setblocking(False)
    body = json.dumps({"topic": "bench/pub", "payload": PAYLOAD, "qos": 0}).encode()
    # The delivered PUBLISH: fixed header (2) + topic (2 + 9) + payload (100): every one has this size.
    packet_size = 2 + 2 + len("bench/pub") + len(PAYLOAD)
    loop = asyncio.get_running_loop()
    received = 0
    done = asyncio.Event()

    async def drain() -> None:
        nonlocal received
        while received < total * packet_size:
            chunk = await loop.sock_recv(subscriber, 1 << 20)
            if not chunk:
                break
            received += len(chunk)
        done.set()

    sent = 0
    errors: dict[int, int] = {}

    async def publisher(share: int) -> None:
        nonlocal sent
        http = Http(port, auth)
        try:
            for _ in range(share):
                status, _answer = await http.request("POST", "/api/v5/publish", body)
                if status == 200:
                    sent += 1
                else:
                    errors[status] = errors.get(status, 0) + 1
        finally:
            await http.close()

    reader = asyncio.create_task(drain())
    started = time.perf_counter()
    shares = [total // concurrency + (1 if i < total % concurrency else 0) for i in range(concurrency)]
    await asyncio.gather(*(publisher(share) for share in shares))
    http_elapsed = time.perf_counter() - started
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), 30)
    delivered_elapsed = time.perf_counter() - started
    reader.cancel()
    subscriber.close()
    delivered = received // packet_size
    return {
        "published": float(sent),
        "delivered": float(delivered),
        "http_per_s": sent / http_elapsed,
        "delivered_per_s": delivered / delivered_elapsed,
        "errors": float(sum(errors.values())),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--lists", type=int, default=300)
    parser.add_argument("--publishes", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--platform-child", nargs=2, metavar=("DATA_DIR", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.platform_child:
        run_platform(Path(args.platform_child[0]), int(args.platform_child[1]))
        return 0

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.clients + 1000
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))  # the broker inherits it
    data_dir = Path(tempfile.mkdtemp(prefix="bench-deployment-api-"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    platform_key = cli("--description", "bench", data_dir=data_dir)
    pauth = (platform_key["key"], platform_key["secret"])
    child = subprocess.Popen(
        [sys.executable, __file__, "--platform-child", str(data_dir), str(port)],
        env={**os.environ, "MQTTCLOUD_ROOT_PASSWORD": ROOT_PASSWORD, "PYTHONPATH": str(ROOT / "src")},
        start_new_session=True,
    )
    try:
        wait_until(
            lambda: http_json(port, "GET", "/public_api/v1/projects", pauth)[0] == 200, 60, "the platform"
        )
        status, deployment = http_json(
            port,
            "POST",
            "/public_api/v1/deployments",
            pauth,
            {"projectID": "default", "connections": args.clients + 100},
        )
        assert status == 201, deployment
        deployment_id = deployment["deploymentID"]
        mqtt_port = int(deployment["endpoints"]["mqtt"].rsplit(":", 1)[1])
        wait_until(
            lambda: (
                http_json(port, "GET", f"/public_api/v1/deployments/{deployment_id}", pauth)[1]["status"]
                == "running"
            ),
            60,
            "the deployment to run",
        )
        key = cli("--deployment", deployment_id, data_dir=data_dir)
        auth = (key["app_id"], key["app_secret"])
        status, answer = http_json(
            port,
            "POST",
            "/api/v5/authentication/password_based%3Abuilt_in_database/users",
            auth,
            {"user_id": USER, "password": PASSWORD},
        )
        assert status == 201, answer
        started = time.perf_counter()
        clients = open_clients(mqtt_port, args.clients, "bench")
        connect_s = time.perf_counter() - started
        print(f"connected {len(clients)} clients in {connect_s:.1f} s ({len(clients) / connect_s:.0f}/s)")
        ready_path = data_dir / "brokers" / deployment_id / "ready.json"
        broker_pid = int(json.loads(ready_path.read_text())["pid"])
        meter = CpuMeter(child.pid, broker_pid)
        listing = asyncio.run(bench_list(port, auth, args.lists, args.clients))
        list_cpu = meter.per_op(args.lists)
        print(
            f"GET /api/v5/clients?limit=100 with {listing['count']:.0f} clients, {args.lists} requests: "
            f"p50 {listing['p50_ms']:.1f} ms, p99 {listing['p99_ms']:.1f} ms, max {listing['max_ms']:.1f} ms "
            f"(target p99 <= 100 ms)"
        )
        print(f"  CPU per list: {list_cpu}")
        try:
            direct = asyncio.run(bench_admin_list(data_dir, deployment_id, max(10, args.lists // 5)))
            print(
                f"  of which the broker (admin list_clients, same page, direct): "
                f"p50 {direct['p50_ms']:.1f} ms, "
                f"p99 {direct['p99_ms']:.1f} ms"
            )
        except BrokerUnavailable as exc:
            print(f"  (direct admin measurement failed: {exc})")
        meter = CpuMeter(child.pid, broker_pid)
        publishing = asyncio.run(bench_publish(port, auth, mqtt_port, args.publishes, args.concurrency))
        publish_cpu = meter.per_op(args.publishes)
        print(
            f"POST /api/v5/publish x {args.publishes} ({args.concurrency} connections): "
            f"{publishing['http_per_s']:.0f} requests/s answered, {publishing['delivered']:.0f} delivered, "
            f"{publishing['delivered_per_s']:.0f} publishes/s delivered to the subscriber, "
            f"{publishing['errors']:.0f} errors (target >= 1,000/s)"
        )
        print(f"  CPU per publish: {publish_cpu}")
        for sock in clients:
            sock.close()
    finally:
        os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
