"""v5 presenter of retained messages, EMQX 5's retainer API: `GET /mqtt/retainer/messages` (paged,
`topic` filter), `DELETE /mqtt/retainer/messages` (every message: EMQX's "clean all", feat-12272),
`GET` and `DELETE /mqtt/retainer/message/{topic}` (the topic URL-encoded; the payload base64). Key
permission group `retainer`, EMQX's tag for these paths.

`publish_at` is RFC 3339 in UTC; `from_username` is "" (the broker keeps the publisher's client id only,
as EMQX does for messages the HTTP API published).
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from mqttcloud.contracts import RetainedSummary
from mqttcloud.control.deployment_api import common, schemas
from mqttcloud.control.deployment_api.retained import service as retained
from mqttcloud.control.deployment_api.target import Live, live_dep

router = APIRouter()
Retainer = Annotated[Live, Depends(live_dep("retainer"))]


def summary(message: RetainedSummary) -> dict[str, object]:
    """EMQX's `message_summary` object."""
    return {
        "msgid": message.msgid,
        "topic": message.topic,
        "qos": message.qos,
        "publish_at": common.iso(message.publish_at),
        "from_clientid": message.from_clientid or "",
        "from_username": "",
    }


@router.get("/mqtt/retainer/messages")
async def list_messages(target: Retainer, request: Request) -> JSONResponse:
    """Query: `page`, `limit` (default 100), `topic` (a topic filter: only the messages it matches)."""
    page, limit = common.paging(request.query_params, 100)
    topic = request.query_params.get("topic") or None
    result = await retained.page(target, topic=topic, page=page, limit=limit)
    return schemas.v5_page(
        map(summary, result.data), schemas.meta(page, limit, result.count, hasnext=result.hasnext)
    )


@router.delete("/mqtt/retainer/messages", status_code=204)
async def clear_messages(target: Retainer) -> Response:
    """Delete every retained message on every node (204 also when there was none, as EMQX)."""
    await retained.clear(target)
    return Response(status_code=204)


@router.get("/mqtt/retainer/message/{topic:path}")
async def get_message(topic: str, target: Retainer) -> JSONResponse:
    """One message with its `payload` (base64; left out above 1 MB, as EMQX). 404 when none."""
    found = await retained.get(target, topic=topic)
    body = summary(found.message)
    if found.payload_b64 is not None:
        body["payload"] = found.payload_b64
    return JSONResponse(body)


@router.delete("/mqtt/retainer/message/{topic:path}", status_code=204)
async def delete_message(topic: str, target: Retainer) -> Response:
    """Delete it (a filter: every match) on every node; new subscribers get nothing. 404 when none."""
    await retained.delete(target, topic=topic)
    return Response(status_code=204)
