"""Console page of a deployment's client event history: a timeline, newest first, filtered by client id
and event type (a client's own timeline is `?clientid=<id>`, linked from its detail page).

A thin presenter over `control/events/service.py`, the use case behind `GET /api/v5/event_history`
(filters read by the same `v5.filters`, so a bad event type is a 400 next to its field). Stored data:
it shows while the deployment is stopped and after the client is gone. Open to every role that sees
the deployment.
"""

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from mqttcloud.contracts import EventKind
from mqttcloud.control.console.pages import PREFIX, ConsoleRoute, LoggedIn, format_time, page_number, run
from mqttcloud.control.console.sections import load_view, render_section
from mqttcloud.control.db import SessionDep
from mqttcloud.control.errors import ApiError
from mqttcloud.control.events import service, v5
from mqttcloud.control.events.service import StoredEvent

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)  # under routes.router's prefix

EVENTS_PER_PAGE = 50
FILTERS = ("clientid", "event")


def events_url(deployment_id: str, clientid: str) -> str:
    """A client's timeline (its id in the query string: it may hold `/`)."""
    return f"{PREFIX}/deployments/{deployment_id}/events?{urlencode({'clientid': clientid})}"


def _row(event: StoredEvent) -> dict[str, object]:
    details = {key: value for key, value in event.detail.items() if value is not None}
    return {
        "at": format_time(event.at),
        "event": event.event,
        "clientid": event.clientid,
        "username": event.username or "",
        "address": f"{event.ip_address}:{event.port}" if event.ip_address else "",
        "reason": event.reason or "",
        "code": "" if event.reason_code is None else f"0x{event.reason_code:02X}",
        "details": ", ".join(f"{key}={value}" for key, value in details.items()),
    }


@router.get("/deployments/{deployment_id}/events", response_class=HTMLResponse)
async def events_page(deployment_id: str, request: Request, page: LoggedIn, session: SessionDep) -> Response:
    view = await load_view(session, page, deployment_id)
    values = {name: request.query_params.get(name, "").strip() for name in FILTERS}
    number = page_number(request)
    errors: dict[str, str] = {}
    rows: list[dict[str, object]] = []
    count = 0
    try:
        chosen = v5.filters(request.query_params)
    except ApiError as error:
        errors[error.field or "event"] = page.t(error.message)
    else:
        found, count = await run(
            service.list_events,
            session,
            deployment_id=view.deployment.id,
            filters=chosen,
            page=number,
            limit=EVENTS_PER_PAGE,
        )
        rows = [_row(e) for e in found]
    return render_section(
        page,
        view,
        "events.html",
        tab="events",
        status=400 if errors else 200,
        rows=rows,
        count=count,
        hasnext=number * EVENTS_PER_PAGE < count,
        kinds=[kind.value for kind in EventKind],
        filters=values,
        query=urlencode({k: v for k, v in values.items() if v}),
        page_number=number,
        errors=errors,
    )
