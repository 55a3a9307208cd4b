"""Serverless benchmark: many tenants on the one shared TLS listener, tenants told apart by SNI.

    .venv/bin/python -m bench.serverless [--tenants 100] [--conns 50] [--seconds 20] [--noisy 0]

One broker process (`mqttcloud broker --config`, pinned to CPU 0 with taskset when available) runs a
multi-tenant BrokerSpec: one TLS listener with the SNI selector, a wildcard certificate from a fresh
platform CA, and `--tenants` tenants with the Serverless limits of `control/deployments/spec_builder.py`
(deployment TPS 1000/s as `max_tenant_rate`). The per-client publish quota (10/s) is lifted here: with it
the load could never reach the process's capacity, and fairness is only interesting under saturation.

Each tenant opens `--conns` TLS connections presenting `t<NNN>.bench.test` as SNI (raw `ssl` sockets,
pre-encoded MQTT 3.1.1 packets, this process pinned to CPU 1): one subscriber on `b/#` and publishers on
`b/t`, QoS 0, 16-byte payloads. Publishing is closed-loop per tenant: a tenant writes more only while
fewer than WINDOW of its messages are in flight (sent, not yet delivered), so what is measured is what
the broker delivers per tenant, not what it can buffer. `--noisy K` gives the first K tenants a window
and batches 10x larger: they try to take more than their share.

Reported: connections/s while connecting, broker RSS per connection (after every CONNACK, before
traffic), total delivered msgs/s over the measurement window, per-tenant rates (min / median / max)
and the slowest tenant's share of the fair share (total / tenants; the target is at least 50%).
The whole run is bounded to about two minutes.
"""

import argparse
import concurrent.futures
import contextlib
import errno
import os
import resource
import selectors
import shutil
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import procs

from mqttcloud import contracts
from mqttcloud.control.deployments.spec_builder import SERVERLESS_LIMITS
from mqttcloud.control.pki import load_or_create_ca

DOMAIN = "bench.test"
USER, PASSWORD = "bench", "bench-password"
PAYLOAD = b"p" * 16
TOPIC = "b/t"
WINDOW = 200  # messages in flight per tenant
BATCH = 10  # publishes per write
WARMUP = 5.0
CONNECT_BUDGET = 75.0  # seconds allowed for all handshakes + CONNACKs
HANDSHAKE_THREADS = 8


def _utf8(s: str) -> bytes:
    raw = s.encode()
    return struct.pack("!H", len(raw)) + raw


def _packet(first: int, body: bytes) -> bytes:
    n, out = len(body), bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            break
    return bytes([first]) + bytes(out) + body


def connect_packet(client_id: str) -> bytes:
    body = _utf8("MQTT") + bytes([4, 0xC2]) + struct.pack("!H", 120) + _utf8(client_id)
    return _packet(0x10, body + _utf8(USER) + _utf8(PASSWORD))


SUBSCRIBE = _packet(0x82, struct.pack("!H", 1) + _utf8("b/#") + b"\x00")
PUBLISH = _packet(0x30, _utf8(TOPIC) + PAYLOAD)  # v3.1.1 QoS 0: delivered byte for byte
CONNACK_OK = b"\x20\x02\x00\x00"
SUBACK_OK = b"\x90\x03\x00\x01\x00"


# ----------------------------------------------------------------------------------------- broker


def broker_spec(directory: Path, tenants: int) -> tuple[contracts.BrokerSpec, str]:
    ca = load_or_create_ca(directory / "pki")
    cert_pem, key_pem = ca.issue_server_cert([f"*.{DOMAIN}"])
    user = contracts.UserRecord(
        user_id=USER, password_hash=PASSWORD, algorithm=contracts.HashAlgorithm.PLAIN, salt=""
    )
    limits = SERVERLESS_LIMITS.model_copy(
        update={"max_publish_rate": 0.0, "max_tenant_rate": 1000.0, "max_connections": 1000}
    )
    spec = contracts.BrokerSpec(
        broker_id="serverless-bench",
        data_dir=str(directory / "data"),
        ready_file=str(directory / "ready.json"),
        admin=contracts.AdminSpec(token="bench"),
        listeners=[
            contracts.ListenerSpec(
                name="ssl:default",
                kind=contracts.ListenerKind.TLS,
                port=0,
                tenant_selector=contracts.TenantSelector.SNI,
            )
        ],
        tls=contracts.TlsSpec(cert_pem=cert_pem, key_pem=key_pem),
        tenants=[
            contracts.TenantSpec(
                tenant_id=contracts.TenantId(f"t{i:03d}"),
                sni_hosts=[f"t{i:03d}.{DOMAIN}"],
                users=[user],
                limits=limits,
            )
            for i in range(tenants)
        ],
        sys_interval=0.0,
    )
    return spec, ca.ca_pem


