"""A deployment's section pages: which deployment a page is about, who may change it, how a section renders.

`deployment_pages`, `access_pages` and `live_pages` all build on these. Rule: a form that changes a
deployment checks, in this order, its CSRF token (403), the account's role (403) and that the account
sees the deployment (404 otherwise, as the API reports a missing one).
"""

from collections.abc import Callable

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from mqttcloud.control.accounts.models import Account
from mqttcloud.control.console.pages import Page, read_form, run
from mqttcloud.control.console.permissions import require_edit, require_visible
from mqttcloud.control.deployments import service as deployments
from mqttcloud.control.deployments.service import DeploymentView

RoleRule = Callable[[Account], None]


def _view(session: Session, page: Page, deployment_id: str) -> DeploymentView:
    view = deployments.get_view(session, deployment_id=deployment_id)
    require_visible(page.signed_in, view.deployment)
    return view


async def load_view(session: Session, page: Page, deployment_id: str) -> DeploymentView:
    """The deployment if the signed-in account may see it. Raises: NotFound / PageError 404."""
    return await run(_view, session, page, deployment_id)


async def guarded_view(
    session: Session, page: Page, deployment_id: str, *, require: RoleRule = require_edit
) -> DeploymentView:
    """The deployment, once `require` (a `console.permissions` rule) allows the account to change it.

    Raises: PageError 403 (role), then NotFound / PageError 404.
    """
    require(page.signed_in)
    return await load_view(session, page, deployment_id)


async def deployment_form(
    request: Request, page: Page, session: Session, deployment_id: str, *, require: RoleRule = require_edit
) -> tuple[FormData, DeploymentView]:
    """A submitted form that changes a deployment, and the deployment, checked in the module's order."""
    form = await read_form(request, page)
    return form, await guarded_view(session, page, deployment_id, require=require)


def api_address(request: Request, path: str = "/api/v5") -> str:
    """A Deployment API base URL (`/api/v5`, or `/api` for v4): the same listener as the console."""
    return str(request.base_url).rstrip("/") + path


def render_section(
    page: Page, view: DeploymentView, template: str, *, tab: str, status: int = 200, **values: object
) -> Response:
    """Render one section of a deployment's page (the tabs, the deployment and the role flags)."""
    account = page.signed_in
    return page.render(
        template,
        status=status,
        view=view,
        d=view.deployment,
        tab=tab,
        can_edit=account.role.may_edit_deployments,
        can_lifecycle=account.role.may_start_stop,
        **values,
    )
