"""Live operations on a deployment's running broker, through its admin channel (`control/broker_client.py`).

Rule: every live endpoint gets its client from `client_for(runtime, context)`; a deployment that is
stopped, or whose broker is not running (yet), answers 503 `SERVICE_UNAVAILABLE` (v4 code 101, "RPC
error"), while stored data (users, ACL, bans) stays readable and editable. Broker-reported errors become
API errors here: CLIENTID_NOT_FOUND → 404, BAD_REQUEST → 400.
"""

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

from mqttcloud.control.broker_client import BrokerClient, BrokerError, BrokerUnavailable
from mqttcloud.control.deployment_api.auth import DeploymentContext
from mqttcloud.control.deployment_api.errors import ServiceUnavailable
from mqttcloud.control.deployments.lifecycle import BrokerRuntime
from mqttcloud.control.errors import ApiError, BadRequest, NotFound

T = TypeVar("T")


def client_for(runtime: BrokerRuntime, context: DeploymentContext) -> BrokerClient:
    """Raises: ServiceUnavailable when the deployment is stopped or its broker is not running."""
    supervisor = runtime.supervisor
    if not context.desired_running:
        raise ServiceUnavailable("Deployment is stopped", code="SERVICE_UNAVAILABLE")
    client = supervisor.client(context.broker_id) if supervisor is not None else None
    if client is None:
        raise ServiceUnavailable("Deployment is not running", code="SERVICE_UNAVAILABLE")
    return client


async def call(awaitable: Awaitable[T]) -> T:
    """Await one admin call, turning broker errors into API errors."""
    try:
        return await awaitable
    except BrokerUnavailable as exc:
        raise ServiceUnavailable(f"Deployment is not reachable: {exc}", code="SERVICE_UNAVAILABLE") from None
    except BrokerError as exc:
        raise api_error(exc) from None


def api_error(exc: BrokerError) -> ApiError:
    if exc.code == "CLIENTID_NOT_FOUND":
        return NotFound("Client ID not found", code="CLIENTID_NOT_FOUND")
    if exc.code == "NOT_FOUND":
        return ServiceUnavailable("Deployment is not running", code="SERVICE_UNAVAILABLE")
    if exc.code in {"BAD_REQUEST", "BAD_TOPIC", "PACKET_TOO_LARGE"}:
        return BadRequest(exc.message, code=exc.code)
    return ApiError(exc.message, code=exc.code)


APPLY_WAIT = 2.0  # seconds a write waits for the running broker to apply the new spec


async def push(runtime: BrokerRuntime, context: DeploymentContext, *, within: float = APPLY_WAIT) -> None:
    """Hand the new desired state to the supervisor, then wait (bounded) until the running broker applied it.

    So a write answers only once the broker enforces it (users, ACL, bans "change what the broker allows
    immediately"). A stopped deployment returns at once: its broker gets the data when it starts.
    """
    await runtime.reconcile()
    supervisor = runtime.supervisor
    target = runtime.desired_generation(context.broker_id)
    if supervisor is None or target is None:
        return
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        ready = supervisor.ready(context.broker_id)
        if ready is None or ready.spec_generation >= target:
            return
        await asyncio.sleep(0.02)
