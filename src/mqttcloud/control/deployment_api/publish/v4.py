"""v4 presenter of publishing: `/mqtt/publish` and `/mqtt/publish_batch` (spec §2.3.7). `{"code": 0}`
whether or not anyone is subscribed (EMQX 4 behaviour); a batch has a per-item code."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse

from mqttcloud.control.deployment_api import schemas
from mqttcloud.control.deployment_api.errors import V4_SUCCESS, V4Route, item_code
from mqttcloud.control.deployment_api.publish import service as publishing
from mqttcloud.control.deployment_api.publish.schemas import MqttPublishIn
from mqttcloud.control.deployment_api.subscriptions.v4 import topics_of
from mqttcloud.control.deployment_api.target import Live, live_dep
from mqttcloud.control.errors import BadRequest

router = APIRouter(route_class=V4Route)
Publish = Annotated[Live, Depends(live_dep("publish"))]


async def _publish(target: Live, item: MqttPublishIn) -> int:
    """Publish to every topic of the item; the v4 code of the last failure, or 0."""
    broker = target.broker()
    code = V4_SUCCESS
    for topic in topics_of(item.topic, item.topics):
        args = publishing.message_args(
            target.tenant,
            topic=topic,
            payload=item.payload,
            encoding=item.encoding,
            qos=item.qos,
            retain=item.retain,
            clientid=item.clientid,
        )
        code = await item_code(publishing.publish(broker, args)) or code
    return code


@router.post("/mqtt/publish")
async def mqtt_publish(body: MqttPublishIn, target: Publish) -> JSONResponse:
    if await _publish(target, body) != V4_SUCCESS:
        raise BadRequest("Illegal topic or parameters", code="BAD_TOPIC", field="topic")
    return schemas.v4_ok()


@router.post("/mqtt/publish_batch")
async def mqtt_publish_batch(body: Annotated[list[MqttPublishIn], Body()], target: Publish) -> JSONResponse:
    return schemas.v4_data(
        [{"topic": item.topic or item.topics, "code": await _publish(target, item)} for item in body]
    )
