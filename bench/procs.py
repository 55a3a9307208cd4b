"""The processes a benchmark runs: start one until it is ready, pin it to a CPU, read its CPU time and
memory from /proc, stop it; and free ports on 127.0.0.1.

Rules: a process that cannot start raises with its log (it never hangs a run, and the log says why);
stopping is SIGTERM, then SIGKILL past a deadline, so no bench leaves a process behind. Stdlib only:
importing it costs a bench nothing.
"""

import os
import resource
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pin(cpu: int) -> list[str]:
    """The argv prefix that runs a command on CPU `cpu` (`taskset`), [] where that is not possible."""
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


def prepare_load_generator() -> bool:
    """Raise this process's open-file limit to the hard one (the brokers it starts inherit it) and move
    it to CPU 1, CPU 0 being the broker's (`pin(0)`); False when it cannot be pinned."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if not pin(1):
        return False
    os.sched_setaffinity(0, {1})
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(
    argv: list[str],
    log: Path,
    ready: Path,
    *,
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
    poll: float = 0.05,
) -> subprocess.Popen[bytes]:
    """Run `argv` from the repository root, its stdout and stderr in `log`, until it writes `ready`.

    Raises: RuntimeError with the log when it exits first or `timeout` seconds pass.
    """
    ready.unlink(missing_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError(f"{' '.join(argv)} did not start:\n{log.read_text()}")
        time.sleep(poll)
    return proc


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Until something accepts connections on 127.0.0.1:`port`. Raises: RuntimeError when `proc`
    exits first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"broker exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("broker did not start listening")


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL when `proc` has not exited after `timeout` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process (all its threads) has used so far: a cost that other load on
    the machine changes less than rates."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    """A process's resident memory, kB (0 when /proc does not say)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
