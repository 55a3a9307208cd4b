"""Console page to edit one MQTT user of a deployment: its password and superuser flag.

A thin presenter over the `authn` use case `update` (the one behind `PUT /api/v5/authentication/
.../users/{id}`), so the running broker checks the new password from the next CONNECT when the page
answers; a refused change shows its message next to its field and keeps what was entered (never the
password). Needs `Role.may_edit_deployments`; the change is audited as every console write is.
"""

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from mqttcloud.control.console.pages import PREFIX, ConsoleRoute, Page, field_errors, field_text, redirect
from mqttcloud.control.console.sections import SectionDep, render_section
from mqttcloud.control.deployment_api.authn import service as authn_service
from mqttcloud.control.deployment_api.authn import store as authn
from mqttcloud.control.deployment_api.authn.models import DeploymentUser
from mqttcloud.control.deployment_api.target import Target
from mqttcloud.control.deployments.service import DeploymentView
from mqttcloud.control.errors import ApiError

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


def _kind(value: str) -> authn.Kind:
    return "clientid" if value == "clientid" else "username"


def _render(
    page: Page,
    view: DeploymentView,
    user: DeploymentUser,
    *,
    is_superuser: bool,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return render_section(
        page,
        view,
        "user_edit.html",
        tab="users",
        status=status,
        user=user,
        is_superuser=is_superuser,
        errors=errors or {},
        back=f"{PREFIX}/deployments/{view.deployment.id}/users?kind={user.kind}",
    )


async def _user(target: Target, kind: str, user_id: str) -> DeploymentUser:
    return await authn_service.get(target, kind=_kind(kind), user_id=user_id)


@router.get("/deployments/{deployment_id}/users/{kind}/{user_id}/edit", response_class=HTMLResponse)
async def edit_user_page(deployment_id: str, kind: str, user_id: str, section: SectionDep) -> Response:
    page = section.page
    view = await section.guarded(deployment_id)
    user = await _user(section.target(view), kind, user_id)
    return _render(page, view, user, is_superuser=user.is_superuser)


@router.post("/deployments/{deployment_id}/users/{kind}/{user_id}/edit", response_class=HTMLResponse)
async def edit_user(deployment_id: str, kind: str, user_id: str, section: SectionDep) -> Response:
    page = section.page
    form, view = await section.form(deployment_id)
    target = section.target(view)
    user = await _user(target, kind, user_id)
    password = field_text(form, "password", strip=False)
    is_superuser = form.get("is_superuser") == "on"
    if password != field_text(form, "confirm_password", strip=False):
        errors = {"confirm_password": page.t("The two new passwords differ.")}
        return _render(page, view, user, is_superuser=is_superuser, errors=errors, status=422)
    try:
        await authn_service.update(
            target,
            kind=_kind(kind),
            user_id=user.user_id,
            password=password or None,  # empty: the password stays
            is_superuser=is_superuser,
        )
    except ApiError as error:
        errors = field_errors(page, section.session, error, default="password")
        return _render(page, view, user, is_superuser=is_superuser, errors=errors, status=422)
    return redirect(f"{PREFIX}/deployments/{deployment_id}/users?kind={user.kind}")
