"""Write throughput of a real `serve` with the audit log on and off (issue #13: on must be >= 90% of off).

    .venv/bin/python bench/audit_log.py [--connections 16] [--seconds 10] [--warmup 2] [--rounds 2]
        [--first off|on]

For each round and mode (off then on, or `--first on`: interleaved, so machine load hits both alike), starts
`mqttcloud serve --http` with `MQTTCLOUD_AUDIT_LOG=off|on` and rate limits off, creates a Serverless
deployment through the Platform API and a deployment key with `mqttcloud apikey create --deployment`,
then keeps `--connections` clients busy for `--seconds`:

- `write`: `POST /api/v5/authentication/.../users` with a new user each time (a database write and a
  spec push to the broker: every one is audited when on);
- `read`:  `GET /public_api/v1/deployments/{id}` (the fast path: the audit middleware only checks the
  method).

Prints requests/s, p50/p99 and the server's CPU per request (all its threads, the audit writer included:
the figure least moved by a shared machine's load) per phase and mode, the on/off ratios, and the
entries stored when on.
"""

import argparse
import asyncio
import json
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
USERS = "/api/v5/authentication/password_based%3Abuilt_in_database/users"
Request = Callable[[httpx.AsyncClient, int, int], Awaitable[None]]  # (client, worker, n-th call)


def start(data_dir: Path, audit: str) -> tuple[subprocess.Popen[str], str, dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MQTTCLOUD_")}
    env |= {
        "MQTTCLOUD_AUDIT_LOG": audit,
        "MQTTCLOUD_RATE_LIMIT_PROFILE": "off",
        "MQTTCLOUD_ROOT_PASSWORD": "bench-root-password",
        "MQTTCLOUD_BROKER_PORTS": "23100-23199",
    }
    command = [
        sys.executable,
        "-m",
        "mqttcloud",
        "serve",
        "--data-dir",
        str(data_dir),
        "--port",
        "0",
        "--http",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        match = re.search(r"Platform API:\s+(\S+)/public_api/v1", line)
        if match:
            return process, match.group(1), env
        if not line:
            break
    process.kill()
    raise SystemExit("mqttcloud serve did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its threads (Linux /proc): the audit writer included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cli(data_dir: Path, env: dict[str, str], *args: str) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "mqttcloud", "apikey", "create", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    result: dict[str, str] = json.loads(done.stdout)
    return result


async def load(base: str, connections: int, seconds: float, warmup: float, request: Request) -> list[float]:
    """Run `request(client, worker, n)` in a loop per connection; latencies after the warm-up."""
    latencies: list[float] = []
    begin = time.monotonic()
    record_from, stop_at = begin + warmup, begin + warmup + seconds

    async def worker(index: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            n = 0
            while (now := time.monotonic()) < stop_at:
                n += 1
                await request(client, index, n)
                if now >= record_from:
                    latencies.append(time.monotonic() - now)

    await asyncio.gather(*(worker(i) for i in range(connections)))
    return latencies


def run_mode(audit: str, args: argparse.Namespace, round_no: int) -> dict[str, tuple[float, ...]]:
    data_dir = Path(tempfile.mkdtemp(prefix="mqttcloud-audit-bench-"))
    process, base, env = start(data_dir, audit)
    try:
        key = cli(data_dir, env, "--description", "bench")
        platform = (key["key"], key["secret"])
        with httpx.Client(base_url=base, timeout=30) as client:
            body = {"projectID": "default", "deploymentType": "serverless"}
            created = client.post("/public_api/v1/deployments", json=body, auth=platform)
            created.raise_for_status()
            deployment_id = created.json()["deploymentID"]
            deadline = time.monotonic() + 60
            while (
                client.get(f"/public_api/v1/deployments/{deployment_id}", auth=platform).json()["status"]
                != "running"
            ):
                if time.monotonic() > deadline:
                    raise SystemExit("the Serverless broker did not start")
                time.sleep(0.2)
        app = cli(data_dir, env, "--deployment", deployment_id)
        deployment = (app["app_id"], app["app_secret"])

        async def write(client: httpx.AsyncClient, worker: int, n: int) -> None:
            user = {"user_id": f"r{round_no}-w{worker}-{n}", "password": "bench-password"}
            response = await client.post(USERS, json=user, auth=deployment)
            assert response.status_code == 201, response.text

        async def read(client: httpx.AsyncClient, worker: int, n: int) -> None:
            response = await client.get(f"/public_api/v1/deployments/{deployment_id}", auth=platform)
            assert response.status_code == 200, response.text

        results: dict[str, tuple[float, ...]] = {}
        for phase, request in (("write", write), ("read", read)):
            cpu_before, count_from = cpu_seconds(process.pid), time.monotonic()
            latencies = sorted(asyncio.run(load(base, args.connections, args.seconds, args.warmup, request)))
            cpu = cpu_seconds(process.pid) - cpu_before  # over warm-up + measure: per request of both
            calls = len(latencies) * (time.monotonic() - count_from) / args.seconds
            q = statistics.quantiles(latencies, n=100)
            results[phase] = (len(latencies) / args.seconds, q[49] * 1000, q[98] * 1000, cpu / calls * 1e6)
        if audit == "on":
            time.sleep(1.5)  # the writer's next round
            with sqlite3.connect(data_dir / "mqttcloud.db") as db:
                stored = db.execute(
                    "SELECT count(*) FROM audit_log WHERE interface = 'deployment_api'"
                ).fetchone()[0]
            print(f"  round {round_no} on: {stored} Deployment API writes stored in the audit log")
        return results
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--first", choices=("off", "on"), default="off", help="the mode run first in a round")
    args = parser.parse_args()
    table: dict[tuple[str, str], list[tuple[float, ...]]] = {}
    for round_no in range(1, args.rounds + 1):
        for audit in ("off", "on") if args.first == "off" else ("on", "off"):
            for phase, figures in run_mode(audit, args, round_no).items():
                table.setdefault((phase, audit), []).append(figures)
                print(
                    f"  round {round_no} {phase:5} audit {audit:3}: {figures[0]:8,.0f} req/s  "
                    f"p50 {figures[1]:6.2f} ms  p99 {figures[2]:6.2f} ms  "
                    f"server CPU {figures[3]:6.0f} us/request"
                )
    print(
        f"{args.connections} connections, {args.seconds:g} s per phase, load average {os.getloadavg()[0]:.1f}"
    )
    for phase in ("write", "read"):
        off = statistics.mean(f[0] for f in table[(phase, "off")])
        on = statistics.mean(f[0] for f in table[(phase, "on")])
        cpu_off = statistics.mean(f[3] for f in table[(phase, "off")])
        cpu_on = statistics.mean(f[3] for f in table[(phase, "on")])
        print(
            f"{phase:5}: off {off:8,.0f} req/s   on {on:8,.0f} req/s   on/off {on / off:.1%}   "
            f"server CPU off {cpu_off:,.0f} us/request, on {cpu_on:,.0f} (off/on {cpu_off / cpu_on:.1%})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
