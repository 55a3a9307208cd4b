"""Moves each running Dedicated broker's recorded client events into the platform database.

For every Dedicated broker (every node of a deployment) the supervisor reports running, one task
long-polls the admin op `events` (`contracts.EventsArgs`) and writes each batch with
`service.write_events` from a worker thread. A batch (`take_batch`) is up to `MAX_BATCH` events taken
`TAKE` per call: a broker encodes a reply in one piece on its event loop, so a small reply keeps its
MQTT traffic moving while a large INSERT keeps the database work low. After a batch that emptied the
broker's buffer it waits `LINGER` seconds so a burst (a reconnect storm) is stored in a few large
INSERTs, not thousands of small ones.
Every `PURGE_INTERVAL` the collectors apply the retention period and the per-deployment cap
(`service.purge`).

Rules:
- `EventCollectors` owns every task: started on RUNNING, cancelled on STOPPED/FAILED, all cancelled and
  awaited when the lifespan ends. A collector never raises: an unreachable broker or a failed write is
  retried after `RETRY` seconds (a batch that could not be written is kept and written first).
- Events the broker shed are never silently lost: they are counted (`shed`, on `/metrics`) and logged.
- Serverless deployments share one broker and are not collected (EMQX offers Event History on Dedicated
  deployments only).
"""

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from mqttcloud.contracts import ClientEvent, TenantId
from mqttcloud.control.broker_client import BrokerClient, BrokerError, BrokerUnavailable
from mqttcloud.control.db import Database
from mqttcloud.control.deployments.broker_tasks import BrokerTasks
from mqttcloud.control.events import service
from mqttcloud.control.health.exposition import Family

if TYPE_CHECKING:  # a type only: importing lifecycle first runs into deployment_api's import cycle
    from mqttcloud.control.deployments.lifecycle import BrokerRuntime

logger = logging.getLogger(__name__)

POLL_WAIT = 5.0  # seconds an `events` call waits for one (the admin client allows 10)
TAKE = 1000  # events per `events` call: the broker's reply is encoded in one piece (~0.5 ms per 1,000)
MAX_BATCH = 5000  # events written per INSERT
LINGER = 0.5  # seconds between two calls after a small batch
RETRY = 1.0  # seconds before calling again a broker that did not answer, or writing again
PURGE_INTERVAL = 600.0


@dataclass(slots=True)
class Batch:
    events: list[ClientEvent] = field(default_factory=list)
    shed: int = 0  # events the broker reported it had no room for
    replies: int = 0  # `events` calls answered
    recorded: int = 0  # events the broker recorded since it started, as of the last reply
    drained: bool = False  # the last reply was short: the broker had nothing more


async def take_batch(
    broker: BrokerClient, tenant: TenantId, *, wait: float, take: int = TAKE, max_batch: int = MAX_BATCH
) -> Batch:
    """Up to `max_batch` events of `tenant`, at most `take` per call; only the first call waits (up to
    `wait` seconds) for an event, the next ones follow while the broker answers full replies.

    Raises:
        BrokerUnavailable, BrokerError: from the first call only; a later failure ends the batch with
            what was taken, which the broker no longer has.
    """
    batch = Batch()
    while len(batch.events) < max_batch:
        asked = min(take, max_batch - len(batch.events))
        try:
            reply = await broker.events(tenant, wait=wait if not batch.replies else 0.0, max_events=asked)
        except (BrokerUnavailable, BrokerError):
            if not batch.replies:
                raise
            return batch
        batch.replies += 1
        batch.shed += reply.shed
        batch.recorded = reply.recorded
        batch.events += reply.events
        if len(reply.events) < asked:
            batch.drained = True
            break
    return batch


