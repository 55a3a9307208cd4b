"""The compiled broker core against the interpreted one, on the same source, in the same run.

    .venv/bin/python -m bench.mypyc_core [--rounds 2] [--runs 3] [--instructions]

Runs `bench/connect_path.py` (CPU µs per connect + close) and `bench/core_publish.py` (CPU µs per
inbound PUBLISH) in child processes, once with `MQTTCLOUD_CORE=compiled` (the venv's build from
`mqttcloud compile`; the run stops if it is missing or stale) and once with `interpreted`, the two
interleaved round after round. `--instructions` adds `connect_path.py --instructions` (callgrind)
for both: the count does not depend on the machine's other load, the times do. Prints the best of
the rounds per core and the interpreted/compiled ratio.
"""

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORES = ("interpreted", "compiled")
_NUMBER = re.compile(r"(\d[\d,]*\.?\d*)")


def _run(core: str, argv: list[str]) -> list[float]:
    """Run a bench script with MQTTCLOUD_CORE=`core`; the first number after each line's colon."""
    env = {**os.environ, "MQTTCLOUD_CORE": core}
    out = subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    numbers = []
    for line in out.splitlines():
        found = _NUMBER.search(line.split(":", 1)[-1])
        if found:
            numbers.append(float(found.group(1).replace(",", "")))
    return numbers


def figures(core: str, runs: int, clients: int) -> dict[str, float]:
    """One round of the time benchmarks for one core."""
    (connect,) = _run(core, ["bench/connect_path.py", "--runs", str(runs), "--clients", str(clients)])
    fan_in_0, fan_in_1, fan_out = _run(core, ["bench/core_publish.py"])
    return {
        "connect + close, µs CPU": connect,
        "fan-in QoS 0, µs per PUBLISH": fan_in_0,
        "fan-in QoS 1, µs per PUBLISH": fan_in_1,
        "fan-out 1→50, µs per PUBLISH": fan_out,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of each core")
    parser.add_argument("--runs", type=int, default=3, help="connect_path.py runs per round (best of)")
    parser.add_argument("--clients", type=int, default=20_000)
    parser.add_argument("--instructions", action="store_true", help="also count them under callgrind")
    ns = parser.parse_args(argv)
    results: dict[str, dict[str, list[float]]] = {core: {} for core in CORES}
    for _ in range(ns.rounds):
        for core in CORES:
            for key, value in figures(core, ns.runs, ns.clients).items():
                results[core].setdefault(key, []).append(value)
    if ns.instructions:
        for core in CORES:
            (count,) = _run(core, ["bench/connect_path.py", "--instructions"])
            results[core]["connect + close, instructions"] = [count]
    print(f"{'figure (best of rounds)':36} {'interpreted':>12} {'compiled':>12} {'ratio':>7}")
    for key, values in results["interpreted"].items():
        before, after = min(values), min(results["compiled"][key])
        digits = 0 if before >= 1000 else 2
        print(f"{key:36} {before:12,.{digits}f} {after:12,.{digits}f} {before / after:6.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
