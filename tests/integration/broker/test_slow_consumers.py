"""Slow consumers against a real broker: outbound budgets bound its memory, the slow client is cut off
with DISCONNECT 0x97, and a client that keeps writing after our DISCONNECT still reads it whole."""

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.integration.broker import mqtt_wire as w
from tests.integration.broker.harness import TENANT, BrokerProcess, make_spec

from mqttcloud import contracts

PAYLOAD = b"p" * 16_000
MIB = 1024 * 1024


def rss(proc: BrokerProcess) -> int:
    assert proc.proc is not None
    for line in Path(f"/proc/{proc.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def spec_with(tmp_path: Path, limits: contracts.Limits) -> contracts.BrokerSpec:
    tenant = contracts.TenantSpec(tenant_id=TENANT, allow_anonymous=True, limits=limits)
    return make_spec(tmp_path, tenants=[tenant])


def never_reading_subscriber(port: int, client_id: str, qos: int) -> socket.socket:
    """A v5 subscriber with a small receive buffer that stops reading after its SUBACK."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5.0)
    sock.connect(("127.0.0.1", port))
    sock.sendall(w.connect(client_id, version=5) + w.subscribe(1, "slow/t", qos, version=5))
    got = b""
    while b"\x90" not in got[4:]:  # CONNACK, then SUBACK
        got += sock.recv(64)
    return sock


def flood(port: int, seconds: float) -> int:
    """Publish 16 kB QoS 1 messages for `seconds` (PUBACKs read by a thread); returns how many."""
    pub = w.connected(port, "slow-pub", version=5)
    stop = threading.Event()

    def drain() -> None:
        pub.sock.settimeout(0.2)
        while not stop.is_set():
            try:
                if not pub.sock.recv(65536):
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    reader = threading.Thread(target=drain)
    reader.start()
    sent = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            pub.sock.sendall(
                b"".join(
                    w.publish("slow/t", PAYLOAD, qos=1, mid=(sent + i) % 60000 + 1, version=5)
                    for i in range(20)
                )
            )
            sent += 20
    finally:
        stop.set()
        reader.join()
        pub.close()
    return sent


def read_to_end(sock: socket.socket, within: float = 10.0) -> tuple[bytes, bool]:
    """Everything until the broker closes (True) or `within` passes (False)."""
    data = b""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(1 << 20)
        except TimeoutError:
            return data, False
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def test_slow_v5_subscribers_are_cut_off_with_0x97_and_rss_stays_bounded(
    broker_factory: Callable[[contracts.BrokerSpec], BrokerProcess], tmp_path: Path
) -> None:
    proc = broker_factory(spec_with(tmp_path, contracts.Limits(max_inflight=65535, max_queue_len=100_000)))
    port = proc.port()
    slow = [never_reading_subscriber(port, f"slow{i}", qos=1) for i in range(4)]
    before = rss(proc)
    sent = flood(port, 3.0)
    after = rss(proc)
    assert sent * len(PAYLOAD) > 4 * 8 * MIB, "the publisher did not outrun the 4 budgets"
    # 4 x 8 MiB hard budgets plus what the kernel and the allocator keep: far from the 64 MiB each before
    assert after - before < 64 * MIB, (before, after)
    for sock in slow:
        data, closed = read_to_end(sock)
        assert closed, "the slow consumer was not disconnected"
        # the stream ends with DISCONNECT 0x97 (Quota exceeded) when it was read in time
        if data:
            assert b"\xe0" in data[-200:], data[-200:].hex()
            tail = data[data.rindex(b"\xe0") :]
            assert tail[2] == 0x97, tail.hex()
        sock.close()


def test_client_writing_after_our_disconnect_reads_it_whole(
    broker_factory: Callable[[contracts.BrokerSpec], BrokerProcess], tmp_path: Path
) -> None:
    """A graceful close: the broker's DISCONNECT 0x97 (from a client over its hard budget) is not lost
    to a TCP reset although the client keeps sending PINGREQs after it."""
    proc = broker_factory(spec_with(tmp_path, contracts.Limits()))
    port = proc.port()
    client = w.connected(port, "chatty", version=5)
    client.send(w.subscribe(1, "chatty/t", 0, version=5))
    client.recv_packet()  # SUBACK
    client.send(w.publish("chatty/t", b"x" * 80, version=5)[:2] + b"\x00")  # malformed: topic cut short
    client.sock.setblocking(False)
    # It keeps writing for 0.5 s before it reads: a broker that closes with this unread input resets
    # the connection, and the reset discards the DISCONNECT waiting in the client's receive buffer.
    until = time.monotonic() + 0.5
    send_failed: OSError | None = None
    while time.monotonic() < until and send_failed is None:
        try:
            client.sock.send(w.PINGREQ * 64)
        except BlockingIOError:
            pass
        except OSError as exc:  # EPIPE / ECONNRESET: the broker reset the connection
            send_failed = exc
        time.sleep(0.01)
    data, reset = b"", False
    client.sock.settimeout(5.0)
    try:
        while chunk := client.sock.recv(4096):
            data += chunk
    except ConnectionResetError:
        reset = True
    client.close()
    disconnect = data[data.index(b"\xe0") :] if b"\xe0" in data else b""
    assert disconnect[:1] == b"\xe0", (data.hex(), reset)
    assert disconnect[2] == 0x81, disconnect.hex()  # Malformed Packet, read whole
    assert send_failed is None, send_failed  # the broker read (and discarded) what came after
    assert not reset  # then an orderly close: FIN, no reset
