"""`AuditLog`: entries queued by the request path, written to the database in batches by one task.

The middleware calls `record` (a deque append, no I/O); the writer task, owned by the app's lifespan
(`async with audit_log:`), wakes when a batch is full or `flush_seconds` passed, writes everything queued
in batched INSERTs from a worker thread, and once an hour deletes what is older than the retention
period. On exit it writes what is left. With `flush_seconds=None` nothing is written on a schedule, only
by `flush()` and on exit (a database whose one connection a writer thread must not share: tests).

Rule: an entry is never silently lost. The queue is bounded (`capacity`); when the database cannot keep
up and it is full, the oldest entries are shed, counted (`dropped`, on `/metrics`) and logged. A batch
that fails to write is retried on the next round (and then shed like any other when the queue is full).
"""

import asyncio
import collections
import contextlib
import datetime as dt
import logging
import time
from types import TracebackType

from sqlalchemy.exc import SQLAlchemyError

from mqttcloud.control.audit import service
from mqttcloud.control.audit.service import NewEntry
from mqttcloud.control.db import Database
from mqttcloud.control.health.exposition import Family

logger = logging.getLogger(__name__)

PURGE_INTERVAL = 3600.0


class AuditLog:
    def __init__(
        self,
        database: Database,
        *,
        retention_days: int,
        flush_seconds: float | None = 1.0,
        batch_size: int = 500,
        capacity: int = 20_000,
    ) -> None:
        self.database = database
        self.retention_days = retention_days
        self.flush_seconds = flush_seconds
        self.batch_size = batch_size
        self.capacity = capacity
        self.written = 0
        self.dropped = 0
        self._pending: collections.deque[NewEntry] = collections.deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._lock = asyncio.Lock()  # one write at a time (the timer's and an explicit flush)
        self._next_purge = 0.0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def record(self, entry: NewEntry) -> None:
        """Queue an entry (called on the event loop, never blocks)."""
        if len(self._pending) >= self.capacity:
            self._pending.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.error("audit log queue full: %d entries shed so far", self.dropped)
        self._pending.append(entry)
        if len(self._pending) >= self.batch_size and self.flush_seconds is not None:
            self._wake.set()

    async def flush(self) -> None:
        """Write everything queued now (and purge if due)."""
        async with self._lock:
            while self._pending:
                batch = [self._pending.popleft() for _ in range(min(len(self._pending), self.batch_size))]
                try:
                    await asyncio.to_thread(self._write, batch)
                except SQLAlchemyError:
                    logger.warning("could not write %d audit entries; retrying", len(batch), exc_info=True)
                    self._pending.extendleft(reversed(batch))
                    break
                self.written += len(batch)
            if time.monotonic() >= self._next_purge:
                self._next_purge = time.monotonic() + PURGE_INTERVAL
                await self._purge()

    def _write(self, batch: list[NewEntry]) -> None:
        with self.database.session() as session:
            service.write_entries(session, batch)

    async def _purge(self) -> None:
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=self.retention_days)
        try:
            removed = await asyncio.to_thread(self._delete_before, cutoff)
        except SQLAlchemyError:
            logger.warning("could not apply the audit log retention", exc_info=True)
            return
        if removed:
            logger.info("audit log retention: %d entries older than %s deleted", removed, cutoff)

    def _delete_before(self, cutoff: dt.datetime) -> int:
        with self.database.session() as session:
            return service.purge_before(session, cutoff=cutoff)

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_seconds)
            self._wake.clear()
            if self.flush_seconds is not None:
                await self.flush()

    async def __aenter__(self) -> "AuditLog":
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="audit-log-writer")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Stopped by request, not cancelled: a batch being written finishes instead of being lost.
        task, self._task = self._task, None
        self._stopping = True
        self._wake.set()
        if task is not None:
            await task
        await self.flush()

    def families(self) -> list[Family]:
        """The log's counters for `/metrics`."""
        return [
            Family(
                "mqttcloud_audit_entries_written_total",
                "counter",
                "Audit log entries stored",
                [("", {}, self.written)],
            ),
            Family(
                "mqttcloud_audit_entries_dropped_total",
                "counter",
                "Audit log entries shed because the queue was full",
                [("", {}, self.dropped)],
            ),
            Family(
                "mqttcloud_audit_entries_pending",
                "gauge",
                "Audit log entries waiting to be written",
                [("", {}, len(self._pending))],
            ),
        ]
