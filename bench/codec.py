"""Micro-benchmark of the PUBLISH hot path: µs per decode and encode, v3.1.1 and v5.

Run: `.venv/bin/python bench/codec.py [--number N]`. Prints one line per case; no I/O besides
stdout, stdlib only (timeit), so figures are comparable between commits on the same machine.
"""

import argparse
import timeit
from collections.abc import Callable

from mqttcloud.protocol.decode import decode
from mqttcloud.protocol.encode import encode, encode_publish_shared
from mqttcloud.protocol.framer import Framer
from mqttcloud.protocol.packets import Publish, QoS
from mqttcloud.protocol.properties import Properties


def _time(fn: Callable[[], object], number: int) -> float:
    best = min(timeit.repeat(fn, number=number, repeat=5))
    return best / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=100_000)
    args = parser.parse_args()
    n: int = args.number

    cases = [
        ("qos0 16B", Publish(topic="sensors/room1/temp", payload=b"x" * 16)),
        (
            "qos1 16B",
            Publish(topic="sensors/room1/temp", payload=b"x" * 16, qos=QoS.AT_LEAST_ONCE, packet_id=42),
        ),
        ("qos0 1KB", Publish(topic="sensors/room1/temp", payload=b"x" * 1024)),
        (
            "qos1 props",
            Publish(
                topic="sensors/room1/temp",
                payload=b"x" * 16,
                qos=QoS.AT_LEAST_ONCE,
                packet_id=42,
                properties=Properties(message_expiry_interval=60, user_properties=(("k", "v"),)),
            ),
        ),
    ]
    print(f"{'case':<12} {'ver':>4} {'decode µs':>10} {'encode µs':>10} {'frame+decode µs':>16}")
    for name, packet in cases:
        for version in (4, 5):
            if version == 4 and packet.properties.user_properties:
                continue
            data = encode(packet, version)
            first, body = Framer().feed(data)[0]
            assert decode(first, body, version) == packet
            framer = Framer()
            d = _time(lambda: decode(first, body, version), n)  # noqa: B023  # timed immediately
            e = _time(lambda: encode(packet, version), n)  # noqa: B023
            fd = _time(lambda: [decode(f, b, version) for f, b in framer.feed(data)], n)  # noqa: B023
            print(f"{name:<12} {version:>4} {d:>10.2f} {e:>10.2f} {fd:>16.2f}")

    shared = encode_publish_shared("sensors/room1/temp", b"x" * 16, qos=1, retain=False, version=5)
    once = _time(
        lambda: encode_publish_shared("sensors/room1/temp", b"x" * 16, qos=1, retain=False, version=5), n
    )
    patch = _time(lambda: shared.with_packet_id(4242), n)
    print(f"shared encode (once per message)       {once:>6.2f} µs")
    print(f"per-subscriber QoS 1 packet id patch    {patch:>6.2f} µs")


if __name__ == "__main__":
    main()
