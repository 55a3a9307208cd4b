"""Live operations on a deployment's running broker, through its admin channel (`control/broker_client.py`).

Rule: every live endpoint gets its deployment's running nodes from `nodes_for(runtime, context)` (all of
them, as one broker: `nodes.Nodes`) or, to publish, one node from `client_for`; a deployment that is
stopped, or none of whose nodes runs (yet), answers 503 `SERVICE_UNAVAILABLE` (v4 code 101, "RPC
error"), while stored data (users, ACL, bans) stays readable and editable. Broker-reported errors become
API errors here: CLIENTID_NOT_FOUND → 404, BAD_REQUEST → 400. A write waits until every node applied it.
"""

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

from mqttcloud.control.broker_client import BrokerClient, BrokerError, BrokerUnavailable
from mqttcloud.control.deployment_api.auth import DeploymentContext
from mqttcloud.control.deployment_api.errors import ServiceUnavailable
from mqttcloud.control.deployment_api.nodes import Node, Nodes
from mqttcloud.control.deployments.lifecycle import BrokerRuntime
from mqttcloud.control.errors import ApiError, BadRequest, NotFound

T = TypeVar("T")


def nodes_for(runtime: BrokerRuntime, context: DeploymentContext) -> Nodes:
    """The deployment's running nodes. Raises: ServiceUnavailable (stopped, or no node running)."""
    if not context.desired_running:
        raise ServiceUnavailable("Deployment is stopped", code="SERVICE_UNAVAILABLE")
    running = runtime.running_nodes(context.broker_id)
    if not running:
        raise ServiceUnavailable("Deployment is not running", code="SERVICE_UNAVAILABLE")
    return Nodes([Node(name, client) for name, client in running])


def client_for(runtime: BrokerRuntime, context: DeploymentContext) -> BrokerClient:
    """One running node (the first) of the deployment, to publish through: the cluster forwards.

    Raises: ServiceUnavailable when the deployment is stopped or none of its nodes runs."""
    return nodes_for(runtime, context).first


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
    if supervisor is None:
        return
    members = [context.broker_id] if context.serverless else runtime.node_ids(context.broker_id)
    targets = {member: runtime.desired_generation(member) for member in members}
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        pending = False
        for member, target in targets.items():
            ready = supervisor.ready(member)
            pending |= target is not None and ready is not None and ready.spec_generation < target
        if not pending:
            return
        await asyncio.sleep(0.02)