class EventCollectors:
    """One collecting task per running Dedicated broker, and the periodic purge; entered by the lifespan."""

    def __init__(
        self,
        database: Database,
        *,
        retention_days: int,
        max_per_deployment: int,
        purge_seconds: float | None = PURGE_INTERVAL,
    ) -> None:
        self.database = database
        self.purge_seconds = purge_seconds  # None: only `purge()` purges (a database a thread must not share)
        self.retention_days = retention_days
        self.max_per_deployment = max_per_deployment
        self.stored = 0
        self.shed = 0  # reported by brokers: events their buffer had no room for
        self.purged = 0
        self.runtime: BrokerRuntime | None = None
        self._tasks: BrokerTasks | None = None  # one collecting task per broker, and the purge loop

    def attach(self, runtime: "BrokerRuntime") -> "EventCollectors":
        self.runtime = runtime
        self._tasks = BrokerTasks(runtime, self._collect, name="client-events")
        return self

    async def __aenter__(self) -> "EventCollectors":
        assert self._tasks is not None, "attach(runtime) first"
        await self._tasks.__aenter__()
        if self.purge_seconds is not None:
            self._tasks.spawn(self._purge_loop(self.purge_seconds), "client-events-purge")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._tasks is not None:
            await self._tasks.__aexit__(exc_type, exc, tb)

    async def _collect(self, broker_id: str) -> None:
        assert self.runtime is not None
        deployment_id = broker_id.partition(".")[0]  # node n of a deployment is broker `<id>.<n>`
        tenant = TenantId(deployment_id)
        unwritten: list[ClientEvent] = []
        while True:
            if unwritten:
                try:
                    await asyncio.to_thread(self._write, deployment_id, unwritten)
                except SQLAlchemyError:
                    logger.warning("client events of %s: cannot store %d; retrying", deployment_id,
                                   len(unwritten), exc_info=True)  # fmt: skip
                    await asyncio.sleep(RETRY)
                    continue
                self.stored += len(unwritten)
                unwritten = []
            supervisor = self.runtime.supervisor
            broker = None if supervisor is None else supervisor.client(broker_id)
            if broker is None:
                await asyncio.sleep(RETRY)
                continue
            try:
                batch = await take_batch(broker, tenant, wait=POLL_WAIT)
            except (BrokerUnavailable, BrokerError) as exc:
                logger.debug("client events of %s: %s", deployment_id, exc)
                await asyncio.sleep(RETRY)
                continue
            if batch.shed:
                self.shed += batch.shed
                logger.warning("client events of %s: the broker shed %d events (buffer full)", deployment_id,
                               batch.shed)  # fmt: skip
            unwritten = batch.events
            if batch.drained:
                await asyncio.sleep(LINGER)

    def _write(self, deployment_id: str, events: list[ClientEvent]) -> None:
        with self.database.session() as session:
            service.write_events(session, deployment_id=deployment_id, events=events)

    async def purge(self) -> int:
        """Apply the retention period and the per-deployment cap now; returns the rows deleted."""
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=self.retention_days)
        removed = await asyncio.to_thread(self._purge, cutoff)
        self.purged += removed
        if removed:
            logger.info("client event history: %d events deleted (retention, size cap)", removed)
        return removed

    def _purge(self, cutoff: dt.datetime) -> int:
        with self.database.session() as session:
            return service.purge(session, cutoff=cutoff, max_per_deployment=self.max_per_deployment)

    async def _purge_loop(self, every: float) -> None:
        while True:
            try:
                await self.purge()
            except SQLAlchemyError:
                logger.warning("could not apply the client event history retention", exc_info=True)
            await asyncio.sleep(every)

    def families(self) -> list[Family]:
        """The collectors' counters for `/metrics`."""
        return [
            Family("mqttcloud_client_events_stored_total", "counter", "Client events stored",
                   [("", {}, self.stored)]),
            Family("mqttcloud_client_events_shed_total", "counter",
                   "Client events brokers shed because their buffer was full", [("", {}, self.shed)]),
            Family("mqttcloud_client_events_purged_total", "counter",
                   "Client events deleted by retention or the size cap", [("", {}, self.purged)]),
        ]  # fmt: skip
