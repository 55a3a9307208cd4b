"""v5 presenter of publishing: `/publish` and `/publish/bulk` (spec §2.2.3). The hot `/publish` is
usually answered by `publish/fast_path.py` before it reaches this router, with the same answers."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse

from mqttcloud.control.deployment_api.publish import service as publishing
from mqttcloud.control.deployment_api.publish.schemas import PublishIn
from mqttcloud.control.deployment_api.target import Live, live_dep
from mqttcloud.control.errors import BadRequest

router = APIRouter()
Publish = Annotated[Live, Depends(live_dep("publish"))]
NO_SUBSCRIBERS = {"message": "no_matching_subscribers", "reason_code": 16}


async def _publish(target: Live, item: PublishIn) -> tuple[bool, dict[str, Any]]:
    result = await publishing.publish(target.broker(), item.args(target.tenant))
    if result.matched == 0:
        return False, {"id": result.id, **NO_SUBSCRIBERS}
    return True, {"id": result.id}


@router.post("/publish")
async def publish(body: PublishIn, target: Publish) -> JSONResponse:
    """200 `{"id"}`, or 202 `no_matching_subscribers` (reason code 16) when nobody is subscribed."""
    matched, answer = await _publish(target, body)
    if not matched:
        return JSONResponse(NO_SUBSCRIBERS, status_code=202)
    return JSONResponse(answer)


@router.post("/publish/bulk")
async def publish_bulk(body: Annotated[list[PublishIn], Body()], target: Publish) -> JSONResponse:
    """200 with one `{"id"}` per message in request order (an unmatched one also carries the 202 body);
    202 `no_matching_subscribers` when no message matched anyone."""
    if not body:
        raise BadRequest("empty message list", code="BAD_REQUEST")
    answers = [await _publish(target, item) for item in body]
    if not any(matched for matched, _ in answers):
        return JSONResponse(NO_SUBSCRIBERS, status_code=202)
    return JSONResponse([answer for _, answer in answers])
