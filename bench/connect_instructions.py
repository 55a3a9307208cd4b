"""Instructions per connect + close, our broker and Debian's mosquitto, under valgrind's callgrind.

    .venv/bin/python -m bench.connect_instructions [--clients 2000] [--only ours|mosquitto] [--top 12]
                                                   [--core compiled|interpreted|both]

CPU time per connect depends on who else runs on the machine (this 2-core box is shared); the number
of instructions executed does not. Each broker runs under `valgrind --tool=callgrind` (pinned to CPU 0,
this load generator on CPU 1) and, after a warm-up, the counters are zeroed and dumped with
`callgrind_control` around two windows:

- idle: the broker does nothing for a few seconds (its timers, the event loop's polls); the rate of
  instructions per second is subtracted from the load window's count, pro rata of its length;
- load: `--clients` clients connect as `bench/connect_storm.py` does (TCP connect, 3.1.1 CONNECT with
  keep-alive 60 s, CONNACK; at most 256 handshakes in flight), then all of them reset at once, and the
  window ends once the broker's CPU time stops growing (every close handled).

Printed per broker: instructions per connect + close (user space: what callgrind sees, every thread
of the process; the kernel's accept/read/write/close are not counted), and where they go by shared
object (the Python interpreter, libc, uvloop's extension, ...), from `callgrind_annotate`.
Under callgrind a broker runs ~50x slower, so the window is a few thousand clients, not 10,000.
"""

import argparse
import functools
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvloop
from bench import broker, procs
from bench.broker import MOSQUITTO, Broker
from bench.connect_storm import CONNECT_WINDOW, connect_all, reset_all

IDLE_SECONDS = 5.0
READY_TIMEOUT = 300.0  # importing the broker under callgrind takes a while


@dataclass
class Traced:
    """A broker process running under callgrind."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    out_dir: Path

    @classmethod
    def of(cls, broker: Broker) -> "Traced":
        return cls(broker.name, broker.port, broker.proc, broker.workdir)

    def cpu_seconds(self) -> float:
        return procs.cpu_seconds(self.proc.pid)

    def control(self, *args: str) -> None:
        subprocess.run(
            ["callgrind_control", *args, str(self.proc.pid)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )

    def dump(self, label: str) -> Path:
        """Dump the counters since the last zero; returns the dump file."""
        before = set(self.out_dir.glob("cg.*"))
        self.control("--dump=" + label)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            new = set(self.out_dir.glob("cg.*")) - before
            if new:
                path = new.pop()
                time.sleep(0.5)  # let valgrind finish writing it
                return path
            time.sleep(0.1)
        raise RuntimeError("callgrind_control --dump wrote no file")

    def wait_quiet(self, step: float = 0.5, tolerance: float = 0.02) -> None:
        """Until the broker's CPU time grows by less than `tolerance` s over `step` s (work done)."""
        last = self.cpu_seconds()
        while True:
            time.sleep(step)
            now = self.cpu_seconds()
            if now - last < tolerance:
                return
            last = now

    def stop(self) -> None:
        procs.stop(self.proc, 120)


def _valgrind(out_dir: Path) -> list[str]:
    return [
        "taskset",
        "-c",
        "0",
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out_dir}/cg.%p",
        "--log-file=" + str(out_dir / "valgrind.log"),
    ]


def start_ours(workdir: Path, core: str) -> Traced:
    return Traced.of(broker.start_ours(workdir, core, _valgrind(workdir), timeout=READY_TIMEOUT))


def start_mosquitto(workdir: Path) -> Traced:
    # `user root`: run as root, mosquitto would switch to the `mosquitto` user, which can write
    # neither callgrind's dumps nor the pipes `callgrind_control` talks through.
    return Traced.of(broker.start_mosquitto(workdir, _valgrind(workdir), "user root\n", READY_TIMEOUT))


def total_instructions(dump: Path) -> int:
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {dump}")