def start_broker(
    spec: contracts.BrokerSpec, directory: Path, *, pin: bool
) -> tuple[subprocess.Popen[bytes], int]:
    spec_path = directory / "spec.json"
    spec_path.write_text(spec.model_dump_json())
    argv = [sys.executable, "-m", "mqttcloud", "broker", "--config", str(spec_path), "--log-level", "WARNING"]
    if pin:
        argv = ["taskset", "-c", "0", *argv]
    ready = Path(spec.ready_file)
    proc = procs.start(argv, directory / "broker.log", ready)
    port = contracts.ReadyFile.model_validate_json(ready.read_text()).listeners[0].port
    return proc, port


# ----------------------------------------------------------------------------------------- load


@dataclass(eq=False)
class Conn:
    sock: ssl.SSLSocket
    tenant: int
    subscriber: bool
    expect: bytes  # CONNACK (+ SUBACK) still to be read
    pending: bytes = b""  # bytes a non-blocking write could not take yet
    received: int = 0


@dataclass
class Tenant:
    index: int
    window: int
    batch: int
    subscriber: Conn | None = None
    publishers: list[Conn] = field(default_factory=list)
    next_pub: int = 0
    sent: int = 0
    delivered_bytes: int = 0

    @property
    def delivered(self) -> int:
        return self.delivered_bytes // len(PUBLISH)


