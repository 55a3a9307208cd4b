"""Platform API TLS routes (spec §2.1.1): `GET/POST/PUT/DELETE /deployments/{deployment_id}/tls`.

POST and PUT answer 200 (not 201) with `status: "pending"`; DELETE answers 204. The broker picks the
change up asynchronously (the status becomes `running` once it serves the certificate).
"""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session

from mqttcloud.control.api_keys.models import Scope
from mqttcloud.control.auth import Principal, platform_access
from mqttcloud.control.certificates import service
from mqttcloud.control.certificates.models import Certificate
from mqttcloud.control.certificates.schemas import TlsOut, TlsUpload
from mqttcloud.control.db import SessionDep
from mqttcloud.control.deployments import service as deployments
from mqttcloud.control.deployments.models import Deployment
from mqttcloud.control.deps import RuntimeDep
from mqttcloud.control.errors import error_responses

router = APIRouter(tags=["tls"])


def _key(rule: str) -> object:
    return Depends(platform_access(Scope.TLS, rule))


GetKey = Annotated[Principal, _key("tls.get")]
CreateKey = Annotated[Principal, _key("tls.create")]
UpdateKey = Annotated[Principal, _key("tls.update")]
DeleteKey = Annotated[Principal, _key("tls.delete")]

_PATH = "/deployments/{deployment_id}/tls"


async def _deployment(session: Session, principal: Principal, deployment_id: str) -> Deployment:
    deployment = await asyncio.to_thread(deployments.get_deployment, session, deployment_id=deployment_id)
    principal.require_deployment(deployment_id, deployment.project_id)
    return deployment


def _get(session: Session, deployment_id: str) -> Certificate:
    return service.get_certificate(session, deployment_id=deployment_id)


@router.get(_PATH, responses=error_responses(401, 403, 404, 422, 429, 500))
async def get_tls(deployment_id: str, principal: GetKey, session: SessionDep) -> TlsOut:
    """TLS certificate status; 404 `TLS_NOT_FOUND` when no certificate is installed."""
    await _deployment(session, principal, deployment_id)
    return service.to_schema(await asyncio.to_thread(_get, session, deployment_id))


async def _upload(
    deployment_id: str,
    body: TlsUpload,
    principal: Principal,
    session: Session,
    runtime: RuntimeDep,
    *,
    replace: bool,
) -> TlsOut:
    deployment = await _deployment(session, principal, deployment_id)
    certificate = await asyncio.to_thread(
        service.upload,
        session,
        deployment=deployment,
        request=body,
        replace=replace,
        box=runtime.secrets,
    )
    result = service.to_schema(certificate)
    await runtime.reconcile()
    return result


@router.post(_PATH, responses=error_responses(400, 401, 403, 404, 409, 422, 429, 500))
async def create_tls(
    deployment_id: str, body: TlsUpload, principal: CreateKey, session: SessionDep, runtime: RuntimeDep
) -> TlsOut:
    """Upload a certificate: 200 with `status: "pending"`; 422 names the validation rule that failed."""
    return await _upload(deployment_id, body, principal, session, runtime, replace=False)


@router.put(_PATH, responses=error_responses(400, 401, 403, 404, 422, 429, 500))
async def update_tls(
    deployment_id: str, body: TlsUpload, principal: UpdateKey, session: SessionDep, runtime: RuntimeDep
) -> TlsOut:
    """Replace the certificate; connected TLS clients stay connected while the broker swaps it."""
    return await _upload(deployment_id, body, principal, session, runtime, replace=True)


@router.delete(
    _PATH, status_code=204, response_class=Response, responses=error_responses(401, 403, 404, 422, 429, 500)
)
async def delete_tls(
    deployment_id: str, principal: DeleteKey, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Remove the certificate: 204; the TLS and WSS listeners close and their clients are disconnected."""
    await _deployment(session, principal, deployment_id)
    await asyncio.to_thread(service.delete, session, deployment_id=deployment_id)
    await runtime.reconcile()
    return Response(status_code=204)
