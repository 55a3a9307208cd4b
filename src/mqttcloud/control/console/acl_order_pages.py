"""Console: the order of a deployment's ACL rules (move a rule up or down among its target's rules).

A thin presenter over the ACL use case `move_rule`, which renumbers the target's rules, commits and
pushes them to the running broker before the page answers: the broker evaluates them in the new order
(first match wins) from the next PUBLISH or SUBSCRIBE. Needs `Role.may_edit_deployments`; audited as
every console write is.
"""

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from mqttcloud.control.console.live_pages import target_of
from mqttcloud.control.console.pages import PREFIX, ConsoleRoute, LoggedIn, PageError, field_text, redirect
from mqttcloud.control.console.sections import deployment_form
from mqttcloud.control.db import SessionDep
from mqttcloud.control.deployment_api.acl import service as acl_service
from mqttcloud.control.deps import RuntimeDep

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

DIRECTIONS: dict[str, Literal["up", "down"]] = {"up": "up", "down": "down"}


@router.post("/deployments/{deployment_id}/acl/{rule_id}/move")
async def move_acl_rule(
    deployment_id: str,
    rule_id: int,
    *,
    request: Request,
    page: LoggedIn,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """Form field `direction`: `up` or `down` (anything else: 400)."""
    form, view = await deployment_form(request, page, session, deployment_id)
    direction = DIRECTIONS.get(field_text(form, "direction"))
    if direction is None:
        raise PageError(400, page.t("Move a rule up or down."))
    target = target_of(request, session, runtime, view)
    await acl_service.move_rule(target, rule_id=rule_id, direction=direction)
    return redirect(f"{PREFIX}/deployments/{deployment_id}/acl#rule-{rule_id}")
