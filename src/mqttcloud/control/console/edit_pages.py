"""Console pages that edit what was created elsewhere: a deployment's name, a project's name and
description, a sub-account's role, projects and password.

Thin presenters over the use cases the APIs share (`deployments.update_deployment`,
`projects.update_project`, `accounts.update_sub_account` / `reset_password`). Rule: a refused change is
shown next to its field (`ApiError.field`) with what was entered kept (never a password); who may change
what is decided by the services and `console.permissions`, and each write is audited as every console
POST is.
"""

from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from mqttcloud.control.accounts import service as accounts
from mqttcloud.control.accounts.models import Account, Role
from mqttcloud.control.console.pages import (
    PREFIX,
    ROLE_LABELS,
    ConsoleRoute,
    LoggedIn,
    Page,
    PageError,
    field_errors,
    field_list,
    field_text,
    read_form,
    redirect,
    run,
)
from mqttcloud.control.console.permissions import may_edit_project, may_manage
from mqttcloud.control.console.sections import deployment_form, guarded_view, render_section
from mqttcloud.control.db import SessionDep
from mqttcloud.control.deployments import service as deployments
from mqttcloud.control.deployments.schemas import DeploymentUpdate
from mqttcloud.control.deployments.service import DeploymentView
from mqttcloud.control.deps import RuntimeDep
from mqttcloud.control.errors import ApiError
from mqttcloud.control.projects import service as projects
from mqttcloud.control.projects.models import Project

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

SUB_ACCOUNT_ROLES = [role for role in Role if role is not Role.ROOT]


# --------------------------------------------------------------------------------------------------
# A deployment's name
# --------------------------------------------------------------------------------------------------


def _render_rename(
    page: Page, view: DeploymentView, *, name: str, errors: Mapping[str, str] | None = None, status: int = 200
) -> Response:
    return render_section(
        page, view, "deployment_rename.html", tab="overview", status=status, name=name, errors=errors or {}
    )


@router.get("/deployments/{deployment_id}/rename", response_class=HTMLResponse)
async def rename_deployment_page(deployment_id: str, page: LoggedIn, session: SessionDep) -> Response:
    view = await guarded_view(session, page, deployment_id)
    return _render_rename(page, view, name=view.deployment.name)


