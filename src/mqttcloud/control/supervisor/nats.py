"""The NATS server that joins the nodes of multi-node deployments: a given one, or a local child process.

`MQTTCLOUD_NATS_URL` set: `GivenNats` hands that URL out and runs nothing. Unset: `LocalNats` starts
`nats-server -js -sd <data-dir>/nats -a 127.0.0.1 -p <port>` the first time a deployment with more than
one node needs it (a single-node platform never starts one), waits until it accepts connections, and
keeps it running: a server that exits is started again after `policy.backoff`. Brokers reconnect by
themselves. A server left running by a platform that died (its pid file names a live nats-server of
this store directory) is stopped first: it holds the port.

`probe(url)` asks a server, given or local, whether it accepts a client and answers a PING (the alarm
checker's NATS check).

Rules: one owner task per started server, cancelled and awaited by `close()`; argv lists only, never a
shell; `url()` never raises anything but `NatsUnavailable`, whose message is what a deployment's
`statusReason` shows; `probe()` never raises and never outlasts its timeout.
"""

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Protocol

import nats.errors
from nats.aio.client import Client as NatsClient

from mqttcloud import logs
from mqttcloud.control.supervisor import policy

logger = logging.getLogger(__name__)

SEARCH_PATH = ("/usr/sbin", "/usr/local/sbin", "/usr/local/bin")  # Debian puts nats-server in /usr/sbin
LOG_FILE = "nats-server.log"
PID_FILE = "nats-server.pid"
PROBE_TIMEOUT = 2.0  # seconds a reachable server needs at most to accept a client and answer a PING


class NatsUnavailable(Exception):  # noqa: N818  (named for what the caller sees)
    """No NATS server can be had: its message says why and what to do."""


class NatsProvider(Protocol):
    @property
    def address(self) -> str:
        """The URL nodes join, without starting anything."""
        ...

    async def url(self) -> str:
        """The URL nodes join. Raises: NatsUnavailable."""
        ...

    async def close(self) -> None: ...


class GivenNats:
    """A NATS server (or cluster) run by someone else: `MQTTCLOUD_NATS_URL`."""

    def __init__(self, url: str) -> None:
        self._url = url

    @property
    def address(self) -> str:
        return self._url

    async def url(self) -> str:
        return self._url

    async def close(self) -> None:
        return None


def find_binary(name: str) -> str | None:
    """`name` itself when it is a path, else its place on PATH or in the sbin folders."""
    if os.sep in name:
        return name if os.access(name, os.X_OK) else None
    found = shutil.which(name)
    if found is not None:
        return found
    return shutil.which(name, path=os.pathsep.join(SEARCH_PATH))