def by_object(dump: Path) -> dict[str, int]:
    """Self instructions per shared object (the interpreter, libc, an extension...), from a dump.

    The callgrind format: `ob=` names the object of the cost lines that follow (`(id) path` the first
    time, `(id)` after), a cost line is `position Ir`, and the line after `calls=` is the inclusive
    cost of that call (already counted in the callee's own lines): skipped.
    """
    names: dict[str, str] = {}
    totals: dict[str, int] = defaultdict(int)
    current = "?"
    skip_next = False
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith(("ob=", "cob=")):
            ref, _, name = line.split("=", 1)[1].partition(" ")
            if name:
                names[ref] = Path(name).name
            if line.startswith("ob="):
                current = names.get(ref, ref)
        elif line.startswith("calls="):
            skip_next = True
        elif line[:1].isdigit() or line[:1] in "+-*":
            if skip_next:
                skip_next = False
                continue
            parts = line.split()
            if len(parts) >= 2:
                totals[current] += int(parts[1])
    return totals


async def _connect_and_reset(port: int, count: int, prefix: str) -> None:
    socks = await connect_all(port, count, CONNECT_WINDOW, prefix)
    reset_all(socks)


@dataclass
class Figures:
    name: str
    per_connect: float
    idle_per_second: float
    objects: dict[str, float]


def measure(broker: Traced, clients: int, warmup: int) -> Figures:
    uvloop.run(_connect_and_reset(broker.port, warmup, "warm"))
    broker.wait_quiet()
    broker.control("--zero")
    t0 = time.monotonic()
    time.sleep(IDLE_SECONDS)
    idle = broker.dump("idle")
    idle_rate = total_instructions(idle) / (time.monotonic() - t0)
    broker.control("--zero")
    t0 = time.monotonic()
    uvloop.run(_connect_and_reset(broker.port, clients, "load"))
    broker.wait_quiet()
    load = broker.dump("load")
    seconds = time.monotonic() - t0
    net = total_instructions(load) - idle_rate * seconds
    objects = {name: ir / clients for name, ir in by_object(load).items()}
    return Figures(broker.name, net / clients, idle_rate, objects)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=2_000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--only", choices=["ours", "mosquitto"])
    parser.add_argument("--core", choices=["compiled", "interpreted", "both"], default="both")
    parser.add_argument("--top", type=int, default=8, help="shared objects listed per broker")
    ns = parser.parse_args(argv)
    for tool in ("valgrind", "callgrind_control", "callgrind_annotate", "taskset"):
        if shutil.which(tool) is None:
            print(f"{tool} not found (Debian: apt-get install valgrind util-linux)")
            return 1
    procs.prepare_load_generator()
    starters: list[Callable[[Path], Traced]] = []
    if ns.only != "mosquitto":
        cores = ["compiled", "interpreted"] if ns.core == "both" else [ns.core]
        starters += [functools.partial(start_ours, core=core) for core in cores]
    if ns.only != "ours" and Path(MOSQUITTO).exists():
        starters.append(start_mosquitto)
    results: list[Figures] = []
    for starter in starters:
        with tempfile.TemporaryDirectory(prefix="bench-cg-") as tmp:
            traced = starter(Path(tmp))
            try:
                results.append(measure(traced, ns.clients, ns.warmup))
            finally:
                traced.stop()
    print(f"{ns.clients:,} clients connect + reset under callgrind (user-space instructions)")
    for fig in results:
        print(
            f"{fig.name:23s} {fig.per_connect:,.0f} instructions per connect + close"
            f"  (idle {fig.idle_per_second:,.0f}/s subtracted)"
        )
        for obj, ir in sorted(fig.objects.items(), key=lambda kv: -kv[1])[: ns.top]:
            print(f"    {ir:10,.0f}  {obj}")
    theirs = [fig for fig in results if fig.name == "mosquitto"]
    for fig in results:
        if theirs and fig is not theirs[0]:
            print(f"{fig.name}/mosquitto: {fig.per_connect / theirs[0].per_connect:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
