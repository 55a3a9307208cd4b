"""Broker processes: spawn, wait until ready, signal, reap. No policy lives here.

Each broker gets a directory `<run_dir>/<broker_id>/` holding `spec.json` (the BrokerSpec it starts with,
mode 0600: it carries the admin token and TLS keys) and `broker.log` (the child's stdout and stderr,
appended across restarts, rotated once past 16 MiB). The child is
`sys.executable -m mqttcloud broker --config <dir>/spec.json` in a new session (so its own process
group): a Ctrl-C in the platform's terminal reaches the platform only, and the supervisor stops the
brokers in order.

A broker left running by a platform that died (kill -9) is found by its ReadyFile: `adopt` takes it
over when it runs exactly the desired spec (its `spec.json` equals it), otherwise `spawn` stops it first.
An adopted process is not our child: it is watched through a pidfd and its exit code is unknown (-1).

Rules this module must not break:
- argv lists only, never a shell; the broker id is checked to be one safe path component.
- Every wait has a deadline, and every process started here is reaped by `terminate` or `wait`.
- A broker inherits only stdin/stdout/stderr: no platform socket or file. uvloop ignores `close_fds`,
  so `spawn` first clears the inheritable flag of every other descriptor of the platform.
"""

import asyncio
import contextlib
import json
import logging
import os
import re
import select
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from mqttcloud.contracts import BrokerSpec, ReadyFile

logger = logging.getLogger(__name__)

SPEC_FILE = "spec.json"
LOG_FILE = "broker.log"
MAX_LOG_BYTES = 16 * 1024 * 1024  # checked at each spawn; one older log is kept as broker.log.1
DEFAULT_COMMAND: tuple[str, ...] = (sys.executable, "-m", "mqttcloud", "broker")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_POLL_INTERVAL = 0.05


class StartError(Exception):
    """The broker did not come up: it exited, or no valid ReadyFile appeared before the deadline."""


class StartAborted(Exception):  # noqa: N818  (not an error: the caller asked for it)
    """Waiting for the broker was abandoned because the caller wants it stopped."""


@dataclass(slots=True)
class BrokerProcess:
    """A broker process: our child (`process`), or one adopted from a dead platform (`pidfd`)."""

    broker_id: str
    process: asyncio.subprocess.Process | None
    directory: Path
    started_at: float = field(default_factory=time.monotonic)
    adopted_pid: int = 0
    pidfd: int | None = None
    _exited: bool = False
    _exit: asyncio.Future[None] | None = None

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else self.adopted_pid

    @property
    def is_adopted(self) -> bool:
        return self.process is None

    @property
    def returncode(self) -> int | None:
        if self.process is not None:
            return self.process.returncode
        if not self._exited and self.pidfd is not None and _pidfd_exited(self.pidfd):
            self._mark_exited()
        return -1 if self._exited else None

    @property
    def log_path(self) -> Path:
        return self.directory / LOG_FILE

    def send_signal(self, sig: int) -> None:
        if self.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            if self.process is not None:
                self.process.send_signal(sig)
            elif self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, sig)

    async def wait(self) -> int:
        """Wait for the process to end; an adopted one's exit code is unknown and reported as -1."""
        if self.process is not None:
            return await self.process.wait()
        if self.pidfd is None or self._exited:
            return -1
        if self._exit is None:
            loop = asyncio.get_running_loop()
            exit_future: asyncio.Future[None] = loop.create_future()
            pidfd = self.pidfd

            def exited() -> None:  # a pidfd becomes readable when its process ends
                loop.remove_reader(pidfd)
                if not exit_future.done():
                    exit_future.set_result(None)
                self._mark_exited()

            loop.add_reader(pidfd, exited)
            self._exit = exit_future
        await asyncio.shield(self._exit)  # several waiters share one reader; one cancelled is not all
        return -1

    def _mark_exited(self) -> None:
        self._exited = True
        if self._exit is not None and not self._exit.done():
            return  # the registered reader fires soon and closes the pidfd
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


def _pidfd_exited(pidfd: int) -> bool:
    readable, _, _ = select.select([pidfd], [], [], 0)
    return bool(readable)


def broker_dir(run_dir: Path, broker_id: str) -> Path:
    """`<run_dir>/<broker_id>`; raises ValueError for an id that is not one safe path component."""
    if not _SAFE_ID.fullmatch(broker_id):
        raise ValueError(f"broker id {broker_id!r} is not a safe directory name")
    return run_dir / broker_id


def write_spec(directory: Path, spec: BrokerSpec) -> Path:
    """Write `spec.json` atomically (temp file + rename), readable by the owner only."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / SPEC_FILE
    tmp = directory / f".{SPEC_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(spec.model_dump_json(indent=2))
    os.replace(tmp, path)
    return path


def _open_log(directory: Path, argv: Sequence[str], max_bytes: int = MAX_LOG_BYTES) -> int:
    """Open `broker.log` for appending, first moving a log past `max_bytes` to `broker.log.1`."""
    path = directory / LOG_FILE
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_size > max_bytes:
            os.replace(path, directory / f"{LOG_FILE}.1")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    header = f"--- {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} spawn: {' '.join(argv)}\n"
    os.write(fd, header.encode())
    return fd


def _remove_stale(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def read_ready(path: Path) -> ReadyFile | None:
    """The ReadyFile at `path`, or None if it is missing or not (yet) valid."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        return ReadyFile.model_validate(json.loads(text))
    except (ValueError, ValidationError):
        return None