class LocalNats:
    """A `nats-server` child with JetStream, started on first use and restarted when it exits.

    Args:
        store_dir: JetStream storage (`-sd`); the log and pid file go there too.
        port: client port on 127.0.0.1.
        binary: the program, a name looked up on PATH (and /usr/sbin) or a path.
        ready_timeout: seconds a start may take before `url()` gives up.
    """

    def __init__(
        self,
        store_dir: Path,
        *,
        port: int,
        binary: str = "nats-server",
        ready_timeout: float = 10.0,
        restart_policy: policy.RestartPolicy = policy.DEFAULT_POLICY,
    ) -> None:
        self.store_dir = store_dir
        self.port = port
        self.binary = binary
        self.ready_timeout = ready_timeout
        self.restart_policy = restart_policy
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._error: str | None = None
        self._waited = False  # a first start was waited for: later calls do not hold a reconcile long

    @property
    def address(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def url(self) -> str:
        """Start the server if it is not running yet and wait (bounded) until it accepts connections."""
        program = find_binary(self.binary)
        if program is None:
            raise NatsUnavailable(
                f"nats-server is not installed ({self.binary!r} not found): install it "
                "(Debian: apt-get install nats-server) or set MQTTCLOUD_NATS_URL"
            )
        if self._task is None:
            self._task = asyncio.create_task(  # it outlives the request that started it (logs.py)
                self._keep_running(program), name="nats-server", context=logs.unbound()
            )
        within = 1.0 if self._waited else self.ready_timeout
        self._waited = True
        try:
            async with asyncio.timeout(within):
                await self._ready.wait()
        except TimeoutError:
            raise NatsUnavailable(
                f"nats-server does not accept connections on 127.0.0.1:{self.port}: "
                f"{self._error or 'see ' + str(self.store_dir / LOG_FILE)}"
            ) from None
        return self.address

    async def close(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s) and its owner task."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _keep_running(self, program: str) -> None:
        crashes: list[float] = []
        try:
            while True:
                await self._stop_leftover()
                started = time.monotonic()
                code = await self._run_once(program)
                now = time.monotonic()
                crashes = [t for t in [*crashes, now] if now - t <= self.restart_policy.crash_window]
                self._ready.clear()
                self.restarts += 1
                delay = policy.backoff(len(crashes), self.restart_policy)
                self._error = f"nats-server exited with code {code} after {now - started:.1f} s"
                logger.warning("%s; starting it again in %g s", self._error, delay)
                await asyncio.sleep(delay)
        finally:
            await self._terminate()

    async def _run_once(self, program: str) -> int:
        self.store_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        argv = [
            program,
            "-js",
            "-sd",
            str(self.store_dir),
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-P",
            str(self.store_dir / PID_FILE),
        ]
        log_fd = os.open(self.store_dir / LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            self.process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_fd,
                stderr=log_fd,
                start_new_session=True,  # a Ctrl-C in the platform's terminal does not reach it
            )
        except OSError as exc:
            self._error = f"cannot start nats-server: {exc}"
            return -1
        finally:
            os.close(log_fd)
        logger.info("started nats-server pid %d on %s", self.process.pid, self.address)
        waiter = asyncio.create_task(self.process.wait())
        try:
            while not waiter.done():
                # Ready: our process wrote its pid file and the port accepts (another program on the
                # port would make ours exit, never pass for it).
                if self._pid_file_names(self.process.pid) and await _accepts(self.port):
                    self._error = None
                    self._ready.set()
                    break
                await asyncio.wait([waiter], timeout=0.05)
            return await waiter
        finally:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter

    def _pid_file_names(self, pid: int) -> bool:
        try:
            return int((self.store_dir / PID_FILE).read_text(encoding="ascii").strip()) == pid
        except (OSError, ValueError):
            return False

    async def _terminate(self) -> None:
        process, self.process = self.process, None
        self._ready.clear()
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(5.0):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()

    def _leftover_pid(self) -> int | None:
        """The pid in the pid file if it is a live nats-server of this store directory."""
        try:
            pid = int((self.store_dir / PID_FILE).read_text(encoding="ascii").strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        return pid if str(self.store_dir).encode() in cmdline else None

    async def _stop_leftover(self) -> None:
        """Stop a nats-server of this store directory left running by a platform that died."""
        pid = self._leftover_pid()
        if pid is None:
            return
        logger.warning("stopping nats-server pid %d left over from a previous run", pid)
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:  # not our child: poll until it is gone
                if self._leftover_pid() is None:
                    return
                await asyncio.sleep(0.05)


async def _accepts(port: int) -> bool:
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def probe(url: str, *, within: float = PROBE_TIMEOUT) -> str | None:
    """Whether the NATS server at `url` accepts a client and answers a PING within `within` seconds.

    Returns:
        None when it does; else why not (the connection error, or that nothing answered in time).
    """
    failures: list[Exception] = []

    async def record(exc: Exception) -> None:  # nats-py would log every failed attempt itself
        failures.append(exc)

    client = NatsClient()
    try:
        async with asyncio.timeout(within):
            await client.connect(
                servers=[url],
                name="mqttcloud alarm probe",
                allow_reconnect=False,
                # One retry with no wait: with 0 (unlimited) nats-py would try the same server until
                # the timeout, and the refusal that says why would be lost.
                max_reconnect_attempts=1,
                reconnect_time_wait=0,
                error_cb=record,
            )
            await client.flush()  # PING, then wait for the PONG (bounded by the timeout above)
    except TimeoutError:
        cause = f": {failures[-1]}" if failures else ""
        return f"no answer within {within:g} s{cause}"
    except (OSError, nats.errors.Error) as exc:
        return str(failures[-1] if failures else exc) or type(exc).__name__
    finally:
        await client.close()
    return None
