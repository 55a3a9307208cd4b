"""v5 presenter of subscriptions: `/subscriptions`, `/clients/{clientid}/subscriptions`, `/subscribe`,
`/unsubscribe` and their bulk forms (spec §2.2.1, §2.2.2)."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse

from mqttcloud.control.deployment_api import common, schemas
from mqttcloud.control.deployment_api.subscriptions import service as subscriptions
from mqttcloud.control.deployment_api.subscriptions import views
from mqttcloud.control.deployment_api.subscriptions.schemas import SubscribeIn, TopicIn
from mqttcloud.control.deployment_api.target import Live, live_dep

router = APIRouter()
Subscriptions = Annotated[Live, Depends(live_dep("subscriptions"))]
Clients = Annotated[Live, Depends(live_dep("clients"))]


@router.get("/subscriptions")
async def list_subscriptions(target: Subscriptions, request: Request) -> JSONResponse:
    """Filters: `clientid`, `qos`, `share` (group), `topic`, `match_topic` / `_match_topic`."""
    page, limit = common.paging(request.query_params, 100)
    result = await subscriptions.page(target, views.filters(request.query_params), page=page, limit=limit)
    return schemas.v5_page(
        map(views.v5, result.data), schemas.meta(page, limit, result.count, hasnext=result.hasnext)
    )


@router.get("/clients/{clientid}/subscriptions")
async def client_subscriptions(clientid: str, target: Clients) -> JSONResponse:
    result = await subscriptions.of_client(target, clientid)
    return JSONResponse({"data": [views.v5(s) for s in result.data]})


async def _subscribe(target: Live, clientid: str, item: SubscribeIn) -> dict[str, object]:
    sub = await subscriptions.subscribe(
        target, clientid, item.topic, qos=item.qos, nl=item.nl, rap=item.rap, rh=item.rh
    )
    return {"clientid": clientid, **views.v5(sub)}


@router.post("/clients/{clientid}/subscribe")
async def subscribe(clientid: str, body: SubscribeIn, target: Clients) -> JSONResponse:
    return JSONResponse(await _subscribe(target, clientid, body))


@router.post("/clients/{clientid}/subscribe/bulk")
async def subscribe_bulk(
    clientid: str, body: Annotated[list[SubscribeIn], Body()], target: Clients
) -> JSONResponse:
    return JSONResponse({"data": [await _subscribe(target, clientid, item) for item in body]})


@router.post("/clients/{clientid}/unsubscribe", status_code=204)
async def unsubscribe(clientid: str, body: TopicIn, target: Clients) -> Response:
    await subscriptions.unsubscribe(target, clientid, body.topic)
    return Response(status_code=204)


@router.post("/clients/{clientid}/unsubscribe/bulk", status_code=204)
async def unsubscribe_bulk(
    clientid: str, body: Annotated[list[TopicIn], Body()], target: Clients
) -> Response:
    for item in body:
        await subscriptions.unsubscribe(target, clientid, item.topic)
    return Response(status_code=204)
