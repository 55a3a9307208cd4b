"""Console deployment pages: list with live status, create, overview (with the getting-started commands
of `connect_guide`), start/stop/delete, nodes, TLS, CA download.

Writes go through `deployments.service` / `certificates.service` and are followed by
`BrokerRuntime.reconcile()`, exactly as the Platform API routes do; the role rules come from
`console.permissions`. The overview polls `status.json` so the state is shown as it moves.
"""

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from mqttcloud.control.certificates import service as certificates
from mqttcloud.control.certificates.models import Certificate, TlsType
from mqttcloud.control.certificates.schemas import TlsUpload
from mqttcloud.control.certificates.validation import CertificateRejected
from mqttcloud.control.config import Settings
from mqttcloud.control.console import connect_guide
from mqttcloud.control.console.pages import (
    PREFIX,
    ConsoleRoute,
    LoggedIn,
    Page,
    PageError,
    field_file_or_text,
    field_text,
    read_form,
    redirect,
    run,
)
from mqttcloud.control.console.permissions import require_lifecycle, visible_projects
from mqttcloud.control.console.sections import (
    api_address,
    deployment_form,
    guarded_view,
    load_view,
    render_section,
)
from mqttcloud.control.db import SessionDep
from mqttcloud.control.deployment_api.authn import store as authn
from mqttcloud.control.deployments import service as deployments
from mqttcloud.control.deployments.models import DeploymentType
from mqttcloud.control.deployments.schemas import MAX_NODES, DeploymentCreate, DeploymentUpdate, Endpoints
from mqttcloud.control.deployments.service import DeploymentView
from mqttcloud.control.deps import RuntimeDep, SettingsDep
from mqttcloud.control.errors import ApiError, NotFound, describe_validation_errors
from mqttcloud.control.projects import service as projects
from mqttcloud.control.serverless import routes as serverless_ca

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

# Plans: the session tier (connections) and the message rate of a deployment.
PLANS = {"starter": (1000, 1000), "standard": (5000, 5000), "business": (20000, 20000)}
TYPE_LABELS = {
    DeploymentType.DEDICATED: "Dedicated",
    DeploymentType.SERVERLESS: "Serverless",
    DeploymentType.DEDICATED_FLEX: "Dedicated Flex",
}
WS_PATH = "/mqtt"  # the path every WebSocket listener serves (contracts.ListenerSpec.ws_path)


@dataclass(frozen=True, slots=True)
class Address:
    protocol: str
    label: str
    address: str | None  # "host:port", or None while the listener is closed
    url: str | None


def addresses(endpoints: Endpoints) -> list[Address]:
    """Every connection address of a deployment, one per protocol, with a ready-to-use URL."""
    rows = [
        ("mqtt", "MQTT over TCP", endpoints.mqtt, "mqtt://{}"),
        ("ws", "MQTT over WebSocket", endpoints.ws, "ws://{}" + WS_PATH),
        ("mqtts", "MQTT over TLS", endpoints.mqtts, "mqtts://{}"),
        ("wss", "MQTT over secure WebSocket", endpoints.wss, "wss://{}" + WS_PATH),
    ]
    return [
        Address(proto, label, value, template.format(value) if value else None)
        for proto, label, value, template in rows
    ]


# --------------------------------------------------------------------------------------------------
# List and create
# --------------------------------------------------------------------------------------------------


@router.get("/deployments", response_class=HTMLResponse)
async def deployments_page(page: LoggedIn, session: SessionDep, settings: SettingsDep) -> Response:
    views = await run(deployments.list_views, session, visible_projects=visible_projects(page.signed_in))
    rows = [(view, deployments.to_schema(settings, view)) for view in views]
    return page.render(
        "deployments.html", rows=rows, types=TYPE_LABELS, can_create=page.signed_in.role.may_start_stop
    )


