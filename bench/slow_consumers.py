"""Slow consumers: a real broker's RSS with N subscribers that never read and one fast publisher.

Run: `.venv/bin/python -m bench.slow_consumers [--subscribers 4] [--seconds 5] [--qos 0|1]`.

Each subscriber connects (v5, SO_RCVBUF 4 KiB), subscribes and never reads again; a publisher sends
16 kB messages as fast as the broker takes them for `--seconds` (a thread reads its PUBACKs). The
broker's VmRSS is printed before, at its peak during the flood and 0.5 s after, twice: with the
default outbound budgets (`Limits.outbound_soft_budget` / `outbound_hard_budget` /
`tenant_outbound_budget`) and with them raised to 1 GiB ("off": a connection's write buffer is then
bounded only by the runtime's last resort, 64 MiB). Also printed: how many subscribers were closed.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench import procs

from mqttcloud import contracts

PAYLOAD = b"p" * 16_000
GIB = 1024 * 1024 * 1024


def _utf8(s: str) -> bytes:
    raw = s.encode()
    return len(raw).to_bytes(2, "big") + raw


def _packet(first: int, body: bytes) -> bytes:
    n, length = len(body), bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        length.append(digit | (0x80 if n else 0))
        if not n:
            return bytes([first]) + bytes(length) + body


def _connect(client_id: str) -> bytes:
    return _packet(0x10, _utf8("MQTT") + b"\x05\x02\x00\x3c\x00" + _utf8(client_id))


def _publish(qos: int, mid: int) -> bytes:
    pid = mid.to_bytes(2, "big") if qos else b""
    return _packet(0x30 | (qos << 1), _utf8("bench/slow") + pid + b"\x00" + PAYLOAD)


def _start(directory: Path, limits: contracts.Limits) -> tuple[subprocess.Popen[bytes], contracts.ReadyFile]:
    spec = contracts.BrokerSpec(
        broker_id="bench",
        data_dir=str(directory / "data"),
        ready_file=str(directory / "ready.json"),
        admin=contracts.AdminSpec(token="bench"),
        listeners=[
            contracts.ListenerSpec(
                name="tcp:default", kind=contracts.ListenerKind.TCP, port=0, tenant=contracts.TenantId("t")
            )
        ],
        tenants=[
            contracts.TenantSpec(tenant_id=contracts.TenantId("t"), allow_anonymous=True, limits=limits)
        ],
        sys_interval=0.0,
    )
    (directory / "spec.json").write_text(spec.model_dump_json())
    argv = [sys.executable, "-m", "mqttcloud", "broker", "--config", str(directory / "spec.json")]
    ready = directory / "ready.json"
    proc = procs.start([*argv, "--log-level", "WARNING"], directory / "broker.log", ready, timeout=20)
    time.sleep(0.1)
    return proc, contracts.ReadyFile.model_validate(json.loads(ready.read_text()))


def _subscriber(port: int, i: int, qos: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(_connect(f"slow{i}") + _packet(0x82, b"\x00\x01\x00" + _utf8("bench/slow") + bytes([qos])))
    sock.settimeout(5)
    got = b""
    while len(got) < 9:  # CONNACK (v5, >= 5 bytes) + SUBACK
        got += sock.recv(64)
    return sock


def _is_closed(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        while chunk := sock.recv(1 << 20):
            del chunk
    except BlockingIOError:
        return False
    except OSError:
        return True
    return True


def run(limits: contracts.Limits, subscribers: int, seconds: float, qos: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        proc, ready = _start(Path(tmp), limits)
        try:
            port = next(a.port for a in ready.listeners if a.name == "tcp:default")
            subs = [_subscriber(port, i, qos) for i in range(subscribers)]
            before = procs.rss_kb(proc.pid) * 1024
            pub = socket.create_connection(("127.0.0.1", port))
            pub.sendall(_connect("pub"))
            stop = threading.Event()

            def drain() -> None:
                pub.settimeout(0.2)
                while not stop.is_set():
                    try:
                        if not pub.recv(1 << 16):
                            return
                    except TimeoutError:
                        continue
                    except OSError:
                        return

            reader = threading.Thread(target=drain)
            reader.start()
            sent = 0
            peak = before
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                pub.sendall(b"".join(_publish(qos, (sent + i) % 60000 + 1) for i in range(20)))
                sent += 20
                if sent % 200 == 0:
                    peak = max(peak, procs.rss_kb(proc.pid) * 1024)
            time.sleep(0.5)
            after = procs.rss_kb(proc.pid) * 1024
            stop.set()
            reader.join()
            pub.close()
            time.sleep(2.5)  # LINGER: a cut-off subscriber's transport is aborted by then
            closed = sum(_is_closed(s) for s in subs)
            for s in subs:
                s.close()
            return {"sent": sent, "before": before, "peak": peak, "after": after, "closed": closed}
        finally:
            procs.stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--qos", type=int, choices=(0, 1), default=1)
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}, pid {os.getpid()}, {args.subscribers} subscribers, QoS {args.qos}"
    )
    base = {"max_inflight": 65535, "max_queue_len": 1_000_000} if args.qos else {}
    for name, limits in (
        ("budget", contracts.Limits(**base)),
        (
            "off",
            contracts.Limits(
                **base, outbound_soft_budget=GIB, outbound_hard_budget=GIB, tenant_outbound_budget=0
            ),
        ),
    ):
        r = run(limits, args.subscribers, args.seconds, args.qos)
        print(
            f"{name:6}: {r['sent']:>7} messages of 16 kB; RSS before {r['before'] / 2**20:.1f} MiB, "
            f"peak {r['peak'] / 2**20:.1f}, 0.5 s after {r['after'] / 2**20:.1f}; "
            f"subscribers closed {r['closed']}/{args.subscribers}"
        )


if __name__ == "__main__":
    main()
