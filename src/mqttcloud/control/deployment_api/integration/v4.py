"""v4 presenter of data integration: `/resources`, `/resource_types`, `/rules`, `/actions` (spec §2.3.10).

Resources are `web_hook`, `backend_pgsql`, `backend_redis_single` or `bridge_mqtt` (`resource:<8 hex>`;
passwords shown as "******"), rules `rule:<8 hex>` with action instances `{id, name, params, metrics}`;
`POST /rules?test=true` runs `rawsql` on `ctx` without storing anything. Metrics items carry EMQX 4's
names per node; counters come from the running broker (0 while stopped).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from mqttcloud.contracts import RuleMetricsResult
from mqttcloud.control.deployment_api import common, schemas
from mqttcloud.control.deployment_api.errors import V4Route
from mqttcloud.control.deployment_api.integration import actions as items
from mqttcloud.control.deployment_api.integration import catalog, config, service, targets
from mqttcloud.control.deployment_api.integration.models import ConnectorRow, RuleRow
from mqttcloud.control.deployment_api.integration.schemas import ResourceIn, V4RuleIn, WebHookConfigIn
from mqttcloud.control.deployment_api.integration.service import RuleChange
from mqttcloud.control.deployment_api.integration.testing import NotMatch
from mqttcloud.control.deployment_api.target import Target, target_dep
from mqttcloud.control.errors import BadRequest, NotFound

router = APIRouter(route_class=V4Route)
Rules = Annotated[Target, Depends(target_dep("rules"))]
RESOURCE = "Resource"


def _validated(model: type[WebHookConfigIn], value: object) -> WebHookConfigIn:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


# -- resources and resource types ---------------------------------------------------------------------


def _resource_config(body: ResourceIn) -> dict[str, object]:
    if body.type not in catalog.RESOURCE_TYPES:
        raise BadRequest(f"Resource Type {body.type} Not Found", field="type")
    if body.type in targets.V4_RESOURCES:
        targets.check_v4_resource(body.type, body.config)
        return dict(body.config)  # as given; `targets.v4_action` reads it
    checked = _validated(WebHookConfigIn, body.config)
    config.check_url(checked.url, "config.url")
    config.seconds(checked.connect_timeout, "config.connect_timeout")
    config.seconds(checked.request_timeout, "config.request_timeout")
    config.check_pem(checked.cacertfile, "config.cacertfile")
    return dict(body.config)  # as given (EMQX 4 shows it back so); `config.webhook_action` reads it


def _resource_alive(
    target: Target, row: ConnectorRow, rules: list[RuleRow], metrics: RuleMetricsResult | None
) -> bool:
    if metrics is None or not row.enabled:
        return False
    ids = [str(i["id"]) for r in rules for i in r.actions if i.get("resource") == row.connector_id]
    return all(metrics.actions[i].status == "connected" for i in ids if i in metrics.actions)


def _resource_out(row: ConnectorRow) -> dict[str, object]:
    shown = targets.masked(row.config)
    return {"id": row.connector_id, "type": row.type, "config": shown, "description": row.description}


@router.post("/resources")
async def create_resource(body: ResourceIn, target: Rules) -> JSONResponse:
    row = await service.create_connector(
        target,
        type_=body.type,
        name=None,
        config=_resource_config(body),
        enabled=True,
        description=body.description,
    )
    return schemas.v4_data(_resource_out(row))


@router.get("/resources")
async def list_resources(target: Rules) -> JSONResponse:
    rows = [r for t in catalog.RESOURCE_TYPES for r in await service.connectors(target, type_=t)]
    rules, metrics = await service.rules(target), await service.metrics_or_none(target)
    return schemas.v4_data(
        [{**_resource_out(r), "status": _resource_alive(target, r, rules, metrics)} for r in rows]
    )


@router.get("/resources/{resource_id}")
async def get_resource(resource_id: str, target: Rules) -> JSONResponse:
    row = await _resource(target, resource_id)
    rules, metrics = await service.rules(target), await service.metrics_or_none(target)
    status = [{"node": target.node, "is_alive": _resource_alive(target, row, rules, metrics)}]
    return schemas.v4_data({**_resource_out(row), "status": status})


async def _resource(target: Target, resource_id: str) -> ConnectorRow:
    row = await service.connector(target, resource_id, what=RESOURCE)
    if row.type not in catalog.RESOURCE_TYPES:
        raise NotFound(f"Resource {resource_id} not found", code="NOT_FOUND")
    return row


@router.delete("/resources/{resource_id}")
async def delete_resource(resource_id: str, target: Rules) -> JSONResponse:
    await _resource(target, resource_id)
    await service.delete_connector(target, resource_id, what=RESOURCE)
    return schemas.v4_ok()


@router.get("/resource_types")
async def list_resource_types(target: Rules) -> JSONResponse:
    return schemas.v4_data(list(catalog.RESOURCE_TYPES.values()))


@router.get("/resource_types/{name}")
async def get_resource_type(name: str, target: Rules) -> JSONResponse:
    if name not in catalog.RESOURCE_TYPES:
        raise NotFound(f"Resource Type {name} Not Found", code="NOT_FOUND")
    return schemas.v4_data(catalog.RESOURCE_TYPES[name])


# -- actions ------------------------------------------------------------------------------------------


@router.get("/actions")
async def list_actions(target: Rules) -> JSONResponse:
    return schemas.v4_data(list(catalog.ACTIONS.values()))


@router.get("/actions/{name}")
async def get_action(name: str, target: Rules) -> JSONResponse:
    if name not in catalog.ACTIONS:
        raise NotFound(f"Action {name} Not Found", code="NOT_FOUND")
    return schemas.v4_data(catalog.ACTIONS[name])


# -- rules --------------------------------------------------------------------------------------------


def rule_out(target: Target, row: RuleRow, metrics: RuleMetricsResult | None) -> dict[str, object]:
    """A rule as EMQX 4 shows it, with one metrics item per node."""
    counters = metrics.rules.get(row.rule_id) if metrics else None
    matched = counters.matched if counters else 0
    shown = []
    for item in row.actions:
        action = metrics.actions.get(str(item.get("id"))) if metrics else None
        node_metrics = {
            "success": action.success if action else 0,
            "node": target.node,
            "failed": action.failed if action else 0,
        }
        shown.append({**items.as_v4(item), "metrics": [node_metrics], "fallbacks": []})
    return {
        "id": row.rule_id,
        "rawsql": row.sql,
        "for": list(service.sources(row.sql)),
        "metrics": [
            {"speed_max": 0, "speed_last5m": 0.0, "speed": 0.0, "node": target.node, "matched": matched}
        ],
        "description": row.description,
        "enabled": row.enabled,
        "on_action_failed": "continue",
        "created_at": int(row.created_at.timestamp() * 1000),
        "actions": shown,
    }


def _v4_actions(body: V4RuleIn) -> list[tuple[str, dict[str, object]]] | None:
    return None if body.actions is None else [(a.name, a.params) for a in body.actions]


def _change(body: V4RuleIn) -> RuleChange:
    return RuleChange(sql=body.rawsql, enabled=body.enabled, description=body.description)


@router.post("/rules")
async def create_rule(body: Annotated[Any, Body()], target: Rules, request: Request) -> JSONResponse:
    """`?test=true` (or `"test": true` in the body): run `rawsql` on `ctx` and answer its output."""
    parsed = schemas.one_or_many(V4RuleIn, body)[0] if isinstance(body, dict) else None
    if parsed is None:
        raise BadRequest("the body must be a JSON object", field="body")
    if common.bool_param(request.query_params, "test") or body.get("test") in {True, "true"}:
        if parsed.rawsql is None:
            raise BadRequest("rawsql is required", field="rawsql")
        try:
            return schemas.v4_data(
                service.run_test(parsed.rawsql, parsed.ctx, node=target.node, event_type=None)
            )
        except NotMatch:
            raise NotFound("SQL Not Match", code="NOT_MATCH") from None
    if parsed.rawsql is None:
        raise BadRequest("rawsql is required", field="rawsql")
    row = await service.create_v4_rule(target, change=_change(parsed), raw_actions=_v4_actions(parsed) or [])
    return schemas.v4_data(rule_out(target, row, await service.metrics_or_none(target)))


@router.get("/rules")
async def list_rules(target: Rules) -> JSONResponse:
    metrics = await service.metrics_or_none(target)
    return schemas.v4_data([rule_out(target, r, metrics) for r in await service.rules(target)])


@router.get("/rules/{rule_id}")
async def get_rule(rule_id: str, target: Rules) -> JSONResponse:
    row = await service.rule(target, rule_id)
    return schemas.v4_data(rule_out(target, row, await service.metrics_or_none(target)))


@router.put("/rules/{rule_id}")
async def update_rule(rule_id: str, body: V4RuleIn, target: Rules) -> JSONResponse:
    row = await service.update_rule(target, rule_id, change=_change(body), v4_actions=_v4_actions(body))
    return schemas.v4_data(rule_out(target, row, await service.metrics_or_none(target)))


@router.delete("/rules/{rule_id}")
async def delete_rule(rule_id: str, target: Rules) -> JSONResponse:
    await service.delete_rule(target, rule_id)
    return schemas.v4_ok()
