"""v5 presenter of the connected clients: `/clients` (spec §2.2.1)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic_core import to_json

from mqttcloud.control.deployment_api import common, schemas
from mqttcloud.control.deployment_api.clients import service as clients
from mqttcloud.control.deployment_api.clients import views
from mqttcloud.control.deployment_api.target import Live, live_dep

router = APIRouter()
Clients = Annotated[Live, Depends(live_dep("clients"))]


@router.get("/clients")
async def list_clients(target: Clients, request: Request) -> Response:
    """Connected clients with every §2.2.1 filter; `page`/`limit` or `_page`/`_limit`."""
    page, limit = common.paging(request.query_params, 100)
    filters = views.filters(request.query_params)
    if filters is None:
        target.broker()  # a stopped deployment answers 503 whatever the filter
        return JSONResponse({"meta": schemas.meta(page, limit, 0), "data": []})
    result = await clients.page_raw(target, filters, page=page, limit=limit)
    body = {
        "meta": schemas.meta(page, limit, result["count"], hasnext=bool(result.get("hasnext"))),
        "data": [views.v5_raw(raw) for raw in result["data"]],
    }
    # Encoded by pydantic-core: ~4x cheaper than JSONResponse's json.dumps for a page of clients.
    return Response(to_json(body), media_type="application/json")


@router.get("/clients/{clientid}")
async def get_client(clientid: str, target: Clients) -> JSONResponse:
    """One client as a bare object (the en example; spec §5 item 14)."""
    return JSONResponse(views.v5(await clients.get(target, clientid)))


@router.delete("/clients/{clientid}", status_code=204)
async def kick_client(clientid: str, target: Clients) -> Response:
    """Kick: ends the connection and the session (204)."""
    await clients.kick(target, clientid)
    return Response(status_code=204)
