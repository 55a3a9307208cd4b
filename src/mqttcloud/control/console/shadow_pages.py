"""Console pages of the shadow service (Dedicated deployments): list, create, view, edit, delete shadows.

Every read and write goes through `deployment_api/shadows/service.py`, as the v4 routes do: a document
edited here (PUT replaces, PATCH merges with the multi-level rule) gets a new version and is published
on `shadow/{id}/reply` when the broker runs. A refused write shows its message next to the field the
error names. Reading is open to every role that sees the deployment; writing needs
`Role.may_edit_deployments`.
"""

import json
from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from mqttcloud.control.console.pages import (
    PREFIX,
    ConsoleRoute,
    LoggedIn,
    Page,
    PageError,
    field_text,
    page_number,
    redirect,
    run,
)
from mqttcloud.control.console.sections import deployment_form, guarded_view, load_view, render_section
from mqttcloud.control.db import SessionDep
from mqttcloud.control.deployment_api.quotas import Quotas
from mqttcloud.control.deployment_api.shadows import service as shadows
from mqttcloud.control.deployments.service import DeploymentView
from mqttcloud.control.deps import RuntimeDep
from mqttcloud.control.errors import ApiError

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

PAGE_SIZE = 20
_MODEL_FIELDS = {"shadowID": "shadow_id", "shadowName": "name", "description": "description"}


def _quotas(request: Request) -> Quotas:
    quotas: Quotas = request.app.state.deployment_api_quotas
    return quotas


async def _dedicated(session: Session, page: Page, deployment_id: str) -> DeploymentView:
    view = await load_view(session, page, deployment_id)
    if view.deployment.deployment_type.is_serverless:
        raise PageError(404, page.t("The shadow service is available on Dedicated deployments only."))
    return view


