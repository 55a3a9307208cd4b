"""v5 presenter of data integration (EMQX 5 `/rules`, `/rule_test`, `/connectors`, `/actions`).

Connectors and actions are typed `http`, `pgsql`, `redis` or `mqtt` (EMQX 5's bodies; the last three
in `targets.py`), with ids `<type>:<name>`; rule actions are `"<type>:<name>"` or
`{"function": "republish" | "console", "args"}`. Passwords are shown as "******". Creates answer 201,
deletes 204, errors `{"code", "message"}` (a SQL error says where). Status and metrics come from the
running broker; while it is not running, connectors and actions are `disconnected` and counters are 0.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse

from mqttcloud.contracts import ActionCounters, RuleCounters, RuleMetricsResult
from mqttcloud.control.deployment_api import common, schemas
from mqttcloud.control.deployment_api.integration import actions as items
from mqttcloud.control.deployment_api.integration import config, service, targets
from mqttcloud.control.deployment_api.integration.models import ActionRow, ConnectorRow, RuleRow
from mqttcloud.control.deployment_api.integration.schemas import (
    ActionIn,
    ConnectorIn,
    RuleIn,
    RuleTestIn,
    TypedIn,
)
from mqttcloud.control.deployment_api.integration.service import RuleChange
from mqttcloud.control.deployment_api.target import Target, target_dep
from mqttcloud.control.errors import BadRequest

router = APIRouter()
Rules = Annotated[Target, Depends(target_dep("rules"))]
_TYPES = ("http", "pgsql", "redis", "mqtt")


def _type(value: str | None) -> str:
    if value not in _TYPES:
        raise BadRequest(f"type must be one of: {', '.join(_TYPES)}", field="type")
    return value


# -- connectors --------------------------------------------------------------------------------------


def _connector_config(type_: str, body: object) -> tuple[dict[str, object], TypedIn]:
    """The stored config of a connector body of `type_`, and its common fields. Raises: 400, 422."""
    common = targets.validated(TypedIn, body)
    assert isinstance(common, TypedIn)
    if type_ != "http":
        return targets.check_v5_connector(type_, body), common
    checked = targets.validated(ConnectorIn, body)
    assert isinstance(checked, ConnectorIn)
    config.check_url(checked.url)
    config.seconds(checked.connect_timeout, "connect_timeout")
    config.check_pem(checked.ssl.cacertfile, "ssl.cacertfile")
    return checked.model_dump(mode="json", exclude={"type", "name", "enable", "description"}), common


def _status(counters: list[ActionCounters], enabled: bool, live: bool) -> tuple[str, str]:
    return service.status(counters, enabled=enabled, running=live)


def _node_status(target: Target, status: str, reason: str) -> list[dict[str, object]]:
    return [{"node": target.node, "status": status, "status_reason": reason}]


def _connector_out(
    target: Target, row: ConnectorRow, actions: list[ActionRow], metrics: RuleMetricsResult | None
) -> dict[str, object]:
    mine = [a for a in actions if a.connector == row.name and a.type == row.type]
    counters = [metrics.actions[a.action_id] for a in mine if metrics and a.action_id in metrics.actions]
    status, reason = _status(counters, row.enabled, metrics is not None)
    return {
        "type": row.type,
        "name": row.name,
        "enable": row.enabled,
        "description": row.description,
        **targets.masked(row.config),
        "status": status,
        "status_reason": reason,
        "node_status": _node_status(target, status, reason),
        "actions": [a.name for a in mine],
        "created_at": common.iso(row.created_at.timestamp()),
    }


@router.get("/connectors")
async def list_connectors(target: Rules) -> JSONResponse:
    rows = [r for t in _TYPES for r in await service.connectors(target, type_=t)]
    actions, metrics = await service.actions(target), await service.metrics_or_none(target)
    return JSONResponse([_connector_out(target, r, actions, metrics) for r in rows])


@router.post("/connectors", status_code=201)
async def create_connector(body: Annotated[Any, Body()], target: Rules) -> JSONResponse:
    """`type` http, pgsql, redis or mqtt, each with EMQX 5's connector fields."""
    type_ = _type(body.get("type") if isinstance(body, dict) else None)
    stored, common = _connector_config(type_, body)
    row = await service.create_connector(
        target,
        type_=type_,
        name=config.check_name(common.name),
        config=stored,
        enabled=common.enable,
        description=common.description,
    )
    out = _connector_out(target, row, [], await service.metrics_or_none(target))
    return JSONResponse(out, status_code=201)


