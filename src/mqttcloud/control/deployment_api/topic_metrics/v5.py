"""v5 presenter of topic metrics, EMQX 5's `/mqtt/topic_metrics`: `GET` (every topic), `POST {"topic"}`
(register; 200 with its metrics, as EMQX answers), `PUT {"action": "reset", "topic"?}` (reset one, or
all), `GET` and `DELETE /mqtt/topic_metrics/{topic}` (the topic URL-encoded). Key permission group
`metrics`.

A topic's object: `topic`, `create_time` and `reset_time` (RFC 3339; `reset_time` only once reset) and
`metrics`, each of EMQX's names as `<name>.count` and `<name>.rate` (messages per second).
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from mqttcloud.contracts import TOPIC_METRIC_NAMES
from mqttcloud.control.deployment_api import common
from mqttcloud.control.deployment_api.target import Target, target_dep
from mqttcloud.control.deployment_api.topic_metrics import service
from mqttcloud.control.deployment_api.topic_metrics.schemas import ResetIn, TopicIn

router = APIRouter()
Metered = Annotated[Target, Depends(target_dep("metrics"))]


def as_dict(stat: service.TopicStat) -> dict[str, object]:
    metrics: dict[str, object] = {}
    for name, count, rate in zip(TOPIC_METRIC_NAMES, stat.counts, stat.rates, strict=True):
        metrics[f"{name}.count"] = count
        metrics[f"{name}.rate"] = rate
    body: dict[str, object] = {
        "topic": stat.topic,
        "create_time": common.iso(stat.created_at.timestamp()),
        "metrics": metrics,
    }
    if stat.reset_at is not None:
        body["reset_time"] = common.iso(stat.reset_at.timestamp())
    return body


@router.get("/mqtt/topic_metrics")
async def list_topic_metrics(target: Metered) -> JSONResponse:
    return JSONResponse([as_dict(stat) for stat in await service.list_topics(target)])


@router.post("/mqtt/topic_metrics")
async def register_topic(target: Metered, body: TopicIn) -> JSONResponse:
    return JSONResponse(as_dict(await service.register(target, body.topic)))


@router.put("/mqtt/topic_metrics")
async def reset_topic_metrics(target: Metered, body: ResetIn) -> JSONResponse:
    stats = await service.reset(target, body.topic)
    if body.topic is None:
        return JSONResponse([as_dict(stat) for stat in stats])
    return JSONResponse(as_dict(stats[0]))


@router.get("/mqtt/topic_metrics/{topic:path}")
async def get_topic_metrics(target: Metered, topic: str) -> JSONResponse:
    return JSONResponse(as_dict(await service.get(target, topic)))


@router.delete("/mqtt/topic_metrics/{topic:path}", status_code=204)
async def delete_topic_metrics(target: Metered, topic: str) -> Response:
    await service.delete(target, topic)
    return Response(status_code=204)
