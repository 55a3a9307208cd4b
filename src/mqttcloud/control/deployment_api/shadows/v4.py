"""v4 presenter of the shadow service: `/api/shadows` (spec §2.3.9, rows 40-47).

Objects come back bare (no `code`, no `data` wrapper); errors in the v4 shape (`V4Route`). Bodies are read
as JSON whatever their Content-Type says (the docs' examples are `curl -d` without a header). The list
answers on `/shadows` and `/shadows/` alike, without a redirect. Dedicated deployments only: a
Serverless deployment's key gets 403 `NOT_SUPPORTED`.
"""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mqttcloud.control.db import SessionDep
from mqttcloud.control.deployment_api import common
from mqttcloud.control.deployment_api.auth import DeploymentContext, deployment_access, quotas_of
from mqttcloud.control.deployment_api.errors import V4Route
from mqttcloud.control.deployment_api.quotas import Quotas
from mqttcloud.control.deployment_api.shadows import service as shadows
from mqttcloud.control.deployment_api.shadows.models import Shadow
from mqttcloud.control.deps import RuntimeDep
from mqttcloud.control.errors import Forbidden

router = APIRouter(tags=["deployment API v4: shadow service"], route_class=V4Route)


async def _dedicated(
    context: Annotated[DeploymentContext, Depends(deployment_access("shadows"))],
) -> DeploymentContext:
    if context.serverless:
        raise Forbidden("The shadow service is available on Dedicated deployments only", code="NOT_SUPPORTED")
    return context


Access = Annotated[DeploymentContext, Depends(_dedicated)]
QuotasDep = Annotated[Quotas, Depends(quotas_of)]


class ShadowIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    shadowName: str  # noqa: N815  (the API's field names)
    description: str = ""
    shadowID: str | None = None  # noqa: N815  (only on create; generated when absent)


class ShadowOut(BaseModel):
    description: str
    updatedAt: str  # noqa: N815
    shadowID: str  # noqa: N815
    createdAt: str  # noqa: N815
    shadowName: str  # noqa: N815


class ShadowPage(BaseModel):
    items: list[ShadowOut]
    meta: dict[str, int] = Field(description="page, limit, count")


class DocumentOut(BaseModel):
    data: dict[str, object]
    createAt: int  # noqa: N815
    lastTime: int  # noqa: N815
    version: int


def model_out(row: Shadow) -> ShadowOut:
    return ShadowOut(
        description=row.description,
        updatedAt=shadows.minute(row.updated_at),
        shadowID=row.shadow_id,
        createdAt=shadows.minute(row.created_at),
        shadowName=row.name,
    )


def document_out(document: shadows.Document) -> DocumentOut:
    return DocumentOut(
        data=document.data,
        createAt=document.created_ms,
        lastTime=document.updated_ms,
        version=document.version,
    )


async def _body(request: Request) -> object:
    return shadows.parse_json(await request.body())


async def _shadow_in(request: Request) -> ShadowIn:
    try:
        return ShadowIn.model_validate(await _body(request))
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


async def list_shadows(context: Access, request: Request, session: SessionDep) -> ShadowPage:
    page, limit = common.paging(request.query_params, 10)
    rows, total = await asyncio.to_thread(
        shadows.page, session, deployment_id=context.deployment_id, page=page, limit=limit
    )
    return ShadowPage(items=[model_out(r) for r in rows], meta={"limit": limit, "page": page, "count": total})


router.add_api_route("/shadows", list_shadows, methods=["GET"], name="v4_list_shadows")
router.add_api_route("/shadows/", list_shadows, methods=["GET"], name="v4_list_shadows_slash")


@router.post("/shadows", name="v4_create_shadow")
async def create_shadow(
    context: Access, request: Request, session: SessionDep, quotas: QuotasDep
) -> ShadowOut:
    body = await _shadow_in(request)
    row = await asyncio.to_thread(
        shadows.create,
        session,
        deployment_id=context.deployment_id,
        name=body.shadowName,
        description=body.description,
        shadow_id=body.shadowID,
        max_shadows=quotas.max_shadows,
    )
    return model_out(row)


@router.get("/shadows/{shadow_id}", name="v4_get_shadow")
async def get_shadow(shadow_id: str, context: Access, session: SessionDep) -> ShadowOut:
    row = await asyncio.to_thread(
        shadows.get, session, deployment_id=context.deployment_id, shadow_id=shadow_id
    )
    return model_out(row)


@router.put("/shadows/{shadow_id}", name="v4_update_shadow")
async def update_shadow(shadow_id: str, context: Access, request: Request, session: SessionDep) -> ShadowOut:
    body = await _shadow_in(request)
    row = await asyncio.to_thread(
        shadows.update,
        session,
        deployment_id=context.deployment_id,
        shadow_id=shadow_id,
        name=body.shadowName,
        description=body.description,
    )
    return model_out(row)


@router.delete("/shadows/{shadow_id}", name="v4_delete_shadow", status_code=204)
async def delete_shadow(shadow_id: str, context: Access, session: SessionDep) -> Response:
    await asyncio.to_thread(shadows.delete, session, deployment_id=context.deployment_id, shadow_id=shadow_id)
    return Response(status_code=204)


def _documents(method: shadows.Method) -> None:
    async def handle(
        shadow_id: str,
        *,
        context: Access,
        request: Request,
        session: SessionDep,
        runtime: RuntimeDep,
        quotas: QuotasDep,
    ) -> DocumentOut:
        payload = None if method is shadows.Method.GET else await _body(request)
        document = await shadows.change_document(
            session,
            broker=shadows.broker_of(runtime, context.broker_id) if context.desired_running else None,
            deployment_id=context.deployment_id,
            shadow_id=shadow_id,
            method=method,
            payload=payload,
            max_bytes=quotas.max_shadow_document_bytes,
        )
        return document_out(document)

    name = f"v4_{method.value.lower()}_shadow_json"
    router.add_api_route("/shadows/{shadow_id}/json", handle, methods=[method.value], name=name)


for _method in shadows.Method:
    _documents(_method)