@router.get("/connectors/{connector_id}")
async def get_connector(connector_id: str, target: Rules) -> JSONResponse:
    row = await service.connector(target, connector_id)
    actions, metrics = await service.actions(target), await service.metrics_or_none(target)
    return JSONResponse(_connector_out(target, row, actions, metrics))


@router.put("/connectors/{connector_id}")
async def update_connector(connector_id: str, body: Annotated[Any, Body()], target: Rules) -> JSONResponse:
    """A password sent as "******" keeps the stored one."""
    current = await service.connector(target, connector_id)
    stored, common = _connector_config(current.type, body)
    row = await service.update_connector(
        target,
        connector_id,
        config=stored,
        enabled=common.enable,
        description=common.description,
    )
    actions, metrics = await service.actions(target), await service.metrics_or_none(target)
    return JSONResponse(_connector_out(target, row, actions, metrics))


@router.delete("/connectors/{connector_id}", status_code=204)
async def delete_connector(connector_id: str, target: Rules) -> Response:
    await service.delete_connector(target, connector_id)
    return Response(status_code=204)


# -- actions -----------------------------------------------------------------------------------------


def _action_parameters(type_: str, body: object) -> tuple[dict[str, object], str, TypedIn]:
    """An action body of `type_`: its stored parameters, connector name and common fields."""
    common = targets.validated(TypedIn, body)
    assert isinstance(common, TypedIn)
    if type_ != "http":
        stored = targets.check_v5_action(type_, body)
        connector = body.get("connector") if isinstance(body, dict) else None
        return stored, str(connector), common
    checked = targets.validated(ActionIn, body)
    assert isinstance(checked, ActionIn)
    config.seconds(checked.resource_opts.request_ttl, "resource_opts.request_ttl")
    return checked.model_dump(mode="json", include={"parameters", "resource_opts"}), checked.connector, common


def _action_out(target: Target, row: ActionRow, metrics: RuleMetricsResult | None) -> dict[str, object]:
    counters = [metrics.actions[row.action_id]] if metrics and row.action_id in metrics.actions else []
    status, reason = _status(counters, row.enabled, metrics is not None)
    return {
        "type": row.type,
        "name": row.name,
        "connector": row.connector,
        "enable": row.enabled,
        "description": row.description,
        **row.parameters,
        "status": status,
        "status_reason": reason,
        "node_status": _node_status(target, status, reason),
        "created_at": common.iso(row.created_at.timestamp()),
    }


@router.get("/actions")
async def list_actions(target: Rules) -> JSONResponse:
    metrics = await service.metrics_or_none(target)
    return JSONResponse([_action_out(target, r, metrics) for r in await service.actions(target)])


@router.post("/actions", status_code=201)
async def create_action(body: Annotated[Any, Body()], target: Rules) -> JSONResponse:
    """`type` http, pgsql, redis or mqtt over a connector of the same type."""
    type_ = _type(body.get("type") if isinstance(body, dict) else None)
    parameters, connector, common = _action_parameters(type_, body)
    row = await service.create_action(
        target,
        type_=type_,
        name=config.check_name(common.name),
        connector_name=connector,
        parameters=parameters,
        enabled=common.enable,
        description=common.description,
    )
    return JSONResponse(_action_out(target, row, await service.metrics_or_none(target)), status_code=201)


@router.get("/actions/{action_id}")
async def get_action(action_id: str, target: Rules) -> JSONResponse:
    row = await service.action(target, action_id)
    return JSONResponse(_action_out(target, row, await service.metrics_or_none(target)))


@router.put("/actions/{action_id}")
async def update_action(action_id: str, body: Annotated[Any, Body()], target: Rules) -> JSONResponse:
    current = await service.action(target, action_id)
    parameters, connector, common = _action_parameters(current.type, body)
    row = await service.update_action(
        target,
        action_id,
        connector_name=connector,
        parameters=parameters,
        enabled=common.enable,
        description=common.description,
    )
    return JSONResponse(_action_out(target, row, await service.metrics_or_none(target)))


@router.delete("/actions/{action_id}", status_code=204)
async def delete_action(action_id: str, target: Rules) -> Response:
    await service.delete_action(target, action_id)
    return Response(status_code=204)


