"""Console alarm pages: every alarm the account may see (`/console/alarms`) and one deployment's
(`/console/deployments/{id}/alarms`), the active ones, then the newest cleared ones.

A read-only presenter over `alarms/store.py`, which `GET /public_api/v1/alarms` and `/api/v5/alarms` list
too: alarms are raised and cleared by the checker only, so no page changes one. Visibility is the
console's (`permissions.visible_projects`): the deployments of the account's projects, and platform-wide
alarms (the database, NATS) for the roles that see every project. The banner on every page is fed by
`pages.current_page`.
"""

import datetime as dt
from collections.abc import Collection

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from mqttcloud.control.alarms import store
from mqttcloud.control.alarms.models import AlarmRow
from mqttcloud.control.console.pages import ConsoleRoute, LoggedIn, format_time, run
from mqttcloud.control.console.permissions import visible_projects
from mqttcloud.control.console.sections import load_view, render_section
from mqttcloud.control.db import SessionDep

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)  # under routes.router's prefix

HISTORY = 100  # cleared alarms shown, newest first
ACTIVE = 1000


def duration(value: dt.timedelta) -> str:
    """A short span: "45s", "12m 5s", "3h 20m", "2d 4h"."""
    seconds = max(0, int(value.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {seconds}s" if minutes else f"{seconds}s"


def _row(row: AlarmRow, deployment_name: str | None, now: dt.datetime) -> dict[str, str]:
    return {
        "name": row.name,
        "message": row.message,
        "deployment_id": row.deployment_id or "",
        "deployment": deployment_name or "",
        "activated_at": format_time(row.activated_at),
        "deactivated_at": format_time(row.deactivated_at) if row.deactivated_at else "",
        "duration": duration((row.deactivated_at or now) - row.activated_at),
    }


def _alarms(
    session: Session, *, project_ids: Collection[str] | None, deployment_id: str | None
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(active, cleared) rows for a page."""
    now = dt.datetime.now(dt.UTC)
    found = {
        activated: store.visible(
            session,
            project_ids=project_ids,
            deployment_id=deployment_id,
            activated=activated,
            limit=ACTIVE if activated else HISTORY,
        )
        for activated in (True, False)
    }
    return [_row(r, n, now) for r, n in found[True]], [_row(r, n, now) for r, n in found[False]]


@router.get("/alarms", response_class=HTMLResponse)
async def alarms_page(page: LoggedIn, session: SessionDep) -> Response:
    active, cleared = await run(
        _alarms, session, project_ids=visible_projects(page.signed_in), deployment_id=None
    )
    return page.render("alarms.html", active=active, cleared=cleared, per_deployment=False)


@router.get("/deployments/{deployment_id}/alarms", response_class=HTMLResponse)
async def deployment_alarms_page(deployment_id: str, page: LoggedIn, session: SessionDep) -> Response:
    view = await load_view(session, page, deployment_id)
    active, cleared = await run(_alarms, session, project_ids=None, deployment_id=view.deployment.id)
    return render_section(
        page,
        view,
        "deployment_alarms.html",
        tab="alarms",
        active=active,
        cleared=cleared,
        per_deployment=True,
    )
