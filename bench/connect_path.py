"""Micro-benchmark of the runtime's connection setup path: CPU µs per connect, no sockets.

    .venv/bin/python bench/connect_path.py [--clients 20000] [--profile] [--instructions]

One tenant's runtime (Hub, TenantRuntime, ListenerRuntime: what `runtime.main` builds) inside a uvloop
loop, driven through `MqttConnection` with a transport that keeps what it is given: per client,
`connection_made`, one read holding a 3.1.1 CONNECT (clean session, keep-alive 60 s), the end-of-tick
flush (its CONNACK), then `connection_lost`, in batches of 256 open connections. The figure is the
Python cost of a connect and its close, without the kernel's (accept, read, write, close), so it is
comparable between commits; `bench/connect_storm.py` measures the whole against mosquitto, and
`bench/connect_instructions.py` counts instructions. The heap is settled as `mqttcloud broker` does
after startup (`gc.freeze`, its young-generation threshold), so the GC costs what it costs there.

The broker core is the one `MQTTCLOUD_CORE` chooses, as for `mqttcloud broker` (auto: the compiled
core when `mqttcloud compile` built it from this source); the output says which ran.

`--instructions` runs this script twice under `valgrind --tool=callgrind`, with INSTR_CLIENTS[0] and
INSTR_CLIENTS[1] clients, and prints the difference of the two totals per extra client: instructions
per connect + close with startup cancelled out, the same whatever else runs on the machine.
"""

import argparse
import asyncio
import concurrent.futures
import cProfile
import gc
import pstats
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uvloop

from mqttcloud import compiled

# Before the core is imported: MQTTCLOUD_CORE chooses it, as for `mqttcloud broker` (mqttcloud/compiled.py).
CORE = compiled.install()
from mqttcloud import contracts  # noqa: E402  (after compiled.install)
from mqttcloud.runtime.connection import MqttConnection  # noqa: E402  (after compiled.install)
from mqttcloud.runtime.hub import Hub  # noqa: E402  (after compiled.install)
from mqttcloud.runtime.listeners import ListenerRuntime  # noqa: E402  (after compiled.install)
from mqttcloud.runtime.main import GC_YOUNG_THRESHOLD  # noqa: E402  (after compiled.install)
from mqttcloud.runtime.store import Store  # noqa: E402  (after compiled.install)
from mqttcloud.runtime.tenants import TenantRegistry, TenantRuntime  # noqa: E402  (after compiled.install)

TENANT = contracts.TenantId("bench")
BATCH = 256  # connections open at once (the handshakes in flight of bench/connect_storm.py)
INSTR_CLIENTS = (1_024, 3_072)  # the two runs of --instructions (multiples of BATCH)


def connect_packet(client_id: str) -> bytes:
    raw = client_id.encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + struct.pack("!H", len(raw)) + raw
    return bytes([0x10, len(body)]) + body


class Transport(asyncio.Transport):
    """A TCP transport that accepts every write at once (nothing stays buffered)."""

    def __init__(self, peer: tuple[str, int]) -> None:
        super().__init__()
        self.peer = peer
        self.written = 0
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += len(data)

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self.peer if name == "peername" else default

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def run(clients: int, data_dir: Path) -> float:
    """CPU µs per connect + close over `clients` clients."""
    hub = Hub()
    store = Store.open(data_dir / "store")
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    spec = contracts.TenantSpec(tenant_id=TENANT, limits=contracts.Limits(), allow_anonymous=True)
    tenant = TenantRuntime(
        spec, hub=hub, store=store, node_name="n", sys_interval=0.0, auth_executor=executor
    )
    registry = TenantRegistry()
    registry.by_id[TENANT] = tenant
    listener_spec = contracts.ListenerSpec(
        name="tcp:default", kind=contracts.ListenerKind.TCP, port=0, tenant=TENANT
    )
    listener = ListenerRuntime(listener_spec, registry)
    packets = [connect_packet(f"c-{i}") for i in range(clients)]
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    try:
        t0 = time.process_time()
        for start in range(0, clients, BATCH):
            batch: list[tuple[MqttConnection, Transport]] = []
            for i in range(start, min(clients, start + BATCH)):
                conn = MqttConnection(hub, listener)
                transport = Transport(("127.0.0.1", 10000 + i % 50000))
                conn.connection_made(transport)
                conn.data_received(packets[i])
                batch.append((conn, transport))
            hub.flush()  # the end of the loop iteration: one write per connection (its CONNACK)
            for conn, transport in batch:
                assert transport.written == 4, "no CONNACK"
                conn.connection_lost(None)
        return (time.process_time() - t0) / clients * 1e6
    finally:
        executor.shutdown(wait=True)
        store.close_sync()


def callgrind_total(clients: int, out_dir: Path) -> int:
    """Instructions callgrind counts for one whole run of this script with `clients` clients."""
    out = out_dir / f"cg.{clients}"
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            "--log-file=" + str(out_dir / "valgrind.log"),
            sys.executable,
            __file__,
            "--runs",
            "1",
            "--clients",
            str(clients),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    for line in out.read_text(errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {out}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--instructions", action="store_true", help="count them under callgrind")
    ns = parser.parse_args(argv)
    if ns.instructions:
        with tempfile.TemporaryDirectory(prefix="bench-connect-path-cg-") as tmp:
            small, large = (callgrind_total(n, Path(tmp)) for n in INSTR_CLIENTS)
        per = (large - small) / (INSTR_CLIENTS[1] - INSTR_CLIENTS[0])
        counted = f"callgrind, {INSTR_CLIENTS} clients"
        print(f"connect + close ({CORE.kind}): {per:,.0f} instructions per client ({counted})")
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-connect-path-") as tmp:
        if ns.profile:
            prof = cProfile.Profile()
            prof.enable()
            uvloop.run(run(ns.clients, Path(tmp)))
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(30)
            return 0
        best = min(uvloop.run(run(ns.clients, Path(tmp) / str(i))) for i in range(ns.runs))
    runs = f"best of {ns.runs} runs of {ns.clients:,}"
    print(f"connect + close ({CORE.kind}): {best:.1f} µs CPU per client ({runs})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
