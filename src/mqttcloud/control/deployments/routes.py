"""Platform API deployment routes (spec §2.1.2): list, create, read, update (name, `nodes`), start, stop,
delete.

Thin: authenticate (dependency), call one service function in a worker thread, check the project scope,
ask the broker runtime to reconcile after a write, return a schema.
"""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from mqttcloud.control.api_keys.models import Scope
from mqttcloud.control.auth import Principal, platform_access
from mqttcloud.control.config import Settings
from mqttcloud.control.db import Database, SessionDep
from mqttcloud.control.deployments import service
from mqttcloud.control.deployments.cache import CachedView, ViewCache
from mqttcloud.control.deployments.schemas import (
    DeploymentCreate,
    DeploymentOperation,
    DeploymentOut,
    DeploymentUpdate,
)
from mqttcloud.control.deps import RuntimeDep, SettingsDep
from mqttcloud.control.errors import error_responses

router = APIRouter(tags=["deployments"])


def _key(rule: str) -> object:
    return Depends(platform_access(Scope.DEPLOYMENTS, rule))


ListKey = Annotated[Principal, _key("deployments.list")]
CreateKey = Annotated[Principal, _key("deployments.create")]
GetKey = Annotated[Principal, _key("deployments.get")]
DeleteKey = Annotated[Principal, _key("deployments.delete")]
UpdateKey = Annotated[Principal, _key("deployments.update")]
StartKey = Annotated[Principal, _key("deployments.start")]
StopKey = Annotated[Principal, _key("deployments.stop")]


@router.get("/deployments", responses=error_responses(401, 403, 429, 500))
async def list_deployments(
    principal: ListKey, session: SessionDep, settings: SettingsDep
) -> list[DeploymentOut]:
    """List the deployments in the key's projects, as a bare JSON array."""
    views = await asyncio.to_thread(service.list_views, session, visible_projects=principal.visible_projects)
    return [service.to_schema(settings, view) for view in views]


@router.post(
    "/deployments", status_code=201, responses=error_responses(400, 401, 403, 404, 409, 422, 429, 500)
)
async def create_deployment(
    body: DeploymentCreate,
    principal: CreateKey,
    session: SessionDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
) -> DeploymentOut:
    """Create a Dedicated or Serverless deployment; it starts in `pending` and moves on to `running`."""
    principal.require_project(body.project_id)
    deployment = await asyncio.to_thread(service.create_deployment, session, settings=settings, request=body)
    await runtime.reconcile()
    view = await asyncio.to_thread(service.get_view, session, deployment_id=deployment.id)
    return service.to_schema(settings, view)


@router.get(
    "/deployments/{deployment_id}",
    response_model=DeploymentOut,
    responses=error_responses(401, 403, 404, 422, 429, 500),
)
async def get_deployment(deployment_id: str, principal: GetKey, request: Request) -> Response:
    """Deployment status (limit 60/60 min with the `emqx` profile).

    The hot path of the API: the rendered object comes from a short cache cleared by every commit, so a
    repeated read costs no database round trip (and this route opens no session unless it must).
    """
    cache: ViewCache = request.app.state.view_cache
    cached = cache.get(deployment_id)
    if cached is None:
        generation = cache.generation
        cached = await asyncio.to_thread(_load_view, request, deployment_id)
        cache.put(deployment_id, cached, generation=generation)
    principal.require_deployment(deployment_id, cached.project_id)
    return Response(cached.body, media_type="application/json")


def _load_view(request: Request, deployment_id: str) -> CachedView:
    database: Database = request.app.state.database
    settings: Settings = request.app.state.settings
    with database.session() as session:
        view = service.get_view(session, deployment_id=deployment_id)
        body = service.to_schema(settings, view).model_dump_json(by_alias=True).encode()
        return CachedView(project_id=view.deployment.project_id, body=body)


async def _check_project(session: SessionDep, principal: Principal, deployment_id: str) -> None:
    deployment = await asyncio.to_thread(service.get_deployment, session, deployment_id=deployment_id)
    principal.require_deployment(deployment_id, deployment.project_id)


@router.put("/deployments/{deployment_id}", responses=error_responses(400, 401, 403, 404, 422, 429, 500))
async def update_deployment(
    deployment_id: str,
    body: DeploymentUpdate,
    *,
    principal: UpdateKey,
    session: SessionDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
) -> DeploymentOut:
    """Rename the deployment (`deploymentName`) and/or change `nodes`, the broker processes of a Dedicated
    deployment, 1 to 16 (extensions). Nodes are added or stopped live; the others keep their clients."""
    await _check_project(session, principal, deployment_id)
    await asyncio.to_thread(service.update_deployment, session, deployment_id=deployment_id, request=body)
    await runtime.reconcile()
    view = await asyncio.to_thread(service.get_view, session, deployment_id=deployment_id)
    return service.to_schema(settings, view)


@router.post(
    "/deployments/{deployment_id}/start",
    status_code=201,
    responses=error_responses(401, 403, 404, 422, 429, 500),
)
async def start_deployment(
    deployment_id: str, principal: StartKey, session: SessionDep, runtime: RuntimeDep
) -> DeploymentOperation:
    """Start a stopped deployment: 201 `{"operation": "starting"}`; 422 when it is not stopped."""
    await _check_project(session, principal, deployment_id)
    operation = await asyncio.to_thread(service.start_deployment, session, deployment_id=deployment_id)
    await runtime.reconcile()
    return operation


@router.post(
    "/deployments/{deployment_id}/stop",
    status_code=201,
    responses=error_responses(401, 403, 404, 422, 429, 500),
)
async def stop_deployment(
    deployment_id: str, principal: StopKey, session: SessionDep, runtime: RuntimeDep
) -> DeploymentOperation:
    """Stop a running deployment: 201 `{"operation": "stopping"}`; 422 when it is not running."""
    await _check_project(session, principal, deployment_id)
    operation = await asyncio.to_thread(service.stop_deployment, session, deployment_id=deployment_id)
    await runtime.reconcile()
    return operation


@router.delete(
    "/deployments/{deployment_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404, 422, 429, 500),
)
async def delete_deployment(
    deployment_id: str, principal: DeleteKey, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Delete a deployment in any state (an extension: not in the EMQX docs). Its broker is stopped."""
    await _check_project(session, principal, deployment_id)
    await asyncio.to_thread(service.delete_deployment, session, deployment_id=deployment_id)
    await runtime.reconcile()
    return Response(status_code=204)
