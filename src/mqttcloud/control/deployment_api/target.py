"""Where a Deployment API use case acts: one deployment's running broker (`Live`), and for stored data
also its database session and plan (`Target`).

Every presenter (the v4 and v5 routes, the console) builds one and hands it to a domain's use cases
(`<domain>/service.py`), which own each sequence once: a write runs and commits in a worker thread
(`<domain>/store.py` holds the rules on fields and quotas), then pushes the new desired state to the
running broker and waits until it applies it. Routes get theirs from `target_dep(group)` or, for the live
domains that touch no table, the lighter `live_dep(group)`; both authenticate and authorise the request
first (`auth.deployment_access`).
"""

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from mqttcloud.contracts import TenantId
from mqttcloud.control.db import SessionDep
from mqttcloud.control.deployment_api import live
from mqttcloud.control.deployment_api.auth import DeploymentContext, deployment_access, quotas_of
from mqttcloud.control.deployment_api.nodes import Nodes
from mqttcloud.control.deployment_api.quotas import Quotas
from mqttcloud.control.deployments.lifecycle import BrokerRuntime
from mqttcloud.control.deps import RuntimeDep

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Live:
    """A deployment's running broker, for use cases on live data (clients, publish, metrics)."""

    runtime: BrokerRuntime
    deployment: DeploymentContext

    @property
    def deployment_id(self) -> str:
        return self.deployment.deployment_id

    @property
    def tenant(self) -> TenantId:
        return TenantId(self.deployment.deployment_id)

    @property
    def node(self) -> str:
        return self.deployment.node

    def broker(self) -> Nodes:
        """The deployment's running nodes, as one broker. Raises: ServiceUnavailable (stopped, not
        running)."""
        return live.nodes_for(self.runtime, self.deployment)


@dataclass(frozen=True, slots=True)
class Target(Live):
    """A deployment's stored data (the request's session) and plan, besides its running broker."""

    session: Session
    quotas: Quotas

    def auth_entries(self) -> int:
        """How many authentication users the deployment's plan allows."""
        return self.quotas.auth_entries(
            serverless=self.deployment.serverless, connections=self.deployment.connections
        )

    def acl_entries(self) -> int:
        """How many ACL rules the deployment's plan allows."""
        return self.quotas.acl_entries(
            serverless=self.deployment.serverless, connections=self.deployment.connections
        )

    async def read(self, query: Callable[[Session], T]) -> T:
        """Run a database read in a worker thread (the event loop never waits on the database)."""
        return await asyncio.to_thread(query, self.session)

    async def write(self, change: Callable[[Session], T]) -> T:
        """Run a write (which commits) in a worker thread, then push the new state to the broker."""
        result = await asyncio.to_thread(change, self.session)
        await live.push(self.runtime, self.deployment)
        return result


def target_dep(group: str) -> Callable[..., Coroutine[Any, Any, Target]]:
    """Dependency: the authenticated, authorised request's `Target` (see `auth.deployment_access`).

    The key is checked first: a refused request never opens a database session."""
    access = Depends(deployment_access(group))

    async def dependency(
        context: Annotated[DeploymentContext, access],
        request: Request,
        session: SessionDep,
        runtime: RuntimeDep,
    ) -> Target:
        return Target(runtime=runtime, deployment=context, session=session, quotas=quotas_of(request))

    return dependency


def live_dep(group: str) -> Callable[..., Coroutine[Any, Any, Live]]:
    """Dependency: the authenticated, authorised request's `Live` (no database session is opened)."""
    access = Depends(deployment_access(group))

    async def dependency(context: Annotated[DeploymentContext, access], request: Request) -> Live:
        runtime: BrokerRuntime = request.app.state.runtime
        return Live(runtime=runtime, deployment=context)

    return dependency