async def _render_list(
    page: Page,
    session: Session,
    view: DeploymentView,
    request: Request,
    *,
    errors: Mapping[str, str] | None = None,
    form: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    number = page_number(request)
    rows, total = await run(
        shadows.page, session, deployment_id=view.deployment.id, page=number, limit=PAGE_SIZE
    )
    return render_section(
        page,
        view,
        "shadows.html",
        tab="shadows",
        status=status,
        shadows=rows,
        total=total,
        page_number=number,
        page_size=PAGE_SIZE,
        minute=shadows.minute,
        errors=errors or {},
        form=form or {"shadow_id": "", "name": "", "description": ""},
    )


@router.get("/deployments/{deployment_id}/shadows", response_class=HTMLResponse)
async def shadows_page(deployment_id: str, request: Request, page: LoggedIn, session: SessionDep) -> Response:
    view = await _dedicated(session, page, deployment_id)
    return await _render_list(page, session, view, request)


@router.post("/deployments/{deployment_id}/shadows", response_class=HTMLResponse)
async def create_shadow(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep
) -> Response:
    form, view = await deployment_form(request, page, session, deployment_id)
    await _dedicated(session, page, deployment_id)
    values = {name: field_text(form, name) for name in ("shadow_id", "name", "description")}
    try:
        row = await run(
            shadows.create,
            session,
            deployment_id=deployment_id,
            name=values["name"],
            description=values["description"],
            shadow_id=values["shadow_id"] or None,
            max_shadows=_quotas(request).max_shadows,
        )
    except ApiError as error:
        session.rollback()
        field = _MODEL_FIELDS.get(error.field or "", "name")
        return await _render_list(
            page, session, view, request, errors={field: error.message}, form=values, status=422
        )
    return redirect(f"{PREFIX}/deployments/{deployment_id}/shadows/{row.shadow_id}")


async def _render_shadow(
    page: Page,
    session: Session,
    view: DeploymentView,
    shadow_id: str,
    *,
    errors: Mapping[str, str] | None = None,
    form: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The shadow's page; `form` holds what was submitted (shown again beside its error)."""
    row = await run(shadows.get, session, deployment_id=view.deployment.id, shadow_id=shadow_id)
    document = shadows.document_of(row)
    shown = json.dumps(document.body(), indent=2, ensure_ascii=False)
    return render_section(
        page,
        view,
        "shadow.html",
        tab="shadows",
        status=status,
        shadow=row,
        document=document,
        document_json=shown,
        minute=shadows.minute,
        errors=errors or {},
        form={
            "name": row.name,
            "description": row.description,
            "method": "PATCH",
            "data": json.dumps(document.data, indent=2, ensure_ascii=False),
            **(form or {}),
        },
    )


@router.get("/deployments/{deployment_id}/shadows/{shadow_id}", response_class=HTMLResponse)
async def shadow_page(deployment_id: str, shadow_id: str, page: LoggedIn, session: SessionDep) -> Response:
    view = await _dedicated(session, page, deployment_id)
    return await _render_shadow(page, session, view, shadow_id)


@router.post("/deployments/{deployment_id}/shadows/{shadow_id}", response_class=HTMLResponse)
async def update_shadow(
    deployment_id: str, shadow_id: str, request: Request, page: LoggedIn, session: SessionDep
) -> Response:
    form, view = await deployment_form(request, page, session, deployment_id)
    await _dedicated(session, page, deployment_id)
    values = {name: field_text(form, name) for name in ("name", "description")}
    try:
        await run(
            shadows.update,
            session,
            deployment_id=deployment_id,
            shadow_id=shadow_id,
            name=values["name"],
            description=values["description"],
        )
    except ApiError as error:
        session.rollback()
        if error.status_code == 404:
            raise
        field = _MODEL_FIELDS.get(error.field or "", "name")
        return await _render_shadow(
            page, session, view, shadow_id, errors={field: error.message}, form=values, status=422
        )
    return redirect(f"{PREFIX}/deployments/{deployment_id}/shadows/{shadow_id}")


@router.post("/deployments/{deployment_id}/shadows/{shadow_id}/json", response_class=HTMLResponse)
async def write_document(
    deployment_id: str,
    shadow_id: str,
    *,
    request: Request,
    page: LoggedIn,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    form, view = await deployment_form(request, page, session, deployment_id)
    await _dedicated(session, page, deployment_id)
    text = field_text(form, "data", strip=False)
    method = shadows.Method.PUT if field_text(form, "method") == "PUT" else shadows.Method.PATCH
    try:
        await shadows.change_document(
            session,
            broker=shadows.broker_of(runtime, deployment_id) if view.deployment.desired_running else None,
            deployment_id=deployment_id,
            shadow_id=shadow_id,
            method=method,
            payload=shadows.parse_json(text, field="data"),
            max_bytes=_quotas(request).max_shadow_document_bytes,
        )
    except ApiError as error:
        session.rollback()
        if error.status_code == 404:
            raise
        values = {"method": method.value, "data": text}
        return await _render_shadow(
            page, session, view, shadow_id, errors={"data": error.message}, form=values, status=422
        )
    return redirect(f"{PREFIX}/deployments/{deployment_id}/shadows/{shadow_id}")


@router.get("/deployments/{deployment_id}/shadows/{shadow_id}/delete", response_class=HTMLResponse)
async def delete_shadow_page(
    deployment_id: str, shadow_id: str, page: LoggedIn, session: SessionDep
) -> Response:
    await guarded_view(session, page, deployment_id)
    return page.render(
        "confirm.html",
        title=page.t("Delete shadow"),
        question=page.t("Delete the shadow %s and its JSON document?") % shadow_id,
        action=f"{PREFIX}/deployments/{deployment_id}/shadows/{shadow_id}/delete",
        cancel=f"{PREFIX}/deployments/{deployment_id}/shadows/{shadow_id}",
    )


@router.post("/deployments/{deployment_id}/shadows/{shadow_id}/delete")
async def delete_shadow(
    deployment_id: str, shadow_id: str, request: Request, page: LoggedIn, session: SessionDep
) -> Response:
    await deployment_form(request, page, session, deployment_id)
    await run(shadows.delete, session, deployment_id=deployment_id, shadow_id=shadow_id)
    return redirect(f"{PREFIX}/deployments/{deployment_id}/shadows")
