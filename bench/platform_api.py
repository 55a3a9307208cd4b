"""Platform API throughput: authenticated `GET /public_api/v1/deployments/{id}` against a real `serve`.

    .venv/bin/python bench/platform_api.py [--connections 32] [--seconds 10] [--warmup 2] [--http]
        [--endpoint get|get-route|list|projects|tls] [--rate-limits raised|off] [--server-cpu 1]
        [--source DIR]

Starts `mqttcloud serve` on a temporary data folder (HTTPS with the platform CA unless --http), mints a
platform key with `mqttcloud apikey create`, creates one deployment, then keeps `--connections` keep-alive
connections busy for `--seconds`, each sending the next request as soon as the previous answer is in.
Reports requests/s, p50/p90/p99/max latency, p99/p50 and any non-200 answers. Target on a 2-core machine:
>= 1,500 requests/s with p99 <= 25 ms at 32 connections, and p99 <= 3x p50 (issue #14).

Endpoints: `get` is `GET /deployments/{id}` (answered by the fast path once cached), `get-route` the same
call with a query string so it always runs the FastAPI route, `list` `GET /deployments` and `projects`
`GET /projects` (a route with one database read each), `tls` `GET /deployments/{id}/tls` (route, reads).
`--server-cpu N` pins the server to CPU N (taskset) and the client to the other CPUs; `--source DIR`
runs the server from another checkout (`git worktree add /tmp/before HEAD~1`) for before/after tables.

The load generator is a minimal HTTP/1.1 client on asyncio streams (uvloop when available), so the
client spends as little of the shared CPU as possible; the server's rate limits are raised for the run
(`raised`: the limiter itself still runs on every request) or switched off (`off`: the `off` profile).
"""

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    context: ssl.SSLContext | None
    request: bytes  # one complete HTTP/1.1 request


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to report cost independent of machine load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Result:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.completed = 0  # warm-up included: they cost server CPU too
        self.errors: dict[str, int] = {}


