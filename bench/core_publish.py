"""Micro-benchmark of the inbound PUBLISH path of the sans-I/O core: µs per inbound PUBLISH.

Run: `.venv/bin/python bench/core_publish.py [--rounds N] [--version 4|5] [--profile]`.

The broker core is driven in-process with pre-encoded frames, the way `runtime.connection` drives it:
one read of 100 PUBLISH packets per publisher is framed (`Framer.feed`), decoded (`decode`), handled
(`Channel.handle`) and its actions performed by a minimal runtime (each `Send` appended to the
receiving channel's buffer, joined once per round: one write per connection per tick). No sockets,
no event loop, so the figure is the core's cost only and is comparable between commits.

Scenarios (those of `bench/broker.py`):
- fan-in QoS 0:  8 publishers (`bench/<i>`) → 1 subscriber on `bench/#`.
- fan-in QoS 1:  8 QoS 1 publishers → 1 QoS 1 subscriber, which acknowledges every delivery (its
                 PUBACKs are framed, decoded and handled too: part of the per-message cost).
- fan-out QoS 0: 1 publisher → 50 subscribers on `bench/fan` (also printed per delivery).
"""

import argparse
import cProfile
import pstats
import struct
import time
from collections.abc import Callable

from mqttcloud import compiled

# Before the core is imported: MQTTCLOUD_CORE chooses it, as for `mqttcloud broker` (mqttcloud/compiled.py).
CORE = compiled.install()
from mqttcloud import contracts  # noqa: E402  (after compiled.install)
from mqttcloud.broker.actions import Action, Authenticate, ChannelId, Send  # noqa: E402  (after compiled.install)
from mqttcloud.broker.channel import Channel  # noqa: E402  (after compiled.install)
from mqttcloud.broker.core import Broker  # noqa: E402  (after compiled.install)
from mqttcloud.broker.hooks import ConnectDecision, PeerInfo  # noqa: E402  (after compiled.install)
from mqttcloud.protocol.decode import decode  # noqa: E402  (after compiled.install)
from mqttcloud.protocol.framer import Framer  # noqa: E402  (after compiled.install)

PAYLOAD = b"x" * 100
BATCH = 100  # PUBLISH packets per read, as bench/broker.py writes them


def _utf8(s: str) -> bytes:
    raw = s.encode()
    return struct.pack("!H", len(raw)) + raw


def _packet(first: int, body: bytes) -> bytes:
    n = len(body)
    header = bytearray([first])
    while True:
        b = n % 128
        n //= 128
        header.append(b | (0x80 if n else 0))
        if not n:
            break
    return bytes(header) + body


def _connect(client_id: str, version: int) -> bytes:
    props = b"\x00" if version == 5 else b""
    return _packet(0x10, _utf8("MQTT") + bytes([version, 0x02]) + b"\x00\x3c" + props + _utf8(client_id))


def _subscribe(topic: str, qos: int, version: int) -> bytes:
    props = b"\x00" if version == 5 else b""
    return _packet(0x82, b"\x00\x01" + props + _utf8(topic) + bytes([qos]))


def _publish(topic: str, qos: int, packet_id: int, version: int) -> bytes:
    props = b"\x00" if version == 5 else b""
    if qos == 0:
        return _packet(0x30, _utf8(topic) + props + PAYLOAD)
    return _packet(0x32, _utf8(topic) + struct.pack("!H", packet_id) + props + PAYLOAD)


def _puback(packet_id: int) -> bytes:
    return b"\x40\x02" + struct.pack("!H", packet_id)


