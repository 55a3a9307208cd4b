"""The supervisor loop: one worker task per broker, all owned by one TaskGroup the Supervisor awaits.

`Supervisor.set_desired` turns the desired specs into steps with the pure `policy.reconcile` and hands
each step to that broker's worker. A worker owns one broker process at a time: it adopts one a dead
platform left running with exactly this spec (if it answers a ping with the spec's admin token) or else
spawns it (stopping a leftover of another spec first) and waits for its ReadyFile and first ping,
pushes changed specs with `apply_spec`, pings it every `health_interval` seconds, restarts it with
`policy.backoff` when it dies or stops answering, and marks it failed when `policy.is_failed` says so.
This mirrors uvicorn's `supervisors/multiprocess.py` (ping-based `is_alive`, `keep_subprocess_alive`),
with asyncio instead of threads.

Rules this module must not break:
- Every task has an owner that awaits it: workers live in the Supervisor's TaskGroup, and the short-lived
  waiters in `_Worker._wait` are cancelled and awaited before it returns. No fire-and-forget.
- A worker never raises into the TaskGroup (one broker's trouble must not stop the others): unexpected
  errors are logged, the process is killed and the broker is reported failed.
- Platform shutdown (`close`) stops brokers but leaves their desired state alone: it lives in the
  database, and the next `serve` calls `set_desired` with it again.
"""

import asyncio
import inspect
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from pathlib import Path

from mqttcloud import logs
from mqttcloud.contracts import BrokerSpec, ReadyFile
from mqttcloud.control.broker_client import BrokerClient, BrokerError, BrokerUnavailable
from mqttcloud.control.supervisor import policy, processes
from mqttcloud.control.supervisor.policy import BrokerStatus, DesiredBroker, RestartPolicy, RunningBroker

logger = logging.getLogger(__name__)

StatusCallback = Callable[[str, BrokerStatus, str], Awaitable[None] | None]
"""`on_status(broker_id, status, detail)`; called on every change of (status, detail). May be async."""

AppliedCallback = Callable[[str, int], Awaitable[None] | None]
"""`on_applied(broker_id, generation)`; the broker now runs that generation of its spec. May be async."""


