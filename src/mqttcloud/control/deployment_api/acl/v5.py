"""v5 presenter of the ACL rules: `/authorization/sources/built_in_database/rules/{clients,users,all}`."""

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse

from mqttcloud.control.deployment_api import common, schemas
from mqttcloud.control.deployment_api.acl import service as acl
from mqttcloud.control.deployment_api.acl.models import AclRuleRow
from mqttcloud.control.deployment_api.acl.schemas import (
    AllRulesIn,
    ClientRulesIn,
    RuleIn,
    RuleOut,
    UserRulesIn,
)
from mqttcloud.control.deployment_api.target import Target, target_dep
from mqttcloud.control.errors import BadRequest, NotFound

router = APIRouter()
Authz = Annotated[Target, Depends(target_dep("authorization"))]
RULES = "/authorization/sources/built_in_database/rules"
# path segment → (target kind, the field naming the target)
_KINDS: dict[str, tuple[acl.TargetKind, str]] = {
    "clients": ("clientid", "clientid"),
    "users": ("username", "username"),
}


def _rule(row: AclRuleRow) -> dict[str, object]:
    return RuleOut(topic=row.topic, action=row.action, permission=row.permission).dump()


def _parsed(items: Sequence[RuleIn]) -> list[acl.Rule]:
    return [acl.parse_rule(r.topic, r.action, r.permission) for r in items]


@router.post(RULES + "/clients", status_code=204)
async def create_client_rules(
    body: Annotated[ClientRulesIn | list[ClientRulesIn], Body()], target: Authz
) -> Response:
    """Object (docs) or array (EMQX 5) body, spec §5 item 15; sets each client's rules. 204."""
    items = body if isinstance(body, list) else [body]
    await acl.set_rules(target, kind="clientid", rules=[(i.clientid, _parsed(i.rules)) for i in items])
    return Response(status_code=204)


@router.post(RULES + "/users", status_code=204)
async def create_user_rules(
    body: Annotated[UserRulesIn | list[UserRulesIn], Body()], target: Authz
) -> Response:
    items = body if isinstance(body, list) else [body]
    await acl.set_rules(target, kind="username", rules=[(i.username, _parsed(i.rules)) for i in items])
    return Response(status_code=204)


@router.post(RULES + "/all", status_code=204)
async def set_all_rules(body: AllRulesIn, target: Authz) -> Response:
    await acl.set_rules(target, kind="all", rules=[("", _parsed(body.rules))])
    return Response(status_code=204)


@router.delete(RULES + "/all", status_code=204)
async def delete_all_rules(target: Authz) -> Response:
    await acl.set_rules(target, kind="all", rules=[("", [])])
    return Response(status_code=204)


@router.get(RULES + "/all")
async def get_all_rules(target: Authz) -> JSONResponse:
    return JSONResponse({"rules": [_rule(r) for r in await acl.rules_of(target, kind="all", who="")]})


@router.get(RULES + "/{segment}")
async def list_rules(segment: str, target: Authz, request: Request) -> JSONResponse:
    """Targets with their rules; `like_clientid` / `like_username` filter (then no `count`, spec §4
    item 17)."""
    kind, key = _kind(segment)
    page, limit = common.paging(request.query_params, 100)
    like = common.param(request.query_params, f"like_{key}") or None
    rows, total = await acl.targets_page(target, kind=kind, page=page, limit=limit, like=like)
    page_meta = schemas.meta(page, limit, total)
    if like:
        del page_meta["count"]
    return schemas.v5_page(({key: t, "rules": [_rule(r) for r in rules]} for t, rules in rows), page_meta)


@router.get(RULES + "/{segment}/{who}")
async def get_rules(segment: str, who: str, target: Authz) -> JSONResponse:
    kind, key = _kind(segment)
    rows = await acl.rules_of(target, kind=kind, who=who)
    if not rows:
        raise NotFound("Not Found", code="NOT_FOUND")
    return JSONResponse({key: who, "rules": [_rule(r) for r in rows]})


@router.put(RULES + "/clients/{clientid}", status_code=204)
async def put_client_rules(clientid: str, body: ClientRulesIn, target: Authz) -> Response:
    if body.clientid != clientid:
        raise BadRequest("clientid in the body does not match the path", code="BAD_REQUEST", field="clientid")
    await acl.set_rules(target, kind="clientid", rules=[(clientid, _parsed(body.rules))])
    return Response(status_code=204)


@router.put(RULES + "/users/{username}", status_code=204)
async def put_user_rules(username: str, body: UserRulesIn, target: Authz) -> Response:
    if body.username != username:
        raise BadRequest("username in the body does not match the path", code="BAD_REQUEST", field="username")
    await acl.set_rules(target, kind="username", rules=[(username, _parsed(body.rules))])
    return Response(status_code=204)


@router.delete(RULES + "/{segment}/{who}", status_code=204)
async def delete_rules(segment: str, who: str, target: Authz) -> Response:
    kind, _key = _kind(segment)
    await acl.delete_target(target, kind=kind, who=who)
    return Response(status_code=204)


def _kind(segment: str) -> tuple[acl.TargetKind, str]:
    """Raises: NotFound for a path segment other than `clients` and `users`."""
    try:
        return _KINDS[segment]
    except KeyError:
        raise NotFound("Path not found", code="NOT_FOUND") from None
