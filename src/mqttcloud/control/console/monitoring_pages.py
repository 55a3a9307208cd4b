"""Console charts of a deployment: the stored monitoring history (control/monitoring/) over a time range.

The page shows the range picked with `?range=` (1h, 6h, 24h, 7d); `charts.js` fetches `metrics.json`
for it and polls it while the page is open. Nothing here samples a broker: the platform's sampler records
history whether or not a page is open, so the charts begin with everything already stored. A period
without a sample has no point, and the script draws it as a gap.
"""

import time

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from mqttcloud.control.console.pages import PREFIX, ConsoleRoute, LoggedIn, run
from mqttcloud.control.console.sections import load_view, render_section
from mqttcloud.control.db import SessionDep
from mqttcloud.control.monitoring import service
from mqttcloud.control.monitoring.store import StoredPoint

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

DEFAULT_RANGE = "1h"


def _range(request: Request) -> tuple[str, int]:
    """The chosen range's name and seconds. Raises: BadRequest (field `range`)."""
    name = request.query_params.get("range", DEFAULT_RANGE)
    return name, service.parse_range(name)


def _point(p: StoredPoint) -> dict[str, float | None]:
    return {"at": p.at, **p.gauges, **p.rates}


@router.get("/deployments/{deployment_id}/metrics", response_class=HTMLResponse)
async def metrics_page(deployment_id: str, request: Request, page: LoggedIn, session: SessionDep) -> Response:
    name, _seconds = _range(request)
    view = await load_view(session, page, deployment_id)
    return render_section(
        page,
        view,
        "monitoring.html",
        tab="metrics",
        chosen=name,
        interval=page.state.settings.monitor_interval,
    )


@router.get("/deployments/{deployment_id}/metrics.json")
async def metrics_json(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep
) -> JSONResponse:
    """The stored points of the chosen range, oldest first, and the step between two of them."""
    _name, seconds = _range(request)
    await load_view(session, page, deployment_id)
    history = await run(
        service.history,
        session,
        deployment_id=deployment_id,
        span=seconds,
        now=time.time(),
        finest=page.state.settings.monitor_interval,
    )
    return JSONResponse(
        {
            "step": history.step,
            "since": history.since,
            "until": history.until,
            "points": [_point(p) for p in history.points],
        },
        headers={"Cache-Control": "no-store"},
    )
