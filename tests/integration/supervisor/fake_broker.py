"""A stand-in broker process for supervisor tests (stdlib only, so it starts fast).

It does what the supervisor relies on and nothing else: reads `--config SPEC`, binds the admin endpoint
and one plain TCP socket per listener (accepts and closes), writes the ReadyFile atomically, answers the
`ping` and `apply_spec` admin ops, and exits 0 on SIGTERM.

    python fake_broker.py [--mode MODE] [--starts FILE] --config SPEC

Modes: `ok`; `crash` (exit 3 before binding); `crash-first:N` (crash the first N starts); `no-ready`
(never write the ReadyFile); `mute-after:N` (answer only the first N pings); `stubborn` (ignore SIGTERM).
`--starts FILE` gets one line per start ("<pid>"), so tests can count spawns.
A tenant named "reject" in an applied spec makes `apply_spec` fail with BAD_REQUEST.
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any


def count_start(starts: str | None) -> int:
    if starts is None:
        return 1
    with open(starts, "a", encoding="utf-8") as out:
        out.write(f"{os.getpid()}\n")
    return len(Path(starts).read_text(encoding="utf-8").splitlines())


class FakeBroker:
    def __init__(self, spec: dict[str, Any], mode: str) -> None:
        self.spec = spec
        self.mode = mode
        self.generation = 0
        self.started = time.monotonic()
        self.listeners: list[dict[str, Any]] = []
        self.pings = 0
        self.mute_after = int(mode.split(":")[1]) if mode.startswith("mute-after:") else None

    async def admin(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            request = json.loads(line)
            if request["token"] != self.spec["admin"]["token"]:
                error = {"code": "UNAUTHORIZED", "message": "bad token"}
                writer.write(json.dumps({"id": request["id"], "ok": False, "error": error}).encode() + b"\n")
                break
            if request["op"] == "ping":
                self.pings += 1
                if self.mute_after is not None and self.pings > self.mute_after:
                    continue
            writer.write(json.dumps(self.answer(request)).encode() + b"\n")
            await writer.drain()
        writer.close()

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        op, args = request["op"], request["args"]
        if op == "ping":
            tenants = [t["tenant_id"] for t in self.spec["tenants"]]
            result = {
                "pid": os.getpid(),
                "broker_id": self.spec["broker_id"],
                "uptime": time.monotonic() - self.started,
                "spec_generation": self.generation,
                "tenants": tenants,
            }
            return {"id": request["id"], "ok": True, "result": result}
        if op == "apply_spec":
            if any(t["tenant_id"] == "reject" for t in args["spec"]["tenants"]):
                error = {"code": "BAD_REQUEST", "message": "tenant 'reject' refused"}
                return {"id": request["id"], "ok": False, "error": error}
            self.spec = args["spec"]
            self.generation = args["generation"]
            result = {"listeners": self.listeners, "generation": self.generation}
            return {"id": request["id"], "ok": True, "result": result}
        error = {"code": "BAD_REQUEST", "message": f"fake broker does not implement {op}"}
        return {"id": request["id"], "ok": False, "error": error}


async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


def write_ready(path: str, ready: dict[str, Any]) -> None:
    tmp = Path(path + ".tmp")
    tmp.write_text(json.dumps(ready), encoding="utf-8")
    tmp.replace(path)


async def run(spec: dict[str, Any], mode: str) -> int:
    broker = FakeBroker(spec, mode)
    stop = asyncio.Event()
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    admin = await asyncio.start_server(broker.admin, spec["admin"]["host"], spec["admin"]["port"])
    servers = [admin]
    for listener in spec["listeners"]:
        server = await asyncio.start_server(refuse, listener["host"], listener["port"])
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        broker.listeners.append({**{k: listener[k] for k in ("name", "kind", "host")}, "port": port})
    if mode != "no-ready":
        admin_port = admin.sockets[0].getsockname()[1]
        ready = {
            "pid": os.getpid(),
            "broker_id": spec["broker_id"],
            "admin": {"name": "admin", "kind": "tcp", "host": spec["admin"]["host"], "port": admin_port},
            "listeners": broker.listeners,
        }
        write_ready(spec["ready_file"], ready)
    await stop.wait()
    for server in servers:
        server.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="ok")
    parser.add_argument("--starts")
    parser.add_argument("--config", required=True)
    args = parser.parse_args()
    start = count_start(args.starts)
    mode: str = args.mode
    if mode == "crash" or (mode.startswith("crash-first:") and start <= int(mode.split(":")[1])):
        print(f"fake broker crashing on start {start}", file=sys.stderr)
        return 3
    spec = json.loads(Path(args.config).read_text(encoding="utf-8"))
    return asyncio.run(run(spec, mode))


if __name__ == "__main__":
    sys.exit(main())
