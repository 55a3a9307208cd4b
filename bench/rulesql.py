"""Micro-benchmark of rule SQL evaluation: evaluations/s of one compiled rule on one message.

Run: `.venv/bin/python bench/rulesql.py [--number N]`. The headline case is the rule the
data-integration target is set for (`SELECT payload.temp AS t, clientid FROM "sensors/#"
WHERE payload.temp > 30`) on a JSON payload, passing and filtered; the others show what
FOREACH, functions and `SELECT *` cost. Stdlib only (timeit); figures compare between commits
on the same machine.
"""

import argparse
import json
import timeit
from collections.abc import Mapping

from mqttcloud.rulesql import parse

HEADLINE = 'SELECT payload.temp AS t, clientid FROM "sensors/#" WHERE payload.temp > 30'
OTHERS: list[tuple[str, Mapping[str, object]]] = [
    ('SELECT * FROM "sensors/#"', {"temp": 31.5}),
    ("SELECT upper(clientid) + '/' + str(payload.temp) AS k, now_timestamp('millisecond') AS ts "
     'FROM "sensors/#" WHERE payload.temp > 30 and topic =~ \'sensors/+/temp\'', {"temp": 31.5}),
    ('FOREACH payload.values AS v DO v * 2 AS d INCASE v > 1 FROM "sensors/#"', {"values": [1, 2, 3, 4]}),
]  # fmt: skip


def _columns(payload: Mapping[str, object]) -> dict[str, object]:
    return {
        "id": "0005E27C1D24E44FF440000017520000",
        "clientid": "sensor-0001",
        "username": "u",
        "payload": json.dumps(payload).encode(),
        "peerhost": "127.0.0.1",
        "topic": "sensors/room1/temp",
        "qos": 0,
        "flags": {"retain": False, "dup": False},
        "timestamp": 1700000000000,
        "publish_received_at": 1700000000000,
        "node": "mqttcloud@127.0.0.1",
    }


def _rate(sql: str, payload: Mapping[str, object], number: int) -> tuple[float, object]:
    rule = parse(sql)
    columns = _columns(payload)
    out = rule.evaluate(columns, 1.0)
    best = min(timeit.repeat(lambda: rule.evaluate(columns, 1.0), number=number, repeat=5))
    return number / best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=100_000)
    n: int = parser.parse_args().number
    decode = min(timeit.repeat(lambda: json.loads(b'{"temp": 31.5, "hum": 40}'), number=n, repeat=5))
    print(f"{'json.loads of the payload alone':<44} {n / decode:>12,.0f} /s")
    headline: list[tuple[str, Mapping[str, object]]] = [
        ("headline, passes WHERE", {"temp": 31.5, "hum": 40}),
        ("headline, filtered by WHERE", {"temp": 20.0, "hum": 40}),
    ]
    for label, sample in headline:
        rate, out = _rate(HEADLINE, sample, n)
        print(f"{label:<44} {rate:>12,.0f} evaluations/s  -> {out}")
    for sql, sample in OTHERS:
        rate, out = _rate(sql, sample, n // 2)
        print(f"{sql[:44]:<44} {rate:>12,.0f} evaluations/s  -> {str(out)[:60]}")


if __name__ == "__main__":
    main()
