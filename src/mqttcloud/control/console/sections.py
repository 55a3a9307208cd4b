"""A deployment's section pages: which deployment a page is about, who may change it, what the
Deployment API's use cases act on for it (`Target`), how a section renders.

Every `*_pages` module of a deployment builds on these; a route that reaches the broker takes one
`SectionDep` instead of the request, page, session and runtime. Rule: a form that changes a deployment
checks, in this order, its CSRF token (403), the account's role (403) and that the account sees the
deployment (404 otherwise, as the API reports a missing one).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from mqttcloud.control.accounts.models import Account
from mqttcloud.control.console.pages import LoggedIn, Page, read_form, run
from mqttcloud.control.console.permissions import require_edit, require_visible
from mqttcloud.control.db import SessionDep
from mqttcloud.control.deployment_api.auth import DeploymentContext, quotas_of
from mqttcloud.control.deployment_api.target import Target
from mqttcloud.control.deployments import service as deployments
from mqttcloud.control.deployments.lifecycle import BrokerRuntime
from mqttcloud.control.deployments.service import DeploymentView
from mqttcloud.control.deps import RuntimeDep

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


def deployment_context(view: DeploymentView) -> DeploymentContext:
    """What the Deployment API's live helpers need to know about a deployment (full permissions)."""
    deployment = view.deployment
    return DeploymentContext(
        app_id="console",
        deployment_id=deployment.id,
        permissions=None,
        serverless=deployment.deployment_type.is_serverless,
        connections=deployment.connections,
        desired_running=deployment.desired_running,
    )


def target_of(request: Request, session: Session, runtime: BrokerRuntime, view: DeploymentView) -> Target:
    """What the Deployment API's use cases act on, for a deployment the signed-in account may see."""
    return Target(
        session=session, runtime=runtime, deployment=deployment_context(view), quotas=quotas_of(request)
    )


@dataclass(frozen=True, slots=True)
class Section:
    """One request to a deployment's section that reaches its broker: the page, the session, the runtime.

    Its methods are the module's functions, in the module's order of checks, plus the `Target`.
    """

    request: Request
    page: Page
    session: Session
    runtime: BrokerRuntime

    async def view(self, deployment_id: str) -> DeploymentView:
        """`load_view`: the deployment if the account may see it."""
        return await load_view(self.session, self.page, deployment_id)

    async def guarded(self, deployment_id: str, *, require: RoleRule = require_edit) -> DeploymentView:
        """`guarded_view`: the deployment once the account may change it."""
        return await guarded_view(self.session, self.page, deployment_id, require=require)

    async def form(
        self, deployment_id: str, *, require: RoleRule = require_edit
    ) -> tuple[FormData, DeploymentView]:
        """`deployment_form`: the submitted form, and the deployment it changes."""
        return await deployment_form(self.request, self.page, self.session, deployment_id, require=require)

    def target(self, view: DeploymentView) -> Target:
        """`target_of` the deployment `view`."""
        return target_of(self.request, self.session, self.runtime, view)


async def _section(request: Request, page: LoggedIn, session: SessionDep, runtime: RuntimeDep) -> Section:
    return Section(request, page, session, runtime)


SectionDep = Annotated[Section, Depends(_section)]


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
