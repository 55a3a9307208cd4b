"""Console: the order of a deployment's ACL rules (move a rule up or down among its target's rules).

A thin presenter over the ACL use case `move_rule`, which renumbers the target's rules, commits and
pushes them to the running broker before the page answers: the broker evaluates them in the new order
(first match wins) from the next PUBLISH or SUBSCRIBE. Needs `Role.may_edit_deployments`; audited as
every console write is.
"""

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import Response

from mqttcloud.control.console.pages import PREFIX, ConsoleRoute, PageError, field_text, redirect
from mqttcloud.control.console.sections import SectionDep
from mqttcloud.control.deployment_api.acl import service as acl_service

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

DIRECTIONS: dict[str, Literal["up", "down"]] = {"up": "up", "down": "down"}


@router.post("/deployments/{deployment_id}/acl/{rule_id}/move")
async def move_acl_rule(deployment_id: str, rule_id: int, section: SectionDep) -> Response:
    """Form field `direction`: `up` or `down` (anything else: 400)."""
    page = section.page
    form, view = await section.form(deployment_id)
    direction = DIRECTIONS.get(field_text(form, "direction"))
    if direction is None:
        raise PageError(400, page.t("Move a rule up or down."))
    target = section.target(view)
    await acl_service.move_rule(target, rule_id=rule_id, direction=direction)
    return redirect(f"{PREFIX}/deployments/{deployment_id}/acl#rule-{rule_id}")
