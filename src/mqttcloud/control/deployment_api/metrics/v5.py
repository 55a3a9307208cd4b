"""v5 presenter of metrics: `/metrics`, `/stats` (per node, or summed with `aggregate=true`), `/nodes`,
`/prometheus/stats`."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from mqttcloud.control.deployment_api import common, nodes
from mqttcloud.control.deployment_api.metrics import service
from mqttcloud.control.deployment_api.target import Live, live_dep
from mqttcloud.control.errors import NotFound

router = APIRouter()
Metrics = Annotated[Live, Depends(live_dep("metrics"))]


def _per_node(request: Request, values: list[tuple[str, dict[str, int]]]) -> JSONResponse:
    """EMQX 5: a list with one object per node, or their sum with `aggregate=true`."""
    if common.bool_param(request.query_params, "aggregate"):
        return JSONResponse(nodes.summed([one for _node, one in values]))
    return JSONResponse([{"node": node, **one} for node, one in values])


@router.get("/metrics")
async def metrics(target: Metrics, request: Request) -> JSONResponse:
    return _per_node(request, await service.metrics_by_node(target))


@router.get("/stats")
async def stats(target: Metrics, request: Request) -> JSONResponse:
    return _per_node(request, await service.stats_by_node(target))


@router.get("/nodes")
async def list_nodes(target: Metrics) -> JSONResponse:
    return JSONResponse(await service.nodes(target))


@router.get("/nodes/{node}")
async def get_node(target: Metrics, node: str) -> JSONResponse:
    for one in await service.nodes(target):
        if one["node"] == node:
            return JSONResponse(one)
    raise NotFound(f"Node {node} not found", code="NOT_FOUND")


@router.get("/prometheus/stats")
async def prometheus_stats(target: Metrics) -> PlainTextResponse:
    return PlainTextResponse(await service.prometheus_text(target), media_type="text/plain; version=0.0.4")
