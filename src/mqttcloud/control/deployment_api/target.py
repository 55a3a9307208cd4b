"""Where a Deployment API use case acts: one deployment's stored data, its running broker and its plan.

Every presenter (the v4 and v5 routes, the console) builds a `Target` and hands it to a domain's use
cases (`<domain>/service.py`), which own the write sequence once: write and commit in a worker thread
(`<domain>/store.py` holds the rules on fields and quotas), then `push` the new desired state to the
running broker and wait until it applies it. Routes get theirs from `target_dep(group)`, which also
authenticates and authorises the request (`auth.deployment_access`).
"""

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from mqttcloud.contracts import TenantId
from mqttcloud.control.broker_client import BrokerClient
from mqttcloud.control.db import SessionDep
from mqttcloud.control.deployment_api import live
from mqttcloud.control.deployment_api.auth import DeploymentContext, deployment_access
from mqttcloud.control.deployment_api.quotas import Quotas
from mqttcloud.control.deployments.lifecycle import BrokerRuntime
from mqttcloud.control.deps import RuntimeDep

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Target:
    session: Session
    runtime: BrokerRuntime
    deployment: DeploymentContext
    quotas: Quotas

    @property
    def deployment_id(self) -> str:
        return self.deployment.deployment_id

    @property
    def tenant(self) -> TenantId:
        return TenantId(self.deployment.deployment_id)

    @property
    def node(self) -> str:
        return self.deployment.node

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

    def broker(self) -> BrokerClient:
        """The running broker's admin client. Raises: ServiceUnavailable (stopped, not running)."""
        return live.client_for(self.runtime, self.deployment)


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
        quotas: Quotas = request.app.state.deployment_api_quotas
        return Target(session=session, runtime=runtime, deployment=context, quotas=quotas)

    return dependency
