"""Alarms through the APIs: EMQX 5 `GET/DELETE /api/v5/alarms` per deployment (key group `metrics`), and
`GET /public_api/v1/alarms`, a Platform API extension listing every deployment's alarms and the
platform-wide ones (a key limited to some projects sees only their deployments' alarms)."""

import asyncio
import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from mqttcloud.control.alarms import store
from mqttcloud.control.alarms.checker import node_of
from mqttcloud.control.alarms.models import AlarmRow
from mqttcloud.control.api_keys.models import Scope
from mqttcloud.control.auth import Principal, platform_access
from mqttcloud.control.db import SessionDep
from mqttcloud.control.deployment_api.target import Target, target_dep
from mqttcloud.control.deployments.models import Deployment, DeploymentType
from mqttcloud.control.errors import error_responses

LIMIT = 1000  # newest alarms listed
v5_router = APIRouter()
platform_router = APIRouter(tags=["alarms"])
Alarms = Annotated[Target, Depends(target_dep("metrics"))]
ReadKey = Annotated[Principal, Depends(platform_access(Scope.DEPLOYMENTS, "alarms.list"))]


@v5_router.get("/alarms")
async def list_alarms(target: Alarms, activated: bool | None = None) -> JSONResponse:
    """EMQX 5: `{"data": [...], "meta"}`; `activated=true|false` keeps active or cleared alarms."""
    rows = await target.read(
        lambda s: store.alarms(s, deployment_id=target.deployment_id, activated=activated, limit=LIMIT)
    )
    now = dt.datetime.now(dt.UTC)
    data = [store.as_dict(row, node=target.node, now=now) for row in rows]
    meta = {"page": 1, "limit": LIMIT, "count": len(data), "hasnext": False}
    return JSONResponse({"data": data, "meta": meta})


@v5_router.delete("/alarms")
async def clear_alarms(target: Alarms) -> Response:
    """EMQX 5: forget the deployment's cleared alarms (active ones stay)."""
    await target.read(lambda s: store.purge_deactivated(s, deployment_id=target.deployment_id))
    return Response(status_code=204)


def _visible(session: Session, principal: Principal, activated: bool | None) -> list[tuple[AlarmRow, bool]]:
    kinds = dict(session.execute(select(Deployment.id, Deployment.deployment_type)).all())
    allowed: set[str] | None = None
    if principal.project_ids is not None:
        query = select(Deployment.id).where(Deployment.project_id.in_(principal.project_ids))
        allowed = set(session.scalars(query))
    rows = store.alarms(session, activated=activated)
    return [
        (row, kinds.get(row.deployment_id or "") is DeploymentType.SERVERLESS)
        for row in rows
        if allowed is None or (row.deployment_id is not None and row.deployment_id in allowed)
    ]


@platform_router.get("/alarms", responses=error_responses(400, 401, 403, 422, 429, 500))
async def list_platform_alarms(
    principal: ReadKey,
    session: SessionDep,
    activated: Annotated[bool | None, Query(description="true: active only; false: cleared only")] = None,
) -> JSONResponse:
    """Alarms of every deployment the key reaches, newest first, with platform-wide ones for keys that
    reach every project."""
    rows = await asyncio.to_thread(_visible, session, principal, activated)
    now = dt.datetime.now(dt.UTC)
    return JSONResponse(
        {
            "data": [
                store.as_dict(row, node=node_of(row.deployment_id, serverless=serverless), now=now)
                for row, serverless in rows
            ]
        }
    )


def install(app: FastAPI, prefix: str) -> None:
    """The Platform API route (the v5 route is included by `deployment_api/v5.py`)."""
    app.include_router(platform_router, prefix=prefix)
