"""The shadow service's MQTT side: `shadow/{id}` requests from devices, answered on `shadow/{id}/reply`.

A device publishes `{"method": "PUT"|"PATCH"|"GET", "payload": {...}}` to `shadow/{shadow_id}`. For each
running broker of a Dedicated deployment (every node: `<id>`, `<id>.2`, ...) a relay task long-polls
that node's admin `capture` op for `shadow/+` (`contracts.CaptureArgs`: a node captures the messages
published on it, so each request is seen once cluster-wide), applies each request with
`service.write_document` and publishes the document (or `{"code", "message"}` for an error, v4 codes) on
`shadow/{shadow_id}/reply` through the same node; the cluster carries it to the device's node.

Rules:
- `ShadowRelays` owns every relay task: started when the supervisor reports a Dedicated broker
  running, cancelled when it stops or fails, and all cancelled and awaited when the lifespan ends.
  A relay never raises: a broker that is unreachable is polled again after `RETRY` seconds.
- Requests are applied one at a time per deployment (one lock shared by its nodes' relays), each
  node's in the order it routed them.
- Serverless deployments share one broker and are not served (the shadow service is Dedicated only).
"""

import asyncio
import base64
import contextlib
import functools
import logging
from collections.abc import Callable
from types import TracebackType

from mqttcloud.contracts import CapturedMessage, TenantId
from mqttcloud.control.broker_client import BrokerClient, BrokerError, BrokerUnavailable
from mqttcloud.control.db import Database
from mqttcloud.control.deployment_api.errors import v4_code
from mqttcloud.control.deployment_api.quotas import Quotas
from mqttcloud.control.deployment_api.shadows import service
from mqttcloud.control.deployments import service as deployments
from mqttcloud.control.deployments.lifecycle import BrokerRuntime
from mqttcloud.control.errors import ApiError, BadRequest
from mqttcloud.control.supervisor import BrokerStatus

logger = logging.getLogger(__name__)

CONSUMER = "shadows"
FILTER = "shadow/+"
POLL_WAIT = 5.0  # seconds a capture call waits for a request (the admin client allows 10)
RETRY = 0.5  # seconds before polling again a broker that did not answer


def parse_request(payload: bytes) -> tuple[service.Method, object]:
    """The method and payload of one `shadow/{id}` message. Raises: BadRequest."""
    request = service.parse_json(payload, field="message")
    if not isinstance(request, dict):
        raise BadRequest('a shadow request is a JSON object {"method", "payload"}', field="message")
    method = request.get("method")
    if not isinstance(method, str) or method.upper() not in service.Method.__members__:
        raise BadRequest("method must be PUT, PATCH or GET", field="method")
    return service.Method(method.upper()), request.get("payload", {})


def error_body(error: ApiError) -> dict[str, object]:
    """An error answer on the reply topic: the v4 code and message the HTTP API would give."""
    return {"code": v4_code(error.status_code, error.code), "message": error.message}


class ShadowRelay:
    """Serves one Dedicated deployment's `shadow/+` requests until cancelled."""

    def __init__(
        self,
        runtime: BrokerRuntime,
        database: Database,
        quotas: Callable[[], Quotas],
        broker_id: str,
        lock: asyncio.Lock | None = None,
    ):
        self.runtime = runtime
        self.database = database
        self.quotas = quotas
        self.broker_id = broker_id  # the node served: `<id>` or `<id>.<n>`
        self.deployment_id = broker_id.partition(".")[0]
        self.tenant = TenantId(self.deployment_id)
        self.lock = lock or asyncio.Lock()  # the deployment's: its nodes apply requests one at a time

    async def run(self) -> None:
        while True:
            broker = service.broker_of(self.runtime, self.broker_id)
            if broker is None:
                await asyncio.sleep(RETRY)
                continue
            try:
                batch = await broker.capture(self.tenant, consumer=CONSUMER, filters=[FILTER], wait=POLL_WAIT)
            except (BrokerUnavailable, BrokerError) as exc:
                logger.debug("shadow relay %s: %s", self.deployment_id, exc)
                await asyncio.sleep(RETRY)
                continue
            if batch.dropped:
                logger.warning(
                    "shadow relay %s: the broker dropped %d requests (queue full)",
                    self.deployment_id,
                    batch.dropped,
                )
            for message in batch.messages:
                await self.handle(broker, message)

    async def handle(self, broker: BrokerClient, message: CapturedMessage) -> None:
        """Apply one request and publish the answer; any failure becomes an error answer or a log line."""
        shadow_id = message.topic.split("/", 1)[1]
        try:
            method, payload = parse_request(base64.b64decode(message.payload_b64))
            async with self.lock:
                document = await asyncio.to_thread(self._apply, shadow_id, method, payload)
            body = document.body()
        except ApiError as error:
            body = error_body(error)
        except Exception:
            logger.exception("shadow relay %s: request on %s failed", self.deployment_id, message.topic)
            body = {"code": v4_code(500, "INTERNAL_ERROR"), "message": "internal error"}
        await service.reply(broker, tenant=self.tenant, shadow_id=shadow_id, body=body)

    def _apply(self, shadow_id: str, method: service.Method, payload: object) -> service.Document:
        with self.database.session() as session:
            return service.write_document(
                session,
                deployment_id=self.deployment_id,
                shadow_id=shadow_id,
                method=method,
                payload=payload,
                max_bytes=self.quotas().max_shadow_document_bytes,
            )


class ShadowRelays:
    """Owns one `ShadowRelay` task per running Dedicated broker; the lifespan enters it (`async with`)."""

    def __init__(self, runtime: BrokerRuntime, database: Database, quotas: Callable[[], Quotas]):
        self.runtime = runtime
        self.database = database
        self.quotas = quotas
        self.tasks: dict[str, asyncio.Task[None]] = {}  # the running relay of each broker (node)
        self.locks: dict[str, asyncio.Lock] = {}  # per deployment, shared by its nodes' relays
        self._all: set[asyncio.Task[None]] = set()  # those, and cancelled ones not finished yet
        self._open = False

    async def __aenter__(self) -> "ShadowRelays":
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

    def on_status(self, broker_id: str, status: BrokerStatus) -> None:
        if broker_id == deployments.SERVERLESS_BROKER_ID or not self._open:
            return
        if status is BrokerStatus.RUNNING and broker_id not in self.tasks:
            lock = self.locks.setdefault(broker_id.partition(".")[0], asyncio.Lock())
            relay = ShadowRelay(self.runtime, self.database, self.quotas, broker_id, lock)
            task = asyncio.create_task(relay.run(), name=f"shadow-relay-{broker_id}")
            self.tasks[broker_id] = task
            self._all.add(task)
            task.add_done_callback(functools.partial(self._done, broker_id))
        elif status in (BrokerStatus.STOPPED, BrokerStatus.FAILED):
            stopped = self.tasks.pop(broker_id, None)
            if stopped is not None:
                stopped.cancel()

    def _done(self, broker_id: str, task: asyncio.Task[None]) -> None:
        self._all.discard(task)
        if self.tasks.get(broker_id) is task:
            del self.tasks[broker_id]
        if not task.cancelled() and task.exception() is not None:
            logger.error("shadow relay %s ended", broker_id, exc_info=task.exception())