async def spawn(
    run_dir: Path, spec: BrokerSpec, *, command: Sequence[str] = DEFAULT_COMMAND
) -> BrokerProcess:
    """Write the spec and start `command --config <dir>/spec.json` in a new process group.

    A broker left running by a platform that died without stopping it (its ReadyFile names a live
    process started with this spec file) is stopped first: it would hold the ports the new one needs.
    The stale ReadyFile is then removed, so `wait_ready` sees only this child's.
    """
    directory = broker_dir(run_dir, spec.broker_id)
    spec_path = directory / SPEC_FILE
    ready_path = Path(spec.ready_file)
    await _stop_orphan(ready_path, spec_path)
    write_spec(directory, spec)
    _remove_stale(ready_path)
    argv = [*command, "--config", str(spec_path)]
    log_fd = _open_log(directory, argv)
    _keep_descriptors_private()
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            # A new session is a new process group; uvloop (which uvicorn picks) has no `process_group`.
            start_new_session=True,
        )
    finally:
        os.close(log_fd)  # the child holds its own copy
    logger.info("spawned broker %s pid %d", spec.broker_id, process.pid)
    return BrokerProcess(spec.broker_id, process, directory)


def _keep_descriptors_private() -> None:
    """Clear the inheritable flag of every descriptor above stderr, so a broker gets none of them."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:  # no /proc: rely on Python's non-inheritable default (PEP 446)
        return
    for name in names:
        fd = int(name)
        if fd <= 2:
            continue
        with contextlib.suppress(OSError):  # the listing's own descriptor is already closed
            if os.get_inheritable(fd):
                logger.warning("descriptor %d was inheritable; a broker must not hold it", fd)
                os.set_inheritable(fd, False)


async def adopt(run_dir: Path, spec: BrokerSpec) -> tuple[BrokerProcess, ReadyFile] | None:
    """Take over a broker left running by a dead platform, if it runs exactly `spec`.

    Returns the process (watched through a pidfd) and its ReadyFile, or None when there is none to adopt:
    no live broker of this spec file, or one started with another spec (`spawn` then stops it). The
    caller must still ping it with the admin token before trusting it.
    """
    directory = broker_dir(run_dir, spec.broker_id)
    spec_path = directory / SPEC_FILE
    ready_path = Path(spec.ready_file)
    pid = _orphan_pid(ready_path, spec_path)
    if pid is None:
        return None
    try:
        running = BrokerSpec.model_validate_json(spec_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if running != spec:
        return None
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return None
    ready = read_ready(ready_path)
    if ready is None or ready.pid != pid or _orphan_pid(ready_path, spec_path) != pid:  # pid reused meanwhile
        os.close(pidfd)
        return None
    logger.info("adopting broker %s pid %d left running by a previous platform", spec.broker_id, pid)
    return BrokerProcess(spec.broker_id, None, directory, adopted_pid=pid, pidfd=pidfd), ready


def _orphan_pid(ready_path: Path, spec_path: Path) -> int | None:
    """The pid in a leftover ReadyFile if that process is still a broker of this spec file."""
    ready = read_ready(ready_path)
    if ready is None:
        return None
    try:
        cmdline = Path(f"/proc/{ready.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:  # gone (or no /proc): nothing to stop
        return None
    return ready.pid if str(spec_path).encode() in cmdline else None


async def _stop_orphan(ready_path: Path, spec_path: Path, grace: float = 10.0) -> None:
    pid = _orphan_pid(ready_path, spec_path)
    if pid is None:
        return
    logger.warning("stopping broker pid %d left over from a previous run (%s)", pid, spec_path)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        # Not our child, so it cannot be reaped here: poll until it is gone.
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 5.0)
        while time.monotonic() < deadline:
            if _orphan_pid(ready_path, spec_path) is None:
                return
            await asyncio.sleep(_POLL_INTERVAL)


async def remove_broker_dir(run_dir: Path, broker_id: str) -> None:
    """Delete a broker's directory (spec, admin token, store, logs) once no process of it runs.

    For a broker the supervisor no longer runs: a process left by a dead platform is stopped first.
    """
    directory = broker_dir(run_dir, broker_id)
    await _stop_orphan(directory / "ready.json", directory / SPEC_FILE)
    with contextlib.suppress(FileNotFoundError, NotADirectoryError, ValueError):
        spec = BrokerSpec.model_validate_json((directory / SPEC_FILE).read_text(encoding="utf-8"))
        await _stop_orphan(Path(spec.ready_file), directory / SPEC_FILE)
    await asyncio.to_thread(shutil.rmtree, directory, True)
    logger.info("removed the files of broker %s", broker_id)


async def wait_ready(
    proc: BrokerProcess, ready_file: Path, within: float, abort: Callable[[], bool] = lambda: False
) -> ReadyFile:
    """Poll for this child's ReadyFile until `within` seconds pass.

    Raises:
        StartAborted: `abort()` became true (a stop was requested meanwhile).
        StartError: the child exited first, or the deadline passed.
    """
    try:
        async with asyncio.timeout(within):
            while True:
                if abort():
                    raise StartAborted("stop requested while starting")
                if proc.returncode is not None:
                    raise StartError(f"exited with code {proc.returncode} before it was ready")
                ready = read_ready(ready_file)
                if ready is not None and ready.pid == proc.pid:
                    return ready
                await asyncio.sleep(_POLL_INTERVAL)
    except TimeoutError:
        raise StartError(f"not ready within {within} s") from None


async def terminate(proc: BrokerProcess, grace: float) -> int:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL; reap and return the exit code."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(grace):
                return await proc.wait()
        except TimeoutError:
            logger.warning(
                "broker %s pid %d ignored SIGTERM for %s s; killing", proc.broker_id, proc.pid, grace
            )
    return await kill(proc)


async def kill(proc: BrokerProcess) -> int:
    """SIGKILL (if still running) and reap."""
    proc.send_signal(signal.SIGKILL)
    return await proc.wait()
