"""One asyncio task per running Dedicated broker (each node of a deployment is one), started when the
supervisor reports it running and cancelled when it stops or fails: the shape of every platform job that
follows brokers (the shadow relays, the client-event collectors). This module owns the tasks' lifetimes;
what a task does is its owner's. A task that ends by itself is logged if it failed, and started again at
the broker's next `running` report.
"""

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from mqttcloud.control.deployments import service as deployments
from mqttcloud.control.supervisor import BrokerStatus

if TYPE_CHECKING:  # a type only: importing lifecycle first runs into deployment_api's import cycle
    from mqttcloud.control.deployments.lifecycle import BrokerRuntime

logger = logging.getLogger(__name__)

#: What runs for one broker: called with its broker id (`<deployment id>` or `<deployment id>.<n>`).
Job = Callable[[str], Coroutine[Any, Any, None]]


class BrokerTasks:
    """Runs `job(broker_id)` while each Dedicated broker runs; entered by the lifespan (`async with`)."""

    def __init__(self, runtime: "BrokerRuntime", job: Job, *, name: str) -> None:
        self.runtime = runtime
        self.job = job
        self.name = name  # task names are `<name>-<broker id>`
        self.tasks: dict[str, asyncio.Task[None]] = {}  # the running task of each broker
        self._all: set[asyncio.Task[None]] = set()  # those, extra ones, and cancelled ones not finished
        self._open = False

    async def __aenter__(self) -> Self:
        self._open = True
        self.runtime.status_listeners.append(self.on_status)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._open = False
        with contextlib.suppress(ValueError):
            self.runtime.status_listeners.remove(self.on_status)
        self.tasks.clear()
        tasks = list(self._all)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run `coro` (not tied to a broker, e.g. a periodic purge) until the exit."""
        task = asyncio.create_task(coro, name=name)
        self._all.add(task)
        task.add_done_callback(functools.partial(self._done, None))
        return task

    def on_status(self, broker_id: str, status: BrokerStatus) -> None:
        if broker_id == deployments.SERVERLESS_BROKER_ID or not self._open:
            return
        if status is BrokerStatus.RUNNING and broker_id not in self.tasks:
            task = asyncio.create_task(self.job(broker_id), name=f"{self.name}-{broker_id}")
            self.tasks[broker_id] = task
            self._all.add(task)
            task.add_done_callback(functools.partial(self._done, broker_id))
        elif status in (BrokerStatus.STOPPED, BrokerStatus.FAILED):
            stopped = self.tasks.pop(broker_id, None)
            if stopped is not None:
                stopped.cancel()

    def _done(self, broker_id: str | None, task: asyncio.Task[None]) -> None:
        self._all.discard(task)
        if broker_id is not None and self.tasks.get(broker_id) is task:
            del self.tasks[broker_id]
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s ended", task.get_name(), exc_info=task.exception())
