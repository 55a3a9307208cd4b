"""v5 presenter of the client event history: `GET /api/v5/event_history` (a Deployment API extension).

EMQX Platform shows Event History in its console only; this extension serves the same events under the
v5 conventions. Query (all optional): `clientid` (exact), `like_clientid` (part of the id), `username`,
`ip_address`, `event` (a `contracts.EventKind` value, e.g. `client.disconnected`), `start_at` / `end_at`
(epoch seconds or milliseconds, or RFC 3339; `end_at` excluded), `page` / `limit` (≤ 10000). Answer:
`{"data": [event...], "meta": {"page", "limit", "count", "hasnext"}}`, newest first; each event has
`timestamp` (ms), `at` (RFC 3339), `event`, `clientid`, `username`, `ip_address`, `port`, `reason_code`,
`reason` and `detail`. Stored data: it answers while the deployment is stopped too. Authorised as the
`clients` group (GET).
"""

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import QueryParams

from mqttcloud.contracts import EventKind
from mqttcloud.control.deployment_api import common, schemas
from mqttcloud.control.deployment_api.target import Target, target_dep
from mqttcloud.control.errors import BadRequest
from mqttcloud.control.events import service
from mqttcloud.control.events.service import Filters, StoredEvent

router = APIRouter()
History = Annotated[Target, Depends(target_dep("clients"))]

PATH = "/event_history"


def filters(query: QueryParams) -> Filters:
    """The filters of a query. Raises: BadRequest naming the field (unknown event, bad time)."""
    event = common.param(query, "event") or None
    if event is not None and event not in EventKind._value2member_map_:
        known = ", ".join(kind.value for kind in EventKind)
        raise BadRequest(f"event must be one of {known}", code="BAD_REQUEST", field="event")
    since = common.time_param(query, "start_at")
    until = common.time_param(query, "end_at")
    return Filters(
        clientid=common.param(query, "clientid") or None,
        like_clientid=common.param(query, "like_clientid") or None,
        username=common.param(query, "username") or None,
        ip_address=common.param(query, "ip_address") or None,
        event=None if event is None else EventKind(event),
        since=None if since is None else dt.datetime.fromtimestamp(since, dt.UTC),
        until=None if until is None else dt.datetime.fromtimestamp(until, dt.UTC),
    )


def view(event: StoredEvent) -> dict[str, Any]:
    return {
        "timestamp": int(event.at.timestamp() * 1000),
        "at": event.at.isoformat(timespec="milliseconds"),
        "event": event.event,
        "clientid": event.clientid,
        "username": event.username,
        "ip_address": event.ip_address,
        "port": event.port,
        "reason_code": event.reason_code,
        "reason": event.reason,
        "detail": event.detail,
    }


@router.get(PATH)
async def list_events(target: History, request: Request) -> JSONResponse:
    """The deployment's recorded client events, newest first, filtered and paged."""
    page, limit = common.paging(request.query_params, 100)
    chosen = filters(request.query_params)
    events, count = await target.read(
        lambda session: service.list_events(
            session, deployment_id=target.deployment_id, filters=chosen, page=page, limit=limit
        )
    )
    return JSONResponse({"data": [view(e) for e in events], "meta": schemas.meta(page, limit, count)})
