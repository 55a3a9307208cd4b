"""v4 presenter of subscriptions: `/subscriptions`, `/mqtt/subscribe`, `/mqtt/unsubscribe` and their
`_batch` forms (spec §2.3.5, §2.3.6). A batch answers 200 with a per-item v4 code (112: not online)."""

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from mqttcloud.control.deployment_api import common, schemas
from mqttcloud.control.deployment_api.errors import V4_CLIENT_NOT_ONLINE, V4_SUCCESS, V4Route, item_code
from mqttcloud.control.deployment_api.subscriptions import service as subscriptions
from mqttcloud.control.deployment_api.subscriptions import views
from mqttcloud.control.deployment_api.subscriptions.schemas import MqttSubscribeIn
from mqttcloud.control.deployment_api.target import Live, live_dep
from mqttcloud.control.errors import BadRequest, Invalid, NotFound

router = APIRouter(route_class=V4Route)
Subscriptions = Annotated[Live, Depends(live_dep("subscriptions"))]
Clients = Annotated[Live, Depends(live_dep("clients"))]


@router.get("/subscriptions")
async def list_subscriptions(target: Subscriptions, request: Request) -> JSONResponse:
    page, limit = common.paging(request.query_params, 10_000)
    result = await subscriptions.page(target, views.filters(request.query_params), page=page, limit=limit)
    return schemas.v4_page(map(views.v4, result.data), page, limit, result.count, hasnext=result.hasnext)


@router.get("/subscriptions/{clientid}")
async def client_subscriptions(clientid: str, target: Subscriptions) -> JSONResponse:
    result = await subscriptions.of_client(target, clientid)
    return schemas.v4_data([views.v4(s) for s in result.data])


def topics_of(topic: str | None, topics: str | None) -> list[str]:
    """`topic`, then each of the comma-separated `topics`. Raises: Invalid (neither given)."""
    names = [t.strip() for t in (topics or "").split(",") if t.strip()]
    if topic:
        names.insert(0, topic)
    if not names:
        raise Invalid("topic or topics is required", code="MISSING_PARAMETER", field="topic")
    return names


async def _each_topic(target: Live, item: MqttSubscribeIn, *, subscribe: bool) -> int:
    """Subscribe or unsubscribe every topic of the item; the v4 code of the last failure, or 0."""
    code = V4_SUCCESS
    for topic in topics_of(item.topic, item.topics):
        if subscribe:
            failed = await item_code(subscriptions.subscribe(target, item.clientid, topic, qos=item.qos))
        else:
            failed = await item_code(subscriptions.unsubscribe(target, item.clientid, topic))
        code = failed or code
    return code


def raise_for(code: int) -> None:
    """A single (not batch) call answers its failure as an error."""
    if code == V4_CLIENT_NOT_ONLINE:
        raise NotFound("Client not online", code="CLIENTID_NOT_FOUND", field="clientid")
    if code != V4_SUCCESS:
        raise BadRequest("Illegal topic or parameters", code="BAD_TOPIC", field="topic")


@router.post("/mqtt/subscribe")
async def mqtt_subscribe(body: MqttSubscribeIn, target: Clients) -> JSONResponse:
    raise_for(await _each_topic(target, body, subscribe=True))
    return schemas.v4_ok()


@router.post("/mqtt/unsubscribe")
async def mqtt_unsubscribe(body: MqttSubscribeIn, target: Clients) -> JSONResponse:
    raise_for(await _each_topic(target, body, subscribe=False))
    return schemas.v4_ok()


async def _batch(target: Live, body: Sequence[MqttSubscribeIn], *, subscribe: bool) -> JSONResponse:
    data = []
    for item in body:
        code = await _each_topic(target, item, subscribe=subscribe)
        data.append({"clientid": item.clientid, "topic": item.topic or item.topics, "code": code})
    return schemas.v4_data(data)


@router.post("/mqtt/subscribe_batch")
async def mqtt_subscribe_batch(
    body: Annotated[list[MqttSubscribeIn], Body()], target: Clients
) -> JSONResponse:
    return await _batch(target, body, subscribe=True)


@router.post("/mqtt/unsubscribe_batch")
async def mqtt_unsubscribe_batch(
    body: Annotated[list[MqttSubscribeIn], Body()], target: Clients
) -> JSONResponse:
    return await _batch(target, body, subscribe=False)