async def worker(target: Target, stop_at: float, record_from: float, result: Result) -> None:
    reader, writer = await asyncio.open_connection(target.host, target.port, ssl=target.context)
    try:
        while True:
            started = time.perf_counter()
            if started >= stop_at:
                return
            writer.write(target.request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head[9:12].decode()
            match = re.search(rb"(?i)content-length:\s*(\d+)", head)
            body_length = int(match.group(1)) if match else 0
            await reader.readexactly(body_length)
            finished = time.perf_counter()
            result.completed += 1
            if started >= record_from:
                result.latencies.append(finished - started)
                if status != "200":
                    result.errors[status] = result.errors.get(status, 0) + 1
    finally:
        writer.close()


async def load(target: Target, connections: int, seconds: float, warmup: float) -> Result:
    result = Result()
    now = time.perf_counter()
    record_from, stop_at = now + warmup, now + warmup + seconds
    await asyncio.gather(*(worker(target, stop_at, record_from, result) for _ in range(connections)))
    return result


ENDPOINTS = {
    "get": ("/deployments/{id}", "deployments.get"),
    "get-route": ("/deployments/{id}?route=1", "deployments.get"),
    "list": ("/deployments", "deployments.list"),
    "projects": ("/projects", "projects.list"),
    "tls": ("/deployments/{id}/tls", "tls.get"),
}


def clean_env(source: Path | None) -> dict[str, str]:
    """This environment without MQTTCLOUD_ settings; with `source`, that checkout's code comes first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MQTTCLOUD_")}
    if source is not None:
        env["PYTHONPATH"] = str(source / "src")
    return env


def start_serve(
    data_dir: Path, use_http: bool, *, rate_limits: str, server_cpu: int | None, source: Path | None
) -> tuple[subprocess.Popen[str], str]:
    env = clean_env(source)
    if rate_limits == "off":
        env["MQTTCLOUD_RATE_LIMIT_PROFILE"] = "off"
    else:
        env["MQTTCLOUD_RATE_LIMITS"] = ",".join(f"{rule}=100000000/60" for _, rule in ENDPOINTS.values())
    env["MQTTCLOUD_ROOT_PASSWORD"] = "bench-root-password"
    env["MQTTCLOUD_BROKER_PORTS"] = "23000-23099"
    command = [sys.executable, "-m", "mqttcloud", "serve", "--data-dir", str(data_dir), "--port", "0"]
    if use_http:
        command.append("--http")
    if server_cpu is not None:
        command = ["taskset", "-c", str(server_cpu), *command]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=source or ROOT
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = re.search(r"Platform API:\s+(\S+)/public_api/v1", line)
        if match:
            return process, match.group(1)
    process.kill()
    raise SystemExit("mqttcloud serve did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--http", action="store_true", help="plain HTTP instead of HTTPS")
    parser.add_argument("--endpoint", choices=sorted(ENDPOINTS), default="get")
    parser.add_argument("--rate-limits", choices=("raised", "off"), default="raised")
    parser.add_argument("--server-cpu", type=int, help="pin the server to this CPU, the client elsewhere")
    parser.add_argument("--source", type=Path, help="run the server from this checkout (before/after)")
    args = parser.parse_args()

    if args.server_cpu is not None:
        others = os.sched_getaffinity(0) - {args.server_cpu}
        os.sched_setaffinity(0, others or {args.server_cpu})
    data_dir = Path(tempfile.mkdtemp(prefix="mqttcloud-bench-"))
    process, base = start_serve(
        data_dir, args.http, rate_limits=args.rate_limits, server_cpu=args.server_cpu, source=args.source
    )
    try:
        created = subprocess.run(
            [sys.executable, "-m", "mqttcloud", "apikey", "create", "--data-dir", str(data_dir),
             "--description", "bench"],
            capture_output=True, text=True, check=True, cwd=args.source or ROOT, env=clean_env(args.source),
        )  # fmt: skip
        key = json.loads(created.stdout)
        credentials = base64.b64encode(f"{key['key']}:{key['secret']}".encode()).decode()
        context = None if args.http else ssl.create_default_context(cafile=str(data_dir / "pki" / "ca.pem"))
        request = urllib.request.Request(
            f"{base}/public_api/v1/deployments",
            data=b'{"projectID": "default"}',
            headers={"Authorization": f"Basic {credentials}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, context=context) as response:
            deployment_id = json.loads(response.read())["deploymentID"]

        host, port = re.match(r"https?://([^:/]+):(\d+)", base).groups()  # type: ignore[union-attr]  # our banner
        path = ENDPOINTS[args.endpoint][0].format(id=deployment_id)
        raw = (
            f"GET /public_api/v1{path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Basic {credentials}\r\nAccept: application/json\r\n\r\n"
        ).encode()
        try:
            import uvloop  # noqa: PLC0415  (optional: a faster client loop)

            runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
        except ImportError:
            runner = asyncio.Runner()
        with runner:
            target = Target(host, int(port), context, raw)
            cpu_before = cpu_seconds(process.pid)
            result = runner.run(load(target, args.connections, args.seconds, args.warmup))
            server_cpu = cpu_seconds(process.pid) - cpu_before
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(data_dir, ignore_errors=True)

    latencies = sorted(result.latencies)
    if not latencies:
        print("no requests completed")
        return 1
    quantiles = statistics.quantiles(latencies, n=100)
    rate = len(latencies) / args.seconds
    scheme = "HTTP" if args.http else "HTTPS"
    print(
        f"GET /public_api/v1{ENDPOINTS[args.endpoint][0]} over {scheme}, {args.connections} connections, "
        f"rate limits {args.rate_limits}, server CPU {args.server_cpu}, source {args.source or ROOT}"
    )
    print(f"  requests:   {len(latencies)} in {args.seconds:.1f} s = {rate:,.0f} req/s")
    print(
        f"  latency:    p50 {quantiles[49] * 1000:.2f} ms   p90 {quantiles[89] * 1000:.2f} ms   "
        f"p99 {quantiles[98] * 1000:.2f} ms   max {latencies[-1] * 1000:.2f} ms   "
        f"p99/p50 {quantiles[98] / quantiles[49]:.1f}"
    )
    print(f"  non-200:    {result.errors or 'none'}")
    total = result.completed
    print(
        f"  server CPU: {server_cpu:.2f} s = {server_cpu / total * 1e6:.0f} us/request "
        f"(~{total / server_cpu:,.0f} req/s per fully available core); load average {os.getloadavg()[0]:.1f}"
    )
    return 0 if not result.errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
