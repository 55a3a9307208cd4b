"""v4 presenter of the connected clients: `/clients` (spec §2.3.3; v4 names and times)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from mqttcloud.control.deployment_api import common, schemas
from mqttcloud.control.deployment_api.clients import service as clients
from mqttcloud.control.deployment_api.clients import views
from mqttcloud.control.deployment_api.errors import V4Route
from mqttcloud.control.deployment_api.target import Live, live_dep

router = APIRouter(route_class=V4Route)
Clients = Annotated[Live, Depends(live_dep("clients"))]


@router.get("/clients")
async def list_clients(target: Clients, request: Request) -> JSONResponse:
    page, limit = common.paging(request.query_params, 10_000)
    filters = views.filters(request.query_params)
    if filters is None:
        target.broker()  # a stopped deployment answers 503 whatever the filter
        return schemas.v4_page([], page, limit, 0, hasnext=False)
    result = await clients.page_raw(target, filters, page=page, limit=limit)
    rows = [views.v4_raw(raw) for raw in result["data"]]
    return schemas.v4_page(rows, page, limit, result["count"], hasnext=bool(result.get("hasnext")))


@router.get("/clients/{clientid}")
async def get_client(clientid: str, target: Clients) -> JSONResponse:
    """`{"data": [client], "code": 0}`: an array with one element, as documented."""
    return schemas.v4_data([views.v4(await clients.get(target, clientid))])


@router.delete("/clients/{clientid}")
async def kick_client(clientid: str, target: Clients) -> JSONResponse:
    await clients.kick(target, clientid)
    return schemas.v4_ok()
