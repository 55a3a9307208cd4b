"""Delivering actions: the bounded queue, counters, status and task they share, and batching workers.

`ActionSink` is what every delivering action shares (HTTP in http.py, and the pooled ones): `offer(output)`
runs on the MQTT hot path and only puts the output in the queue (or counts it `dropped` when
`max_queue` outputs already wait); `start()`/`close()` own the task that delivers; `_set_connected` and
`_set_down` keep the status and log its changes; `backoff` paces retries. `BatchSink` adds the pooled
actions' workers (PostgreSQL, Redis, MQTT bridge): each subclass says how to open a connection, write
one batch of rule outputs on it, check it, and close it. Its task owns a `TaskGroup` of `pool_size`
workers; each worker owns one connection, takes up to `batch_size` outputs (waiting at most
`batch_time` after the first for more) and writes them at once.

Rules this module must not break:
- Nothing here blocks MQTT traffic: no await on the caller's path, and the queue is bounded.
- A connection that cannot be opened or is lost (`TargetDownError`) makes the sink `disconnected` with
  the reason; the worker keeps its batch, reconnects with backoff and writes it again, so outputs wait
  (in the queue or in a worker's hand) and are lost only past the bound (`dropped`). A batch the
  target refuses (`BatchError`) is retried `max_retries` times when it may pass later, then `failed`.
- An idle connection is checked every `HEALTH_INTERVAL`, so a target that went away shows as
  `disconnected` without traffic. While disconnected, only worker 0 (and workers holding a batch)
  try to reconnect; the others take no outputs, which wait in the queue.
- Every output counts once: `success`, `failed` or `dropped`. Failures log at most one line per
  `LOG_INTERVAL` per action (`ThrottledLog`), with how many were not logged.
"""

import abc
import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Final, Generic, Literal, TypeVar

from mqttcloud import contracts
from mqttcloud.contracts.rules import MqttAction, PgsqlAction, RedisAction

log = logging.getLogger(__name__)

HEALTH_INTERVAL: Final = 15.0  # seconds an idle connection (or a probed HTTP target) waits to be checked
RETRY_BASE: Final = 0.05  # seconds before the first retry of a refused batch or request; doubled per retry
RECONNECT_MIN: Final = 0.1  # seconds between connection attempts to a target that is down, doubled up to
RECONNECT_MAX: Final = 2.0
LOG_INTERVAL: Final = 10.0  # seconds between two log lines about one action's failures
Output = dict[str, object]
Status = Literal["connected", "connecting", "disconnected"]
C = TypeVar("C")


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait before attempt `attempt` (1-based): `base` doubled per attempt, at most `cap`."""
    return float(min(cap, base * 2 ** (attempt - 1)))


class SinkError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TargetDownError(SinkError):
    """The connection could not be opened or was lost: the batch waits for a new one."""


class BatchError(SinkError):
    """The target refused the batch; `retry` says whether the same batch may pass later."""

    def __init__(self, reason: str, *, retry: bool = False) -> None:
        super().__init__(reason)
        self.retry = retry


class ThrottledLog:
    """At most one warning per `LOG_INTERVAL`: an action failing in a loop must not flood the log."""

    def __init__(self, what: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._what = what
        self._clock = clock
        self._next = 0.0
        self.suppressed = 0

    def warning(self, reason: str) -> None:
        now = self._clock()
        if now < self._next:
            self.suppressed += 1
            return
        self._next = now + LOG_INTERVAL
        if self.suppressed:
            log.warning("%s: %s (and %d more failures not logged)", self._what, reason, self.suppressed)
        else:
            log.warning("%s: %s", self._what, reason)
        self.suppressed = 0


class ActionSink(abc.ABC):
    """One delivering action: its queue, counters, connection status and delivering task."""

    def __init__(self, name: str, *, kind: str, max_queue: int) -> None:
        self.name = name
        self.kind = kind
        self._queue: asyncio.Queue[Output] = asyncio.Queue(maxsize=max_queue)
        self.matched = self.success = self.failed = self.dropped = self.retried = 0
        self.inflight = 0
        self.status: Status = "connecting"
        self.status_reason = ""
        self._connected = asyncio.Event()  # set while connected: workers waiting for the target go on
        self._task: asyncio.Task[None] | None = None
        self.failures = ThrottledLog(f"{kind} action {name}")

    # ---------------------------------------------------------------------------- the caller's side

    def offer(self, output: Output) -> bool:
        """Queue one output for delivery; False (and `dropped`) when the queue is full."""
        self.matched += 1
        try:
            self._queue.put_nowait(output)
        except asyncio.QueueFull:
            self.dropped += 1
            return False
        return True

    def counters(self) -> contracts.ActionCounters:
        return contracts.ActionCounters(
            matched=self.matched,
            success=self.success,
            failed=self.failed,
            dropped=self.dropped,
            queuing=self._queue.qsize(),
            inflight=self.inflight,
            retried=self.retried,
            status=self.status,
            status_reason=self.status_reason,
        )

    # ------------------------------------------------------------------------------------ lifetime

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"{self.kind}-action:{self.name}"
        )

    async def close(self) -> None:
        """Stop delivering (closing the connections); what is still queued is abandoned."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    @abc.abstractmethod
    async def _run(self) -> None:
        """Deliver what is queued until cancelled."""

    # ------------------------------------------------------------------------------------ status

    def _set_connected(self) -> None:
        if self.status != "connected":
            if self.status == "disconnected":
                log.info("%s action %s: connected again", self.kind, self.name)
            self.status = "connected"
            self.status_reason = ""
        self._connected.set()

    def _set_down(self, reason: str) -> None:
        """A connection failed to open or was lost: the target is down until one opens again."""
        if self.status != "disconnected":
            log.warning("%s action %s: disconnected: %s", self.kind, self.name, reason)
        self.status = "disconnected"
        self.status_reason = reason
        self._connected.clear()


