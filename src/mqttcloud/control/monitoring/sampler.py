"""The platform's monitoring task: every `interval` seconds, sample every running deployment and store it.

Started by the application's lifespan beside the supervisor (`app.py`), so history is recorded whether or
not a page is open. Each tick is aligned on a multiple of the interval (one sample per period of the
finest tier) and its work is bounded: at most `CONCURRENCY` admin calls at once, each given at most
`CALL_TIMEOUT` seconds (and never more than the interval); a broker that does not answer just has no
point this tick, which the charts show as a gap. Points are folded into the database in one transaction
per tick, in a worker thread; old rows are pruned once a minute.

Rule: a failure of one tick (a broker, the database) is logged and the next tick runs as usual.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from types import TracebackType

from sqlalchemy.exc import IntegrityError

from mqttcloud.contracts import TenantId
from mqttcloud.control.broker_client import BrokerError, BrokerUnavailable
from mqttcloud.control.db import Database
from mqttcloud.control.deployments import service as deployments
from mqttcloud.control.deployments.lifecycle import BrokerRuntime
from mqttcloud.control.monitoring import store
from mqttcloud.control.monitoring.series import MINUTE, Point, Reading, point, tiers

logger = logging.getLogger(__name__)

CONCURRENCY = 16  # admin calls in flight at once
CALL_TIMEOUT = 5.0  # seconds one deployment's stats + metrics may take
MAX_GAP_PERIODS = 2.5  # readings further apart than this many intervals give no rate


class Sampler:
    """Owns the sampling task (an async context manager) and the last reading of each deployment."""

    def __init__(
        self,
        runtime: BrokerRuntime,
        database: Database,
        *,
        interval: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.runtime = runtime
        self.database = database
        self.interval = interval
        self.tiers = tiers(interval)
        self._clock = clock
        self._previous: dict[str, Reading] = {}
        self._pruned_at = 0.0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "Sampler":
        self._task = asyncio.create_task(self._run(), name="monitoring-sampler")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            now = self._clock()
            at = (now // self.interval + 1) * self.interval
            await asyncio.sleep(at - now)
            try:
                await self.tick(at)
            except Exception:  # a tick's failure must not end the history (module rule)
                logger.exception("monitoring tick at %s failed", at)

    async def tick(self, at: float) -> list[Point]:
        """Sample every running deployment once, store the points (time `at`), and return them."""
        targets = await asyncio.to_thread(self._targets)
        limit = asyncio.Semaphore(CONCURRENCY)
        timeout = min(CALL_TIMEOUT, float(self.interval))
        readings: dict[str, Reading] = {}

        async def sample(deployment_id: str, broker_id: str) -> None:
            async with limit:
                try:
                    async with asyncio.timeout(timeout):
                        reading = await self._read(deployment_id, broker_id, at)
                except TimeoutError:
                    logger.debug("no monitoring sample of %s: no answer within %s s", deployment_id, timeout)
                    return
            if reading is not None:
                readings[deployment_id] = reading

        async with asyncio.TaskGroup() as group:
            for deployment_id, broker_id in targets:
                group.create_task(sample(deployment_id, broker_id))
        max_gap = MAX_GAP_PERIODS * self.interval
        points = [
            point(deployment_id, self._previous.get(deployment_id), reading, max_gap=max_gap)
            for deployment_id, reading in sorted(readings.items())
        ]
        alive = {deployment_id for deployment_id, _broker_id in targets}
        self._previous = {d: r for d, r in self._previous.items() if d in alive} | readings
        prune = at - self._pruned_at >= MINUTE
        await asyncio.to_thread(self._store, points, at, prune)
        if prune:
            self._pruned_at = at
        return points

    def _targets(self) -> list[tuple[str, str]]:
        """(deployment id, broker id) of every deployment that should be running."""
        with self.database.read_session() as session:
            return [
                (d.id, deployments.SERVERLESS_BROKER_ID if d.deployment_type.is_serverless else d.id)
                for d in deployments.desired_deployments(session)
                if d.desired_running
            ]

    async def _read(self, deployment_id: str, broker_id: str, at: float) -> Reading | None:
        supervisor = self.runtime.supervisor
        client = supervisor.client(broker_id) if supervisor is not None else None
        if client is None:
            return None
        tenant = TenantId(deployment_id)
        try:
            stats = await client.stats(tenant)
            metrics = await client.metrics(tenant)
        except (BrokerError, BrokerUnavailable) as exc:
            logger.debug("no monitoring sample of %s: %s", deployment_id, exc)
            return None
        return Reading.from_broker(at, stats.values, metrics.values)

    def _store(self, points: list[Point], at: float, prune: bool) -> None:
        with self.database.session() as session:
            if points:
                try:
                    store.record(session, points, self.tiers)
                except IntegrityError:  # a deployment deleted during the tick: this tick has no points
                    session.rollback()
                    logger.info("monitoring tick at %s dropped: a deployment was deleted meanwhile", at)
            if prune:
                store.prune(session, at, self.tiers)