@router.get("/actions/{action_id}/metrics")
async def action_metrics(action_id: str, target: Rules) -> JSONResponse:
    row = await service.action(target, action_id)
    metrics = await service.metrics_or_none(target)
    counters = (metrics.actions.get(row.action_id) if metrics else None) or ActionCounters()
    values = {
        **counters.model_dump(exclude={"status", "status_reason"}),
        "received": 0,
        "rate": 0.0,
        "rate_max": 0.0,
        "rate_last5m": 0.0,
    }
    return JSONResponse({"metrics": values, "node_metrics": [{"node": target.node, "metrics": values}]})


# -- rules -------------------------------------------------------------------------------------------


def rule_out(row: RuleRow) -> dict[str, object]:
    """A rule as EMQX 5 shows it (`from` lists its FROM sources)."""
    return {
        "id": row.rule_id,
        "name": row.name,
        "sql": row.sql,
        "actions": [items.as_v5(i) for i in row.actions],
        "enable": row.enabled,
        "description": row.description,
        "from": list(service.sources(row.sql)),
        "created_at": common.iso(row.created_at.timestamp()),
        "last_modified_at": common.iso(row.updated_at.timestamp()),
    }


def _change(body: RuleIn) -> RuleChange:
    return RuleChange(sql=body.sql, name=body.name, enabled=body.enable, description=body.description)


@router.get("/rules")
async def list_rules(target: Rules, request: Request) -> JSONResponse:
    """Paged; filters `enable`, `from` (exact source), `like_id`, `like_from`, `like_description`."""
    query = request.query_params
    page, limit = common.paging(query, 100)
    enable = common.bool_param(query, "enable")
    rows = [rule_out(r) for r in await service.rules(target)]
    if enable is not None:
        rows = [r for r in rows if r["enable"] is enable]
    if source := query.get("from"):
        rows = [r for r in rows if source in _strings(r["from"])]
    if like := query.get("like_from"):
        rows = [r for r in rows if any(like in s for s in _strings(r["from"]))]
    for key in ("id", "description"):
        if like := query.get(f"like_{key}"):
            rows = [r for r in rows if like in str(r[key])]
    chosen = rows[(page - 1) * limit : page * limit]
    return schemas.v5_page(chosen, schemas.meta(page, limit, len(rows)))


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


@router.post("/rules", status_code=201)
async def create_rule(body: RuleIn, target: Rules) -> JSONResponse:
    rule_id = body.id if body.id is None else config.check_name(body.id, "id")
    row = await service.create_v5_rule(
        target, rule_id=rule_id, change=_change(body), raw_actions=body.actions or []
    )
    return JSONResponse(rule_out(row), status_code=201)


@router.post("/rule_test")
async def rule_test(body: RuleTestIn, target: Rules) -> JSONResponse:
    """200 with the output; 412 NOT_MATCH when the rule does not select the input; 400 bad SQL."""
    return JSONResponse(service.run_test(body.sql, body.context, node=target.node, event_type=None))


@router.get("/rules/{rule_id}")
async def get_rule(rule_id: str, target: Rules) -> JSONResponse:
    return JSONResponse(rule_out(await service.rule(target, rule_id)))


@router.put("/rules/{rule_id}")
async def update_rule(rule_id: str, body: RuleIn, target: Rules) -> JSONResponse:
    row = await service.update_rule(target, rule_id, change=_change(body), v5_actions=body.actions)
    return JSONResponse(rule_out(row))


@router.delete("/rules/{rule_id}", status_code=204)
async def delete_rule(rule_id: str, target: Rules) -> Response:
    await service.delete_rule(target, rule_id)
    return Response(status_code=204)


def rule_counters(values: RuleCounters) -> dict[str, object]:
    """EMQX 5's rule metrics object."""
    return {
        **values.model_dump(by_alias=True),
        "actions.discarded": 0,
        "matched.rate": 0.0,
        "matched.rate.max": 0.0,
        "matched.rate.last5m": 0.0,
    }


@router.get("/rules/{rule_id}/metrics")
async def rule_metrics(rule_id: str, target: Rules) -> JSONResponse:
    row = await service.rule(target, rule_id)
    metrics = await service.metrics_or_none(target)
    values = rule_counters((metrics.rules.get(row.rule_id) if metrics else None) or RuleCounters())
    return JSONResponse(
        {"id": row.rule_id, "metrics": values, "node_metrics": [{"node": target.node, "metrics": values}]}
    )