PooledAction = PgsqlAction | RedisAction | MqttAction


class BatchSink(ActionSink, Generic[C]):
    """One pooled action: `pool_size` workers, each with its connection, writing batches."""

    def __init__(self, spec: PooledAction, *, kind: str) -> None:
        super().__init__(spec.name, kind=kind, max_queue=spec.max_queue)
        self._pool_size = spec.pool_size
        self._batch_size = spec.batch_size
        self._batch_time = spec.batch_time
        self._max_retries = spec.max_retries
        self._request_timeout = spec.request_timeout

    async def _run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                for index in range(self._pool_size):
                    tg.create_task(self._worker(index))
        finally:
            await self.cleanup()

    # ------------------------------------------------------------------------------- what subclasses do

    @abc.abstractmethod
    async def connect(self, index: int) -> C:
        """Open worker `index`'s connection. Raises: TargetDownError."""

    @abc.abstractmethod
    async def write(self, conn: C, batch: Sequence[Output]) -> int:
        """Write `batch`; returns how many outputs failed on their own (the rest succeeded).
        Raises: TargetDownError (nothing is known to be written), BatchError (none was)."""

    @abc.abstractmethod
    async def check(self, conn: C) -> None:
        """Check an idle connection. Raises: TargetDownError."""

    @abc.abstractmethod
    async def disconnect(self, conn: C) -> None:
        """Close a connection (never raises)."""

    async def cleanup(self) -> None:
        """Release what the sink holds besides connections (the workers have stopped)."""
        return

    # ----------------------------------------------------------------------------------- workers

    async def _take(self) -> list[Output]:
        """Up to `batch_size` outputs: the first waits (at most HEALTH_INTERVAL: then []), the rest
        at most `batch_time` after it."""
        queue = self._queue
        try:
            async with asyncio.timeout(HEALTH_INTERVAL):
                batch = [await queue.get()]
        except TimeoutError:
            return []
        size = self._batch_size
        while len(batch) < size and not queue.empty():
            batch.append(queue.get_nowait())
        if len(batch) < size and self._batch_time > 0:
            deadline = asyncio.get_running_loop().time() + self._batch_time
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(deadline):
                    while len(batch) < size:
                        batch.append(await queue.get())
        return batch

    async def _worker(self, index: int) -> None:
        conn: C | None = None
        attempts = 0
        batch: list[Output] = []
        retries = 0
        try:
            while True:
                if self.status == "disconnected" and not batch:
                    if index > 0:  # worker 0 finds out when the target is back; the others wait
                        await self._connected.wait()
                    elif conn is not None:  # another worker lost its connection: is this one alive?
                        conn = await self._checked(conn)
                        if conn is not None:
                            self._set_connected()
                if conn is None:
                    try:
                        conn = await self.connect(index)
                    except TargetDownError as exc:
                        attempts += 1
                        self._set_down(exc.reason)
                        await asyncio.sleep(backoff(attempts, RECONNECT_MIN, RECONNECT_MAX))
                        continue
                    attempts = 0
                    self._set_connected()
                if not batch:
                    batch = await self._take()
                    retries = 0
                    if not batch:  # idle for HEALTH_INTERVAL
                        conn = await self._checked(conn)
                        continue
                    self.inflight += len(batch)
                try:
                    async with asyncio.timeout(self._request_timeout):
                        failed = await self.write(conn, batch)
                except (TargetDownError, TimeoutError) as exc:
                    await self.disconnect(conn)
                    conn = None
                    self._set_down(exc.reason if isinstance(exc, TargetDownError) else "request timeout")
                    continue  # the batch waits for the next connection
                except BatchError as exc:
                    if exc.retry and retries < self._max_retries:
                        retries += 1
                        self.retried += 1
                        await asyncio.sleep(backoff(retries, RETRY_BASE, RECONNECT_MAX))
                        continue
                    failed = len(batch)
                    self.failures.warning(f"{len(batch)} outputs failed: {exc.reason}")
                self.success += len(batch) - failed
                self.failed += failed
                self.inflight -= len(batch)
                batch = []
        finally:
            if conn is not None:
                await self.disconnect(conn)

    async def _checked(self, conn: C) -> C | None:
        """`conn` if `check` passes, else None (closed, and the sink disconnected)."""
        try:
            await self.check(conn)
        except TargetDownError as exc:
            await self.disconnect(conn)
            self._set_down(exc.reason)
            return None
        return conn
