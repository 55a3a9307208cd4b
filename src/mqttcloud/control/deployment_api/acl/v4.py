"""v4 presenter of the ACL rules: `/acl` (spec §2.3.2; `$all` is the rule for everyone)."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from mqttcloud.control.deployment_api import common, schemas
from mqttcloud.control.deployment_api.acl import service as acl
from mqttcloud.control.deployment_api.acl.models import AclRuleRow
from mqttcloud.control.deployment_api.acl.schemas import AclIn, AclRuleOut
from mqttcloud.control.deployment_api.errors import V4Route
from mqttcloud.control.deployment_api.paths import ANY_PATH
from mqttcloud.control.deployment_api.target import Target, target_dep
from mqttcloud.control.errors import BadRequest, NotFound

router = APIRouter(route_class=V4Route)
Authz = Annotated[Target, Depends(target_dep("authorization"))]
_V4_ACTIONS = {"publish": "pub", "subscribe": "sub", "all": "pubsub"}


def _out(kind: str, who: str, topic: str, action: str, access: str) -> AclRuleOut:
    if kind == "all":
        return AclRuleOut(all="$all", topic=topic, action=action, access=access)
    if kind == "clientid":
        return AclRuleOut(clientid=who, topic=topic, action=action, access=access)
    return AclRuleOut(username=who, topic=topic, action=action, access=access)


def _row(row: AclRuleRow) -> AclRuleOut:
    return _out(
        row.target_kind, row.target, row.topic, _V4_ACTIONS.get(row.action, row.action), row.permission
    )


def _rule_for(item: AclIn) -> acl.RuleFor:
    """Raises: BadRequest for a rule naming both a client id and a username, or a bad action/access."""
    if item.clientid and item.username:
        raise BadRequest(
            "a rule has a clientid or a username, not both", code="BAD_REQUEST", field="clientid"
        )
    rule = acl.parse_rule(item.topic, item.action, item.access)
    if item.clientid:
        return acl.RuleFor("clientid", item.clientid, rule)
    if item.username:
        return acl.RuleFor("username", item.username, rule)
    return acl.RuleFor("all", "", rule)


@router.post("/acl")
async def create_acl(body: Annotated[Any, Body()], target: Authz) -> JSONResponse:
    """Object: one rule → `{"data": {rule, "result": "ok"}}`; array: `{"data": [...]}` in request order."""
    items = schemas.one_or_many(AclIn, body)
    rules = [_rule_for(i) for i in items]
    await acl.add_rules(target, rules)
    data = [
        {**_out(r.kind, r.target, i.topic, i.action, i.access).dump(), "result": "ok"}
        for r, i in zip(rules, items, strict=True)
    ]
    return schemas.v4_data(data if isinstance(body, list) else data[0])


def _kind(kind: str) -> acl.TargetKind:
    if kind == "clientid":
        return "clientid"
    if kind == "username":
        return "username"
    if kind == "$all":
        return "all"
    raise NotFound("Path not found", code="NOT_FOUND")


@router.get("/acl/{kind}")
async def list_acl(kind: str, target: Authz, request: Request) -> JSONResponse:
    """`/acl/clientid`, `/acl/username`, `/acl/$all`: paged single rules."""
    target_kind = _kind(kind)
    page, limit = common.paging(request.query_params, 10)
    rows, total = await acl.rules_page(target, kind=target_kind, page=page, limit=limit)
    return schemas.v4_page(map(_row, rows), page, limit, total)


@router.get("/acl/{kind}/{who}")
async def get_acl(kind: str, who: str, target: Authz) -> JSONResponse:
    target_kind = _kind(kind)
    if target_kind == "all":
        raise NotFound("Path not found", code="NOT_FOUND")
    return schemas.v4_data([_row(r) for r in await acl.rules_of(target, kind=target_kind, who=who)])


@router.delete(f"/acl/$all/topic/{{topic:{ANY_PATH}}}")
async def delete_all_acl(topic: str, target: Authz) -> JSONResponse:
    await acl.delete_rule(target, kind="all", who="", topic=topic)
    return schemas.v4_ok()


@router.delete(f"/acl/{{kind}}/{{who}}/topic/{{topic:{ANY_PATH}}}")
async def delete_acl(kind: str, who: str, topic: str, target: Authz) -> JSONResponse:
    """`{topic}` arrives URL-decoded (`topic%2fA` → `topic/A`)."""
    await acl.delete_rule(target, kind=_kind(kind), who=who, topic=topic)
    return schemas.v4_ok()