@router.get("/deployments/status.json")
async def deployments_status(page: LoggedIn, session: SessionDep) -> JSONResponse:
    """Status of every visible deployment, for the list page's live column."""
    views = await run(deployments.list_views, session, visible_projects=visible_projects(page.signed_in))
    body = {
        v.deployment.id: {"status": v.deployment.status.value, "label": page.t(v.deployment.status.value)}
        for v in views
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def _render_new(
    page: Page,
    session: Session,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    project_rows = await run(projects.list_projects, session, visible=visible_projects(page.signed_in))
    values = form or {"name": "", "project": "default", "type": "dedicated", "plan": "starter"}
    return page.render(
        "deployment_new.html",
        status=status,
        projects=project_rows,
        plans=PLANS,
        errors=errors or {},
        form=values,
    )


@router.get("/deployments/new", response_class=HTMLResponse)
async def new_deployment_page(page: LoggedIn, session: SessionDep) -> Response:
    require_lifecycle(page.signed_in)
    return await _render_new(page, session)


def _field_of(location: tuple[object, ...]) -> str:
    names = {"deploymentName": "name", "projectID": "project", "deploymentType": "type"}
    return names.get(str(location[-1]) if location else "", "name")


@router.post("/deployments", response_class=HTMLResponse)
async def create_deployment(
    request: Request, page: LoggedIn, session: SessionDep, settings: SettingsDep, runtime: RuntimeDep
) -> Response:
    form = await read_form(request, page)
    require_lifecycle(page.signed_in)
    values = {
        "name": field_text(form, "name"),
        "project": field_text(form, "project"),
        "type": field_text(form, "type"),
        "plan": field_text(form, "plan"),
    }
    allowed = visible_projects(page.signed_in)
    if allowed is not None and values["project"] not in allowed:
        return await _render_new(
            page, session, errors={"project": page.t("Choose one of your projects.")}, form=values, status=422
        )
    connections, tps = PLANS.get(values["plan"], PLANS["starter"])
    try:
        body = DeploymentCreate.model_validate(
            {
                "projectID": values["project"],
                "deploymentName": values["name"] or None,
                "deploymentType": values["type"],
                "connections": connections,
                "tps": tps,
            }
        )
    except ValidationError as error:
        errors: dict[str, str] = {}
        for item in error.errors():
            errors.setdefault(_field_of(tuple(item["loc"])), describe_validation_errors([item]))
        return await _render_new(page, session, errors=errors, form=values, status=422)
    try:
        deployment = await run(deployments.create_deployment, session, settings=settings, request=body)
    except ApiError as error:
        field = "project" if isinstance(error, NotFound) else "name"
        return await _render_new(
            page, session, errors={field: error.message}, form=values, status=error.status_code
        )
    await runtime.reconcile()
    return redirect(f"{PREFIX}/deployments/{deployment.id}")


# --------------------------------------------------------------------------------------------------
# Overview, status, start / stop / delete, CA
# --------------------------------------------------------------------------------------------------


def _status_body(
    page: Page, view: DeploymentView, settings: SettingsDep, tls: Certificate | None
) -> dict[str, object]:
    schema = deployments.to_schema(settings, view)
    return {
        "status": view.deployment.status.value,
        "label": page.t(view.deployment.status.value),
        "message": view.deployment.status_message,
        "addresses": {a.protocol: a.address for a in addresses(schema.endpoints)},
        "tls": None if tls is None else tls.status.value,
        "tls_label": None if tls is None else page.t(tls.status.value),
    }


def _certificate(session: Session, deployment_id: str) -> Certificate | None:
    try:
        return certificates.get_certificate(session, deployment_id=deployment_id)
    except NotFound:
        return None


async def _render_overview(
    request: Request, page: Page, session: Session, view: DeploymentView, *, error: str, status: int = 200
) -> Response:
    settings = page.state.settings
    schema = deployments.to_schema(settings, view)
    tls = await run(_certificate, session, view.deployment.id)
    mqtt_users = await run(authn.count, session, deployment_id=view.deployment.id)
    return render_section(
        page,
        view,
        "deployment.html",
        tab="overview",
        status=status,
        schema=schema,
        addresses=addresses(schema.endpoints),
        tls=tls,
        types=TYPE_LABELS,
        api_address=api_address(request),
        ws_path=WS_PATH,
        error=error,
        guide=connect_guide.guide(
            schema.endpoints, ca_file=serverless_ca.CA_FILENAME, platform_host=settings.advertised_host
        ),
        mqtt_users=mqtt_users,
        anonymous=view.deployment.allow_anonymous and not view.deployment.deployment_type.is_serverless,
        max_nodes=MAX_NODES,
    )


@router.get("/deployments/{deployment_id}", response_class=HTMLResponse)
async def deployment_page(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep
) -> Response:
    view = await load_view(session, page, deployment_id)
    return await _render_overview(request, page, session, view, error=request.query_params.get("error", ""))


@router.get("/deployments/{deployment_id}/status.json")
async def deployment_status(
    deployment_id: str, page: LoggedIn, session: SessionDep, settings: SettingsDep
) -> JSONResponse:
    view = await load_view(session, page, deployment_id)
    tls = await run(_certificate, session, deployment_id)
    return JSONResponse(_status_body(page, view, settings, tls), headers={"Cache-Control": "no-store"})


async def _lifecycle(
    deployment_id: str, request: Request, page: Page, session: Session, runtime: RuntimeDep, *, action: str
) -> Response:
    await deployment_form(request, page, session, deployment_id, require=require_lifecycle)
    operation = deployments.start_deployment if action == "start" else deployments.stop_deployment
    change = functools.partial(operation, deployment_id=deployment_id)
    return await _apply(request, page, session, runtime, deployment_id=deployment_id, change=change)


async def _apply(
    request: Request,
    page: Page,
    session: Session,
    runtime: RuntimeDep,
    *,
    deployment_id: str,
    change: Callable[[Session], object],
) -> Response:
    """Apply `change` (a service write on the deployment), reconcile and go back to the overview; a change
    the service refuses (422: start a running one, too many nodes) is shown on the overview instead."""
    try:
        await run(change, session)
    except ApiError as error:
        if error.status_code != 422:
            raise
        view = await load_view(session, page, deployment_id)
        return await _render_overview(request, page, session, view, error=error.message, status=422)
    await runtime.reconcile()
    return redirect(f"{PREFIX}/deployments/{deployment_id}")


@router.post("/deployments/{deployment_id}/start")
async def start_deployment(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep, runtime: RuntimeDep
) -> Response:
    return await _lifecycle(deployment_id, request, page, session, runtime, action="start")


@router.post("/deployments/{deployment_id}/nodes")
async def change_nodes(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """How many broker processes run the deployment (the Platform API's `PUT` with `nodes`)."""
    form, view = await deployment_form(request, page, session, deployment_id, require=require_lifecycle)
    try:
        update = DeploymentUpdate(nodes=int(field_text(form, "nodes")))
    except ValueError:  # not a number, or out of range (a pydantic ValidationError)
        error = page.t("Nodes must be a whole number from 1 to %d.") % MAX_NODES
        return await _render_overview(request, page, session, view, error=error, status=422)
    change = functools.partial(deployments.update_deployment, deployment_id=deployment_id, request=update)
    return await _apply(request, page, session, runtime, deployment_id=deployment_id, change=change)


@router.get("/deployments/{deployment_id}/stop", response_class=HTMLResponse)
async def stop_deployment_page(deployment_id: str, page: LoggedIn, session: SessionDep) -> Response:
    view = await guarded_view(session, page, deployment_id, require=require_lifecycle)
    return page.render(
        "confirm.html",
        title=page.t("Stop deployment"),
        question=page.t("Stop the deployment %s? Its broker disconnects every client until it is started.")
        % view.deployment.name,
        action=f"{PREFIX}/deployments/{deployment_id}/stop",
        cancel=f"{PREFIX}/deployments/{deployment_id}",
        confirm_label=page.t("Stop"),
    )


@router.post("/deployments/{deployment_id}/stop")
async def stop_deployment(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep, runtime: RuntimeDep
) -> Response:
    return await _lifecycle(deployment_id, request, page, session, runtime, action="stop")


@router.get("/deployments/{deployment_id}/delete", response_class=HTMLResponse)
async def delete_deployment_page(deployment_id: str, page: LoggedIn, session: SessionDep) -> Response:
    view = await guarded_view(session, page, deployment_id, require=require_lifecycle)
    return page.render(
        "confirm.html",
        title=page.t("Delete deployment"),
        question=page.t("Delete the deployment %s? Its broker stops and its data is removed.")
        % view.deployment.name,
        action=f"{PREFIX}/deployments/{deployment_id}/delete",
        cancel=f"{PREFIX}/deployments/{deployment_id}",
    )


@router.post("/deployments/{deployment_id}/delete")
async def delete_deployment(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep, runtime: RuntimeDep
) -> Response:
    await deployment_form(request, page, session, deployment_id, require=require_lifecycle)
    await run(deployments.delete_deployment, session, deployment_id=deployment_id)
    await runtime.reconcile()
    return redirect(f"{PREFIX}/deployments")


def _pem_blocks(pem: str) -> list[str]:
    marker = "-----BEGIN CERTIFICATE-----"
    return [(marker + part).strip() + "\n" for part in pem.split(marker)[1:]]


def ca_certificate(chain_pem: str, extra_candidates: Sequence[str] = ()) -> str:
    """The CA certificate that issued the first certificate of `chain_pem`: one of the chain's own
    certificates or of `extra_candidates` (the platform CA), matched by subject; "" when none matches."""
    blocks = _pem_blocks(chain_pem)
    if not blocks:
        return ""
    issuer = x509.load_pem_x509_certificate(blocks[0].encode()).issuer
    for candidate in [*blocks[1:], *extra_candidates]:
        if x509.load_pem_x509_certificate(candidate.encode()).subject == issuer:
            return candidate
    return ""


def _platform_ca_pem(settings: Settings) -> list[str]:
    """The platform CA certificate, if the platform created one (`serverless.routes.read_ca`)."""
    try:
        return _pem_blocks(serverless_ca.read_ca(settings))
    except NotFound:
        return []


@router.get("/deployments/{deployment_id}/ca.crt")
async def download_ca(
    deployment_id: str, page: LoggedIn, session: SessionDep, runtime: RuntimeDep
) -> Response:
    view = await load_view(session, page, deployment_id)
    if not view.deployment.deployment_type.is_serverless:
        raise PageError(404, page.t("Only Serverless deployments use the platform CA."))
    tls = runtime.shared.serverless_tls
    candidates = await run(_platform_ca_pem, page.state.settings)
    pem = ca_certificate(tls.cert_pem, candidates) if tls is not None else ""
    if not pem:
        raise PageError(404, page.t("The platform CA is not available."))
    return Response(
        pem,
        media_type="application/x-x509-ca-cert",
        headers={"Content-Disposition": f'attachment; filename="{serverless_ca.CA_FILENAME}"'},
    )


# --------------------------------------------------------------------------------------------------
# TLS certificate
# --------------------------------------------------------------------------------------------------


async def _render_tls(
    page: Page,
    session: Session,
    view: DeploymentView,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    tls = await run(_certificate, session, view.deployment.id)
    return render_section(
        page,
        view,
        "tls.html",
        tab="tls",
        status=status,
        tls=tls,
        errors=errors or {},
        form=form or {"tls_type": TlsType.ONE_WAY.value},
    )


@router.get("/deployments/{deployment_id}/tls", response_class=HTMLResponse)
async def tls_page(deployment_id: str, page: LoggedIn, session: SessionDep) -> Response:
    view = await load_view(session, page, deployment_id)
    return await _render_tls(page, session, view)


def _tls_field(error: ApiError) -> str:
    """The form field a rejected upload is about, from the validation rule id (`CertificateRejected.rule`)."""
    rule = error.rule if isinstance(error, CertificateRejected) else ""
    detail = error.detail if isinstance(error, CertificateRejected) else error.message
    if rule == "tls-type":
        return "tls_type"
    if rule.startswith("cacert") or "`cacert`" in detail:
        return "cacert"
    if rule.startswith("key"):
        return "key"
    return "cert"


@router.post("/deployments/{deployment_id}/tls", response_class=HTMLResponse)
async def upload_tls(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep, runtime: RuntimeDep
) -> Response:
    form, view = await deployment_form(request, page, session, deployment_id)
    values = {
        "tls_type": field_text(form, "tls_type"),
        "cert": await field_file_or_text(form, "cert", "cert_file"),
        "key": await field_file_or_text(form, "key", "key_file"),
        "cacert": await field_file_or_text(form, "cacert", "cacert_file"),
    }
    shown = {
        "tls_type": values["tls_type"],
        "cert": values["cert"],
        "cacert": values["cacert"],
    }  # never echo a key
    try:
        body = TlsUpload.model_validate(
            {
                "tlsType": values["tls_type"],
                "cert": values["cert"],
                "key": values["key"],
                "cacert": values["cacert"] or None,
            }
        )
    except ValidationError as error:
        errors: dict[str, str] = {}
        for item in error.errors():
            name = str(item["loc"][-1]) if item["loc"] else "cert"
            errors.setdefault("tls_type" if name == "tlsType" else name, describe_validation_errors([item]))
        return await _render_tls(page, session, view, errors=errors, form=shown, status=422)
    existing = await run(_certificate, session, deployment_id)
    try:
        await run(
            certificates.upload,
            session,
            deployment=view.deployment,
            request=body,
            replace=existing is not None,
            box=runtime.secrets,
        )
    except ApiError as error:
        session.rollback()
        return await _render_tls(
            page, session, view, errors={_tls_field(error): error.message}, form=shown, status=422
        )
    await runtime.reconcile()
    return redirect(f"{PREFIX}/deployments/{deployment_id}/tls")


@router.get("/deployments/{deployment_id}/tls/delete", response_class=HTMLResponse)
async def delete_tls_page(deployment_id: str, page: LoggedIn, session: SessionDep) -> Response:
    view = await guarded_view(session, page, deployment_id)
    return page.render(
        "confirm.html",
        title=page.t("Delete TLS certificate"),
        question=page.t("Delete the certificate of %s? Its TLS and secure WebSocket listeners close.")
        % view.deployment.name,
        action=f"{PREFIX}/deployments/{deployment_id}/tls/delete",
        cancel=f"{PREFIX}/deployments/{deployment_id}/tls",
    )


@router.post("/deployments/{deployment_id}/tls/delete")
async def delete_tls(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep, runtime: RuntimeDep
) -> Response:
    await deployment_form(request, page, session, deployment_id)
    await run(certificates.delete, session, deployment_id=deployment_id)
    await runtime.reconcile()
    return redirect(f"{PREFIX}/deployments/{deployment_id}/tls")


__all__ = ["addresses", "ca_certificate", "router"]
