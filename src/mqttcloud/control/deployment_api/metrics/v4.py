"""v4 presenter of metrics: `/metrics` (spec §2.3.8), one element per node."""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from mqttcloud.control.deployment_api import schemas
from mqttcloud.control.deployment_api.errors import V4Route
from mqttcloud.control.deployment_api.metrics import service
from mqttcloud.control.deployment_api.target import Live, live_dep

router = APIRouter(route_class=V4Route)
Metrics = Annotated[Live, Depends(live_dep("metrics"))]


@router.get("/metrics")
async def metrics(target: Metrics) -> JSONResponse:
    """`{"data": [{"node", "metrics": {...}}], "code": 0}`."""
    per_node = await service.metrics_by_node(target)
    return schemas.v4_data(
        [{"node": node, "metrics": service.v4_metrics(values)} for node, values in per_node]
    )