class Load:
    def __init__(self, port: int, ca_pem: str, tenants: int, conns: int, noisy: int) -> None:
        self.port = port
        self.ctx = ssl.create_default_context(cadata=ca_pem)
        self.sel = selectors.DefaultSelector()
        self.tenants = [
            Tenant(i, WINDOW * (10 if i < noisy else 1), BATCH * (10 if i < noisy else 1))
            for i in range(tenants)
        ]
        self.conns_per_tenant = conns
        self.ready = 0
        self.failed = 0

    def _open(self, tenant: Tenant, c: int) -> Conn:
        """One blocking TLS handshake with the tenant's SNI, then CONNECT (+ SUBSCRIBE) unanswered."""
        subscriber = c == 0
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock = self.ctx.wrap_socket(raw, server_hostname=f"t{tenant.index:03d}.{DOMAIN}")
        sock.sendall(connect_packet(f"c{c}") + (SUBSCRIBE if subscriber else b""))
        sock.setblocking(False)
        return Conn(sock, tenant.index, subscriber, CONNACK_OK + (SUBACK_OK if subscriber else b""))

    def open_all(self) -> float:
        """Open every connection (handshakes in threads: OpenSSL releases the GIL); returns the seconds."""
        started = time.monotonic()
        jobs = [(tenant, c) for c in range(self.conns_per_tenant) for tenant in self.tenants]
        with concurrent.futures.ThreadPoolExecutor(HANDSHAKE_THREADS) as pool:
            for conn in pool.map(lambda job: self._open(*job), jobs, timeout=CONNECT_BUDGET):
                tenant = self.tenants[conn.tenant]
                if conn.subscriber:
                    tenant.subscriber = conn
                else:
                    tenant.publishers.append(conn)
                self.sel.register(conn.sock, selectors.EVENT_READ, conn)
        total = len(self.tenants) * self.conns_per_tenant
        deadline = time.monotonic() + 30
        while self.ready + self.failed < total and time.monotonic() < deadline:
            self.poll(0.05, publish=False)
        if self.ready < total:
            raise RuntimeError(f"{self.ready} of {total} connections accepted ({self.failed} closed)")
        return time.monotonic() - started

    def _read(self, conn: Conn) -> None:
        while True:
            try:
                data = conn.sock.recv(262144)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                return
            except OSError:
                data = b""
            if not data:
                self.sel.unregister(conn.sock)
                self.failed += 1
                return
            if conn.expect:
                head, data = data[: len(conn.expect)], data[len(conn.expect) :]
                if not conn.expect.startswith(head):
                    raise RuntimeError(f"tenant {conn.tenant}: unexpected answer {head.hex()}")
                conn.expect = conn.expect[len(head) :]
                if not conn.expect:
                    self.ready += 1
            if conn.subscriber and data:
                self.tenants[conn.tenant].delivered_bytes += len(data)

    def _write(self, conn: Conn, data: bytes) -> None:
        data = conn.pending + data
        try:
            sent = conn.sock.send(data)
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
            sent = 0
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                raise
            sent = 0
        conn.pending = data[sent:]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.pending else 0)
        self.sel.modify(conn.sock, events, conn)

    def publish_round(self) -> None:
        for tenant in self.tenants:
            pubs = tenant.publishers
            tries = 0
            while tenant.sent - tenant.delivered < tenant.window and tries < len(pubs):
                conn = pubs[tenant.next_pub]
                tenant.next_pub = (tenant.next_pub + 1) % len(pubs)
                tries += 1
                if conn.pending:
                    continue
                self._write(conn, PUBLISH * tenant.batch)
                tenant.sent += tenant.batch

    def poll(self, timeout: float, *, publish: bool = True) -> None:
        if publish:
            self.publish_round()
        for key, mask in self.sel.select(timeout):
            conn: Conn = key.data
            if mask & selectors.EVENT_READ:
                self._read(conn)
            if mask & selectors.EVENT_WRITE and conn.pending:
                self._write(conn, b"")

    def run(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.poll(0.002)

    def close(self) -> None:
        for key in list(self.sel.get_map().values()):
            with contextlib.suppress(OSError):
                key.fileobj.close()  # type: ignore[union-attr]  # every registered object is a socket
        self.sel.close()


# ----------------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--conns", type=int, default=50, help="connections per tenant (1 subscriber)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window")
    parser.add_argument("--noisy", type=int, default=0, help="tenants with a 10x window and batch")
    parser.add_argument("--no-pin", action="store_true", help="do not pin broker and load to CPUs 0 and 1")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = args.tenants * args.conns * 2 + 1024
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(needed, soft)), hard))
    pin = shutil.which("taskset") is not None and not args.no_pin
    if pin:
        os.sched_setaffinity(0, {1})
    with tempfile.TemporaryDirectory(prefix="mqttcloud-serverless-bench-") as tmp:
        directory = Path(tmp)
        spec, ca_pem = broker_spec(directory, args.tenants)
        proc, port = start_broker(spec, directory, pin=pin)
        load = Load(port, ca_pem, args.tenants, args.conns, args.noisy)
        try:
            time.sleep(1.0)  # let the broker settle before the baseline
            rss_before = procs.rss_kb(proc.pid) * 1024
            took = load.open_all()
            total_conns = args.tenants * args.conns
            rss_after = procs.rss_kb(proc.pid) * 1024
            print(
                f"connected {total_conns} TLS connections ({args.tenants} tenants x {args.conns}) "
                f"in {took:.1f} s ({total_conns / took:.0f}/s)"
            )
            print(
                f"broker RSS {rss_before / 2**20:.1f} MiB -> {rss_after / 2**20:.1f} MiB: "
                f"{(rss_after - rss_before) / total_conns / 1024:.1f} KiB per connection"
            )
            load.run(WARMUP)
            start = [t.delivered for t in load.tenants]
            cpu_start, own_start = procs.cpu_seconds(proc.pid), time.process_time()
            began = time.monotonic()
            load.run(args.seconds)
            elapsed = time.monotonic() - began
            cpu = (procs.cpu_seconds(proc.pid) - cpu_start) / elapsed
            own_cpu = (time.process_time() - own_start) / elapsed
            rates = [(t.delivered - s) / elapsed for t, s in zip(load.tenants, start, strict=True)]
            if load.failed:
                print(f"WARNING: {load.failed} connections were closed by the broker during the run")
        finally:
            load.close()
            procs.stop(proc, 15)
    total = sum(rates)
    fair = total / len(rates)
    quiet = rates[args.noisy :] or rates
    slowest = min(quiet)
    print(
        f"delivered {total:,.0f} msgs/s in total over {elapsed:.1f} s (tenant rate cap 1000 msgs/s); "
        f"CPU: broker {cpu:.0%}, load generator {own_cpu:.0%} of one core"
    )
    print(
        f"per tenant msgs/s: min {min(rates):,.0f}  median {statistics.median(rates):,.0f}  "
        f"max {max(rates):,.0f}; fair share {fair:,.0f}"
    )
    if args.noisy:
        noisy = rates[: args.noisy]
        print(f"noisy tenants ({args.noisy}): {', '.join(f'{r:,.0f}' for r in noisy)} msgs/s")
    share = slowest / fair if fair else 0.0
    print(f"slowest {'quiet ' if args.noisy else ''}tenant: {share:.0%} of the fair share (target >= 50%)")
    return 0 if share >= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