class Supervisor:
    """Runs one broker process per desired `BrokerSpec` and keeps it matching the spec.

    Args:
        run_dir: where each broker gets `<run_dir>/<broker_id>/` with `spec.json` and `broker.log`.
            `BrokerSpec.ready_file` is honoured as given; `broker_dir(id) / "ready.json"` is a good value.
        on_status: told `(broker_id, status, detail)` on each change: starting, running, stopping,
            stopped, failed. `detail` is a short human-readable reason ("exited with code -9", ...).
        on_applied: told `(broker_id, generation)` each time a process runs a generation of its spec:
            after a spawn is ready, and after `apply_spec` succeeds. Generations come from `set_desired`.
        health_interval: seconds between pings of a running broker.
        ping_timeout: seconds a ping may take; two failed pings in a row count as a crash.
        ready_timeout: seconds a new process has to write its ReadyFile and answer a ping.
        stop_timeout: seconds between SIGTERM and SIGKILL.
        request_timeout: per-call timeout of the clients returned by `client()`.
        restart_policy: backoff and give-up bounds (see `policy.RestartPolicy`).
        command: argv prefix of a broker; `--config FILE` is appended. Default
            `sys.executable -m mqttcloud broker`.

    Callbacks run in the worker task of that broker; an exception they raise is logged and ignored.
    """

    def __init__(
        self,
        run_dir: Path | str,
        *,
        on_status: StatusCallback | None = None,
        on_applied: AppliedCallback | None = None,
        health_interval: float = 2.0,
        ping_timeout: float = 2.0,
        ready_timeout: float = 15.0,
        stop_timeout: float = 10.0,
        request_timeout: float = 10.0,
        restart_policy: RestartPolicy = policy.DEFAULT_POLICY,
        command: Sequence[str] = processes.DEFAULT_COMMAND,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.on_status = on_status
        self.on_applied = on_applied
        self.health_interval = health_interval
        self.ping_timeout = ping_timeout
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.request_timeout = request_timeout
        self.restart_policy = restart_policy
        self.command = tuple(command)
        self._desired: dict[str, DesiredBroker] = {}
        self._generations: dict[str, int] = {}  # survives removal so generations only grow
        self._workers: dict[str, _Worker] = {}  # desired brokers
        self._retiring: set[_Worker] = set()  # removed brokers still stopping
        self._main: asyncio.Task[None] | None = None
        self._tg: asyncio.TaskGroup | None = None
        self._started = asyncio.Event()
        self._shutdown = asyncio.Event()
        self._changed = asyncio.Condition()
        self._lock = asyncio.Lock()  # serialises set_desired / retry / close

    # ----------------------------------------------------------------------------------------------
    # Lifecycle
    # ----------------------------------------------------------------------------------------------

    async def __aenter__(self) -> "Supervisor":
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Start the supervisor (no brokers yet: call `set_desired`)."""
        if self._main is not None:
            raise RuntimeError("supervisor already started")
        self.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._main = asyncio.create_task(self._run(), name="broker-supervisor")
        await self._started.wait()

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            self._started.set()
            await self._shutdown.wait()
        self._tg = None

    async def close(self) -> None:
        """Stop every broker gracefully (SIGTERM, then SIGKILL after `stop_timeout`) and wait for them.

        The desired state is forgotten here but not in the database, so the next `serve` restores it.
        """
        if self._main is None:
            return
        async with self._lock:
            for worker in [*self._workers.values(), *self._retiring]:
                worker.request_stop()
            self._workers.clear()
            self._desired.clear()
            self._shutdown.set()
        # If this await is cancelled, the cancellation reaches the TaskGroup: each worker's `finally`
        # then SIGKILLs its child instead of leaving it running in its own process group.
        await self._main

    # ----------------------------------------------------------------------------------------------
    # API for the control plane
    # ----------------------------------------------------------------------------------------------

    async def set_desired(self, specs: Sequence[BrokerSpec]) -> dict[str, int]:
        """Make the running brokers match `specs` (the complete set; absent brokers are stopped).

        Returns once every step has been handed to its broker's worker, without waiting for processes:
        watch `on_status` / `on_applied`, or `wait_for_status`, for the outcome.

        Returns:
            broker id → generation of its desired spec. A changed spec gets a new, larger generation;
            `on_applied(broker_id, generation)` fires once a process runs it.

        Raises:
            ValueError: two specs share a broker id, or an id is not a safe directory name.
            RuntimeError: the supervisor is not started or is closing.
        """
        by_id: dict[str, BrokerSpec] = {}
        for spec in specs:
            processes.broker_dir(self.run_dir, spec.broker_id)  # validates the id
            if spec.broker_id in by_id:
                raise ValueError(f"duplicate broker id {spec.broker_id!r}")
            by_id[spec.broker_id] = spec
        async with self._lock:
            tg = self._task_group()
            desired: dict[str, DesiredBroker] = {}
            for broker_id, spec in by_id.items():
                previous = self._desired.get(broker_id)
                if previous is not None and previous.spec == spec:
                    desired[broker_id] = previous
                else:
                    generation = self._generations.get(broker_id, 0) + 1
                    self._generations[broker_id] = generation
                    desired[broker_id] = DesiredBroker(spec, generation)
            running = {broker_id: worker.as_running() for broker_id, worker in self._workers.items()}
            for step in policy.reconcile(desired, running):
                match step:
                    case policy.Spawn(broker_id=broker_id) if broker_id in self._workers:
                        self._workers[broker_id].retarget(desired[broker_id], clear_failure=True)
                    case policy.Spawn(broker_id=broker_id):
                        previous_worker = self._find_retiring(broker_id)
                        worker = _Worker(self, desired[broker_id], previous_worker)
                        self._workers[broker_id] = worker
                        # Unbound: a worker outlives the request that started it (logs.py).
                        tg.create_task(
                            worker.run(), name=f"broker-worker:{broker_id}", context=logs.unbound()
                        )
                    case policy.Stop(broker_id=broker_id):
                        worker = self._workers.pop(broker_id)
                        self._retiring.add(worker)
                        worker.request_stop()
                    case policy.Apply(broker_id=broker_id) | policy.Restart(broker_id=broker_id):
                        self._workers[broker_id].retarget(desired[broker_id], clear_failure=False)
                    case policy.Nothing():
                        pass
            self._desired = desired
            return {broker_id: want.generation for broker_id, want in desired.items()}

    async def retry(self, broker_id: str) -> bool:
        """Clear a `failed` broker's crash history and start it again ("start requested again").

        Returns:
            True if the broker was failed and is now starting again.
        """
        async with self._lock:
            worker = self._workers.get(broker_id)
            return worker is not None and worker.retry()

    def client(self, broker_id: str) -> BrokerClient | None:
        """The admin client of a running broker, or None when it is not running.

        Ask again for each use: a restarted broker listens on a new admin port and gets a new client.
        The client belongs to the supervisor, which closes it when the process goes: don't close it.
        """
        worker = self._workers.get(broker_id)
        if worker is None or worker.status is not BrokerStatus.RUNNING:
            return None
        return worker.api_client

    def ready(self, broker_id: str) -> ReadyFile | None:
        """The actual addresses of a running broker (listeners after the last apply), or None."""
        worker = self._workers.get(broker_id)
        if worker is None or worker.status is not BrokerStatus.RUNNING:
            return None
        return worker.ready

    def statuses(self) -> dict[str, tuple[BrokerStatus | None, str]]:
        """Every desired broker's last (status, detail); status is None before the first report."""
        return {broker_id: (w.status, w.detail) for broker_id, w in self._workers.items()}

    def status(self, broker_id: str) -> BrokerStatus | None:
        """Last reported status, or None for a broker that is not desired."""
        worker = self._workers.get(broker_id)
        return None if worker is None else worker.status

    def broker_dir(self, broker_id: str) -> Path:
        """`<run_dir>/<broker_id>`: holds spec.json and broker.log; a good place for the ReadyFile."""
        return processes.broker_dir(self.run_dir, broker_id)

    async def wait_for_status(
        self, broker_id: str, statuses: Collection[BrokerStatus], within: float
    ) -> BrokerStatus:
        """Wait until the broker's status is one of `statuses`; raise TimeoutError after `within` s."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: self._status_of(broker_id) in statuses)
            status = self._status_of(broker_id)
            assert status is not None
            return status

    # ----------------------------------------------------------------------------------------------
    # Internals used by workers
    # ----------------------------------------------------------------------------------------------

    def _status_of(self, broker_id: str) -> BrokerStatus | None:
        worker = self._workers.get(broker_id)
        if worker is not None:
            return worker.status
        retiring = self._find_retiring(broker_id)
        return None if retiring is None else retiring.status

    def _task_group(self) -> asyncio.TaskGroup:
        if self._tg is None or self._shutdown.is_set():
            raise RuntimeError("supervisor is not running")
        return self._tg

    def _find_retiring(self, broker_id: str) -> "_Worker | None":
        for worker in self._retiring:
            if worker.broker_id == broker_id and not worker.finished.is_set():
                return worker
        return None

    def _retired(self, worker: "_Worker") -> None:
        self._retiring.discard(worker)

    async def _notify_status(self, broker_id: str, status: BrokerStatus, detail: str) -> None:
        async with self._changed:
            self._changed.notify_all()
        if self.on_status is not None:
            await _call(self.on_status, broker_id, status, detail)

    async def _notify_applied(self, broker_id: str, generation: int) -> None:
        if self.on_applied is not None:
            await _call(self.on_applied, broker_id, generation)


async def _call(callback: Callable[..., Awaitable[None] | None], *args: object) -> None:
    try:
        result = callback(*args)
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.exception("supervisor callback %r failed", callback)


class _Worker:
    """Keeps one broker id's process matching its target spec. Owned by the Supervisor's TaskGroup."""

    def __init__(self, sup: Supervisor, target: DesiredBroker, previous: "_Worker | None") -> None:
        self.sup = sup
        self.broker_id = target.spec.broker_id
        self.target = target  # what should run
        self.applied: DesiredBroker | None = None  # what the live process runs
        self.attempted_generation = 0  # last generation sent with apply_spec (even if it failed)
        self.previous = previous  # a retiring worker for the same id that must finish first
        self.status: BrokerStatus | None = None
        self.detail = ""
        self.proc: processes.BrokerProcess | None = None
        self.api_client: BrokerClient | None = None
        self.health_client: BrokerClient | None = None
        self.ready: ReadyFile | None = None
        self.crashes: list[float] = []
        self.failed = False
        self.stop_requested = False
        self.wake = asyncio.Event()
        self.finished = asyncio.Event()

    # ---- commands (called by the Supervisor) ----------------------------------------------------

    def as_running(self) -> RunningBroker:
        return RunningBroker(self.target.spec, self.target.generation, is_failed=self.failed)

    def retarget(self, target: DesiredBroker, *, clear_failure: bool) -> None:
        self.target = target
        if clear_failure:
            self._clear_failure()
        self.wake.set()

    def retry(self) -> bool:
        if not self.failed:
            return False
        self._clear_failure()
        self.wake.set()
        return True

    def _clear_failure(self) -> None:
        self.failed = False
        self.crashes.clear()

    def _is_stopping(self) -> bool:
        return self.stop_requested

    def request_stop(self) -> None:
        self.stop_requested = True
        self.wake.set()

    # ---- the task ---------------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            if self.previous is not None:
                await self.previous.finished.wait()
                self.previous = None
            await self._loop()
        except Exception:
            logger.exception("supervisor worker for broker %s crashed", self.broker_id)
            await self._discard_process(kill=True)
            self.failed = True
            await self._set_status(BrokerStatus.FAILED, "supervisor error; see the platform log")
        finally:
            # Cancellation (never expected: close() stops workers by request) must not leak a child.
            if self.proc is not None:
                self.proc.send_signal(signal.SIGKILL)
            self.finished.set()
            self.sup._retired(self)
            async with self.sup._changed:
                self.sup._changed.notify_all()

    async def _loop(self) -> None:
        while not self.stop_requested:
            if self.failed:
                await self._wait(None)
                continue
            delay = policy.backoff(
                policy.recent_crashes(self.crashes, time.monotonic(), self.sup.restart_policy),
                self.sup.restart_policy,
            )
            # Read through a method: mypy would keep the loop condition's narrowing across the await.
            if delay > 0 and await self._wait(delay) and self._is_stopping():
                break
            if await self._start():
                await self._supervise()
        if self.proc is not None:
            await self._set_status(BrokerStatus.STOPPING, "stop requested")
            code = await self._discard_process(kill=False)
            await self._set_status(BrokerStatus.STOPPED, f"exited with code {code}")
        elif self.status is not BrokerStatus.STOPPED:
            await self._set_status(BrokerStatus.STOPPED, "not running")

    async def _start(self) -> bool:
        """Adopt or spawn the target spec; True once it is ready and answers a ping (False: not running)."""
        target = self.target
        await self._set_status(BrokerStatus.STARTING, f"generation {target.generation}")
        ready = await self._adopt(target)
        if ready is None:
            ready = await self._spawn(target)
            if ready is None:
                return False
        assert self.proc is not None
        self.api_client = BrokerClient(
            ready.admin.host, ready.admin.port, target.spec.admin.token, timeout=self.sup.request_timeout
        )
        self.ready = ready.model_copy(update={"spec_generation": target.generation})
        self.applied = target
        self.attempted_generation = target.generation
        adopted = " (adopted)" if self.proc.is_adopted else ""
        await self._set_status(BrokerStatus.RUNNING, f"pid {self.proc.pid}{adopted}")
        await self.sup._notify_applied(self.broker_id, target.generation)
        return True

    async def _adopt(self, target: DesiredBroker) -> ReadyFile | None:
        """Take over a broker of exactly this spec left by a dead platform, if it answers a ping."""
        sup = self.sup
        found = await processes.adopt(sup.run_dir, target.spec)
        if found is None:
            return None
        self.proc, ready = found
        self.health_client = BrokerClient(
            ready.admin.host, ready.admin.port, target.spec.admin.token, timeout=sup.ping_timeout
        )
        try:
            await self._first_ping(time.monotonic() + sup.ping_timeout)
        except (processes.StartError, processes.StartAborted) as exc:
            logger.warning("broker %s pid %d not adopted: %s", self.broker_id, self.proc.pid, exc)
            await self._discard_process(kill=False)  # stopped cleanly; a fresh one is spawned
            return None
        return ready

    async def _spawn(self, target: DesiredBroker) -> ReadyFile | None:
        """Spawn the target spec and wait until it is ready and answers a ping. None: not running."""
        sup = self.sup
        try:
            self.proc = await processes.spawn(sup.run_dir, target.spec, command=sup.command)
        except OSError as exc:
            await self._crashed(f"spawn failed: {exc}")
            return None
        deadline = time.monotonic() + sup.ready_timeout
        try:
            ready = await processes.wait_ready(
                self.proc, Path(target.spec.ready_file), sup.ready_timeout, abort=self._is_stopping
            )
            self.health_client = BrokerClient(
                ready.admin.host, ready.admin.port, target.spec.admin.token, timeout=sup.ping_timeout
            )
            await self._first_ping(deadline)
        except processes.StartAborted:
            return None  # `_loop` sees the stop request and stops the process gracefully
        except processes.StartError as exc:
            await self._discard_process(kill=True)
            await self._crashed(str(exc))
            return None
        return ready

    async def _first_ping(self, deadline: float) -> None:
        assert self.health_client is not None
        assert self.proc is not None
        while not self._is_stopping():
            try:
                await self.health_client.ping()
            except BrokerUnavailable as exc:
                if self.proc.returncode is not None:
                    raise processes.StartError(f"exited with code {self.proc.returncode}") from exc
                if time.monotonic() >= deadline:
                    raise processes.StartError(f"no answer to ping: {exc}") from exc
                await asyncio.sleep(0.05)
            except BrokerError as exc:
                raise processes.StartError(f"ping refused: {exc}") from exc
            else:
                return
        raise processes.StartAborted("stop requested while starting")

    async def _supervise(self) -> None:
        """Watch a running process until it dies, stops answering, must restart, or must stop."""
        missed_pings = 0
        while not self.stop_requested:
            assert self.proc is not None
            assert self.applied is not None
            target = self.target
            if target.generation != self.applied.generation:
                if policy.needs_restart(self.applied.spec, target.spec):
                    await self._set_status(BrokerStatus.STOPPING, "restart for a new admin/data setting")
                    await self._discard_process(kill=False)
                    return
                if target.generation != self.attempted_generation:
                    await self._apply(target)
            woken = await self._wait(self.sup.health_interval, watch_exit=True)
            if self.proc.returncode is not None:
                code = self.proc.returncode
                await self._discard_process(kill=True)
                await self._crashed(f"exited with code {code}")
                return
            if woken:
                continue
            if await self._ping():
                missed_pings = 0
                continue
            missed_pings += 1
            if missed_pings >= 2:
                await self._discard_process(kill=True)
                await self._crashed("stopped answering pings")
                return

    async def _ping(self) -> bool:
        assert self.health_client is not None
        try:
            await self.health_client.ping()
        except (BrokerUnavailable, BrokerError) as exc:
            logger.warning("broker %s ping failed: %s", self.broker_id, exc)
            return False
        return True

    async def _apply(self, target: DesiredBroker) -> None:
        assert self.api_client is not None
        assert self.ready is not None
        self.attempted_generation = target.generation
        try:
            result = await self.api_client.apply_spec(target.spec, target.generation)
        except BrokerError as exc:
            logger.warning(
                "broker %s rejected spec generation %d: %s", self.broker_id, target.generation, exc
            )
            await self._set_status(
                BrokerStatus.RUNNING, f"apply of generation {target.generation} failed: {exc}"
            )
            return
        except BrokerUnavailable as exc:
            # The health check decides whether the process is gone; try the apply again next round.
            logger.warning("broker %s apply_spec failed: %s", self.broker_id, exc)
            self.attempted_generation = self.applied.generation if self.applied else 0
            return
        # A crash restart must come back with what was applied, not the spec it was first started with.
        processes.write_spec(self.sup.broker_dir(self.broker_id), target.spec)
        self.applied = target
        self.ready = self.ready.model_copy(
            update={"listeners": result.listeners, "spec_generation": target.generation}
        )
        await self._set_status(BrokerStatus.RUNNING, f"pid {self.ready.pid}, generation {target.generation}")
        await self.sup._notify_applied(self.broker_id, target.generation)

    # ---- helpers ------------------------------------------------------------------------------------

    async def _wait(self, limit: float | None, *, watch_exit: bool = False) -> bool:
        """Sleep until woken by a command (True), the process exits, or `limit` seconds pass (False)."""
        waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(self.wake.wait())]
        if watch_exit and self.proc is not None:
            waiters.append(asyncio.ensure_future(self.proc.wait()))
        try:
            await asyncio.wait(waiters, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        woken = self.wake.is_set()
        self.wake.clear()
        return woken

    async def _crashed(self, detail: str) -> None:
        now = time.monotonic()
        self.crashes.append(now)
        rules = self.sup.restart_policy
        self.crashes = [t for t in self.crashes if now - t <= rules.crash_window]
        logger.warning("broker %s crashed: %s", self.broker_id, detail)
        if policy.is_failed(self.crashes, now, rules):
            self.failed = True
            await self._set_status(BrokerStatus.FAILED, f"{len(self.crashes)} crashes; last: {detail}")
            return
        delay = policy.backoff(len(self.crashes), rules)
        await self._set_status(BrokerStatus.STARTING, f"restarting in {delay:g} s after: {detail}")

    async def _discard_process(self, *, kill: bool) -> int | None:
        """Close the clients and end the process (SIGKILL, or SIGTERM with the stop deadline)."""
        self.ready = None
        for client in (self.api_client, self.health_client):
            if client is not None:
                await client.close()
        self.api_client = self.health_client = None
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if kill:
            return await processes.kill(proc)
        return await processes.terminate(proc, self.sup.stop_timeout)

    async def _set_status(self, status: BrokerStatus, detail: str) -> None:
        if (status, detail) == (self.status, self.detail):
            return
        self.status, self.detail = status, detail
        logger.info("broker %s %s: %s", self.broker_id, status, detail)
        await self.sup._notify_status(self.broker_id, status, detail)
