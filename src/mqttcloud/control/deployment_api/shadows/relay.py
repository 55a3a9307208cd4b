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
import logging
from collections.abc import Callable

from mqttcloud.contracts import CapturedMessage, TenantId
from mqttcloud.control.broker_client import BrokerClient, BrokerError, BrokerUnavailable
from mqttcloud.control.db import Database
from mqttcloud.control.deployment_api.errors import v4_code
from mqttcloud.control.deployment_api.quotas import Quotas
from mqttcloud.control.deployment_api.shadows import service
from mqttcloud.control.deployments.broker_tasks import BrokerTasks
from mqttcloud.control.deployments.lifecycle import BrokerRuntime
from mqttcloud.control.errors import ApiError, BadRequest

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


class ShadowRelays(BrokerTasks):
    """One `ShadowRelay` per running Dedicated broker (`BrokerTasks`); the lifespan enters it."""

    def __init__(self, runtime: BrokerRuntime, database: Database, quotas: Callable[[], Quotas]):
        super().__init__(runtime, self._relay, name="shadow-relay")
        self.database = database
        self.quotas = quotas
        self.locks: dict[str, asyncio.Lock] = {}  # per deployment, shared by its nodes' relays

    async def _relay(self, broker_id: str) -> None:
        lock = self.locks.setdefault(broker_id.partition(".")[0], asyncio.Lock())
        await ShadowRelay(self.runtime, self.database, self.quotas, broker_id, lock).run()
