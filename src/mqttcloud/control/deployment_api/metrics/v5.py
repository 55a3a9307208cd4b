"""v5 presenter of metrics: `/metrics`, `/stats`, `/prometheus/stats`."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from mqttcloud.control.deployment_api import common
from mqttcloud.control.deployment_api.metrics import service
from mqttcloud.control.deployment_api.target import Live, live_dep

router = APIRouter()
Metrics = Annotated[Live, Depends(live_dep("metrics"))]


def _per_node(target: Live, request: Request, values: dict[str, int]) -> JSONResponse:
    """EMQX 5: a list with one object per node, or one object with `aggregate=true`."""
    if common.bool_param(request.query_params, "aggregate"):
        return JSONResponse(values)
    return JSONResponse([{"node": target.node, **values}])


@router.get("/metrics")
async def metrics(target: Metrics, request: Request) -> JSONResponse:
    return _per_node(target, request, await service.metrics(target))


@router.get("/stats")
async def stats(target: Metrics, request: Request) -> JSONResponse:
    return _per_node(target, request, await service.stats(target))


@router.get("/prometheus/stats")
async def prometheus_stats(target: Metrics) -> PlainTextResponse:
    return PlainTextResponse(await service.prometheus_text(target), media_type="text/plain; version=0.0.4")