@router.post("/deployments/{deployment_id}/rename", response_class=HTMLResponse)
async def rename_deployment(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """The Platform API's `PUT /deployments/{id}` with `deploymentName` (Project Users may rename)."""
    form, view = await deployment_form(request, page, session, deployment_id)
    name = field_text(form, "name")
    try:
        update = DeploymentUpdate(deployment_name=name)
    except ValidationError:
        error = page.t("The name must be 1 to 64 characters.")
        return _render_rename(page, view, name=name, errors={"name": error}, status=422)
    try:
        await run(deployments.update_deployment, session, deployment_id=deployment_id, request=update)
    except ApiError as error:
        if error.status_code != 422:
            raise
        session.rollback()
        return _render_rename(page, view, name=name, errors={"name": page.t(error.message)}, status=422)
    await runtime.reconcile()
    return redirect(f"{PREFIX}/deployments/{deployment_id}")


# --------------------------------------------------------------------------------------------------
# A project's name and description
# --------------------------------------------------------------------------------------------------


async def _editable_project(page: Page, session: SessionDep, project_id: str) -> Project:
    """Raises: PageError 403 (the role may not edit this project), NotFound."""
    if not may_edit_project(page.signed_in, project_id):
        raise PageError(403, page.t("Your role cannot edit this project."))
    return await run(projects.get_project, session, project_id=project_id)


def _render_project(
    page: Page,
    project: Project,
    *,
    form: Mapping[str, str],
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    return page.render("project_edit.html", status=status, project=project, form=form, errors=errors or {})


@router.get("/projects/{project_id}/edit", response_class=HTMLResponse)
async def edit_project_page(project_id: str, page: LoggedIn, session: SessionDep) -> Response:
    project = await _editable_project(page, session, project_id)
    return _render_project(page, project, form={"name": project.name, "description": project.description})


@router.post("/projects/{project_id}/edit", response_class=HTMLResponse)
async def edit_project(project_id: str, request: Request, page: LoggedIn, session: SessionDep) -> Response:
    form = await read_form(request, page)
    project = await _editable_project(page, session, project_id)
    values = {"name": field_text(form, "name"), "description": field_text(form, "description")}
    try:
        await run(projects.update_project, session, project_id=project_id, **values)
    except ApiError as error:
        if error.status_code != 422:
            raise
        errors = field_errors(page, session, error, default="name")
        return _render_project(page, project, form=values, errors=errors, status=422)
    return redirect(f"{PREFIX}/projects")


# --------------------------------------------------------------------------------------------------
# A sub-account's role, projects and password
# --------------------------------------------------------------------------------------------------


async def _render_account(
    page: Page,
    session: SessionDep,
    account: Account,
    *,
    form: Mapping[str, object] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
    reset: bool = False,
) -> Response:
    project_rows = await run(projects.list_projects, session)
    return page.render(
        "account_edit.html",
        status=status,
        target=account,
        roles=ROLE_LABELS,
        sub_roles=SUB_ACCOUNT_ROLES,
        projects=project_rows,
        form=form or {"role": account.role.value, "form_projects": list(account.project_ids)},
        errors=errors or {},
        reset=reset,
    )


async def _managed_account(page: Page, session: SessionDep, account_id: int) -> Account:
    """Raises: PageError 403 (not a manager, or the root account), NotFound."""
    if not may_manage(page.signed_in):
        raise PageError(403, page.t("Only the root account or an Administrator can manage sub-accounts."))
    account = await run(accounts.get_account, session, account_id=account_id)
    if account.role is Role.ROOT:
        raise PageError(403, page.t("The root account cannot be changed here."))
    return account


@router.get("/accounts/{account_id}/edit", response_class=HTMLResponse)
async def edit_account_page(account_id: int, page: LoggedIn, session: SessionDep) -> Response:
    return await _render_account(page, session, await _managed_account(page, session, account_id))


@router.post("/accounts/{account_id}/edit", response_class=HTMLResponse)
async def edit_account(account_id: int, request: Request, page: LoggedIn, session: SessionDep) -> Response:
    """Role and projects (`accounts.update_sub_account`: own role and last Administrator refused)."""
    form = await read_form(request, page)
    account = await _managed_account(page, session, account_id)
    role_value = field_text(form, "role")
    project_ids = field_list(form, "projects")
    values = {"role": role_value, "form_projects": project_ids}
    try:
        role = Role(role_value)
    except ValueError:
        errors = {"role": page.t("Choose a role.")}
        return await _render_account(page, session, account, form=values, errors=errors, status=422)
    try:
        await run(
            accounts.update_sub_account,
            session,
            actor=page.signed_in,
            account_id=account_id,
            role=role,
            project_ids=project_ids,
        )
    except ApiError as error:
        if error.status_code != 422:
            raise
        errors = field_errors(page, session, error, default="role")
        account = await _managed_account(page, session, account_id)
        return await _render_account(page, session, account, form=values, errors=errors, status=422)
    return redirect(f"{PREFIX}/accounts")


@router.post("/accounts/{account_id}/password", response_class=HTMLResponse)
async def reset_account_password(
    account_id: int, request: Request, page: LoggedIn, session: SessionDep
) -> Response:
    """A new password for another sub-account; its console sessions end (`accounts.reset_password`)."""
    form = await read_form(request, page)
    account = await _managed_account(page, session, account_id)
    password = field_text(form, "password", strip=False)
    if password != field_text(form, "confirm_password", strip=False):
        errors = {"confirm_password": page.t("The two new passwords differ.")}
        return await _render_account(page, session, account, errors=errors, status=422)
    try:
        await run(
            accounts.reset_password,
            session,
            actor=page.signed_in,
            account_id=account_id,
            new_password=password,
        )
    except ApiError as error:
        if error.status_code != 422:
            raise
        errors = field_errors(page, session, error, default="password")
        return await _render_account(page, session, account, errors=errors, status=422)
    return await _render_account(page, session, account, reset=True)
