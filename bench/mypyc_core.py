"""Experiment: the sans-I/O core compiled with mypyc, against the same source interpreted.

    .venv/bin/python -m bench.mypyc_core [--rounds 2] [--instructions] [--also MODULE ...]

Copies `src/` and `pyproject.toml` twice into a temporary directory, and compiles one copy's
`mqttcloud.protocol`, `mqttcloud.broker` and `mqttcloud.runtime.connection` with this venv's mypyc
(gcc and the Python headers needed; `--also` adds more modules). Then runs `bench/connect_path.py`
(CPU µs per connect + close) and `bench/core_publish.py` (CPU µs per inbound PUBLISH) in child
processes, the two builds interleaved round after round, each child with PYTHONPATH naming its own
copy. `--instructions` adds `connect_path.py --instructions` (callgrind) for both builds: the count
does not depend on the machine's other load, the times do. Prints the best of the rounds per build
and the interpreted/compiled ratio. Nothing is installed: the repository's `src/` is only read.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ("mqttcloud.protocol", "mqttcloud.broker", "mqttcloud.runtime.connection")
_NUMBER = re.compile(r"(\d[\d,]*\.?\d*)")


def _module_path(module: str, src: Path) -> str:
    """`mqttcloud.broker` → `src/mqttcloud/broker` (a package), or `.../connection.py` (a module)."""
    rel = Path(*module.split("."))
    if (src / rel).is_dir():
        return str(Path("src") / rel)
    return str(Path("src") / rel.with_suffix(".py"))


def copy_source(workdir: Path) -> Path:
    """A copy of the repository's pure-Python source (no extension left by an in-place build)."""
    src = workdir / "src"
    shutil.copytree(ROOT / "src", src, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    shutil.copy(ROOT / "pyproject.toml", workdir / "pyproject.toml")
    return src


def build(modules: list[str], workdir: Path) -> tuple[Path, float]:
    """Compile `modules` in a copy of the source under `workdir`; its `src/` and the build seconds."""
    src = copy_source(workdir)
    paths = [_module_path(m, src) for m in modules]
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "mypyc", *paths],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"mypyc failed ({done.returncode})")
    return src, time.monotonic() - t0


def _run(src: Path, argv: list[str]) -> list[float]:
    """Run a bench script with `src` first on the path; the first number of each output line."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    numbers = []
    for line in out.splitlines():
        found = _NUMBER.search(line.split(":", 1)[-1])
        if found:
            numbers.append(float(found.group(1).replace(",", "")))
    return numbers


def figures(src: Path, runs: int, clients: int) -> dict[str, float]:
    """One round of the time benchmarks for one build."""
    (connect,) = _run(src, ["bench/connect_path.py", "--runs", str(runs), "--clients", str(clients)])
    fan_in_0, fan_in_1, fan_out = _run(src, ["bench/core_publish.py"])
    return {
        "connect + close, µs CPU": connect,
        "fan-in 8→1 QoS 0, µs/PUBLISH": fan_in_0,
        "fan-in 8→1 QoS 1, µs/PUBLISH": fan_in_1,
        "fan-out 1→50 QoS 0, µs/PUBLISH": fan_out,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of each build")
    parser.add_argument("--runs", type=int, default=3, help="connect_path.py runs per round (best of)")
    parser.add_argument("--clients", type=int, default=20_000)
    parser.add_argument("--instructions", action="store_true", help="also count them under callgrind")
    parser.add_argument("--also", nargs="*", default=[], help="more modules to compile")
    ns = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-mypyc-") as tmp:
        compiled, seconds = build([*CORE, *ns.also], Path(tmp) / "mypyc")
        print(f"compiled {', '.join([*CORE, *ns.also])} in {seconds:.0f} s")
        builds = {"interpreted": copy_source(Path(tmp) / "interpreted"), "mypyc": compiled}
        results: dict[str, dict[str, list[float]]] = {name: {} for name in builds}
        for _ in range(ns.rounds):
            for name, src in builds.items():
                for key, value in figures(src, ns.runs, ns.clients).items():
                    results[name].setdefault(key, []).append(value)
        if ns.instructions:
            for name, src in builds.items():
                (count,) = _run(src, ["bench/connect_path.py", "--instructions"])
                results[name]["connect + close, instructions"] = [count]
    print(f"{'figure (best of rounds)':36} {'interpreted':>12} {'mypyc':>12} {'ratio':>7}")
    for key, values in results["interpreted"].items():
        before, after = min(values), min(results["mypyc"][key])
        digits = 0 if before >= 1000 else 2
        print(f"{key:36} {before:12,.{digits}f} {after:12,.{digits}f} {before / after:6.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