class Runtime:
    """The smallest runtime that performs what the core returns: Sends go to per-channel buffers."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.now = 1_000_000.0
        spec = contracts.TenantSpec(
            tenant_id=contracts.TenantId("bench"), limits=contracts.Limits(), allow_anonymous=True
        )
        self.broker = Broker(spec, node_name="bench@127.0.0.1", now=self.now)
        self.framers: dict[ChannelId, Framer] = {}
        self.out: dict[ChannelId, list[bytes]] = {}
        self.written: dict[ChannelId, int] = {}
        self._next = 0

    def perform(self, actions: list[Action]) -> None:
        out = self.out
        for action in actions:
            if type(action) is Send:
                out[action.channel_id].append(action.data)
            elif type(action) is Authenticate:
                decision = ConnectDecision(allowed=True)
                self.perform(self.broker.connect_decided(action.channel_id, decision, self.now))

    def open(self, client_id: str) -> Channel:
        self._next += 1
        cid = ChannelId(self._next)
        peer = PeerInfo(listener="tcp:default", ip_address="127.0.0.1", port=40000 + self._next)
        ch = self.broker.open_channel(cid, peer, self.now)
        self.framers[cid] = Framer(ch.max_packet_size)
        self.out[cid] = []
        self.written[cid] = 0
        self.feed(ch, _connect(client_id, self.version))
        assert ch.is_connected, "CONNECT was not accepted"
        return ch

    def feed(self, ch: Channel, data: bytes) -> None:
        """One read: frame, decode, handle, perform (what `MqttConnection.data_received` does)."""
        now = self.now
        perform = self.perform
        for first, body in self.framers[ch.channel_id].feed(data):
            perform(ch.handle(decode(first, body, ch.protocol_version), now))

    def flush(self) -> None:
        """End of tick: one joined write per connection."""
        channels = self.broker.channels
        for cid, chunks in self.out.items():
            if chunks:
                n = len(b"".join(chunks))
                self.written[cid] += n
                chunks.clear()
                ch = channels.get(cid)
                if ch is not None:  # the socket took it all (as `MqttConnection.flush` reports it)
                    ch.flushed(n, 0)


def fan_in(rt: Runtime, qos: int) -> Callable[[], int]:
    sub = rt.open("s0")
    rt.feed(sub, _subscribe("bench/#", qos, rt.version))
    pubs = [rt.open(f"p{i}") for i in range(8)]
    rt.flush()
    chunks = [
        b"".join(_publish(f"bench/{i}", qos, n + 1, rt.version) for n in range(BATCH)) for i in range(8)
    ]
    session = sub.session
    assert session is not None
    pubacks = {pid: _puback(pid) for pid in range(1, 65536)}

    def round_() -> int:
        for ch, chunk in zip(pubs, chunks, strict=True):
            rt.feed(ch, chunk)
        rt.flush()
        while session.inflight:  # QoS 1: the subscriber keeps up, acknowledging each write in one read
            rt.feed(sub, b"".join(pubacks[pid] for pid in list(session.inflight)))
            rt.flush()
        return 8 * BATCH

    return round_


def fan_out(rt: Runtime) -> Callable[[], int]:
    for i in range(50):
        rt.feed(rt.open(f"s{i}"), _subscribe("bench/fan", 0, rt.version))
    pub = rt.open("p0")
    rt.flush()
    chunk = _publish("bench/fan", 0, 0, rt.version) * BATCH

    def round_() -> int:
        rt.feed(pub, chunk)
        rt.flush()
        return BATCH

    return round_


def measure(make: Callable[[Runtime], Callable[[], int]], version: int, rounds: int) -> float:
    """Best of 15 runs of `rounds` rounds: CPU µs (process time: the box is shared) per inbound PUBLISH."""
    best = float("inf")
    for _ in range(15):
        rt = Runtime(version)
        step = make(rt)
        step()  # warm-up (first encodings, trie paths)
        n = 0
        t0 = time.process_time()
        for _ in range(rounds):
            n += step()
        best = min(best, (time.process_time() - t0) / n * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--version", type=int, choices=(4, 5), default=4)
    parser.add_argument("--profile", choices=("fan-in-0", "fan-in-1", "fan-out"), default=None)
    args = parser.parse_args()
    cases: dict[str, Callable[[Runtime], Callable[[], int]]] = {
        "fan-in-0": lambda rt: fan_in(rt, 0),
        "fan-in-1": lambda rt: fan_in(rt, 1),
        "fan-out": fan_out,
    }
    if args.profile:
        rt = Runtime(args.version)
        step = cases[args.profile](rt)
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.rounds):
            step()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return
    v = ("v5" if args.version == 5 else "v3.1.1") + f", {CORE.kind}"
    fi0 = measure(cases["fan-in-0"], args.version, args.rounds)
    print(f"fan-in 8→1 QoS 0 ({v}):  {fi0:6.2f} µs per inbound PUBLISH")
    fi1 = measure(cases["fan-in-1"], args.version, args.rounds)
    print(f"fan-in 8→1 QoS 1 ({v}):  {fi1:6.2f} µs per inbound PUBLISH (incl. the subscriber's PUBACK)")
    fo = measure(cases["fan-out"], args.version, max(1, args.rounds // 8))
    print(f"fan-out 1→50 QoS 0 ({v}): {fo:6.2f} µs per inbound PUBLISH, {fo / 50:5.2f} µs per delivery")


if __name__ == "__main__":
    main()
