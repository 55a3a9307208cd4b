"""Console Log trace tab of a deployment: start a trace (by client id, topic filter or IP address, for a
time window), list them with status and log size, stop, view the log, download it, delete.

A presenter over `control/trace/service.py`, the use cases behind `/api/v5/trace`, with the same rules
(a bad name, filter or window comes back next to its field). Starting, stopping and deleting need
`Role.may_edit_deployments`; every role that sees the deployment reads the list and the logs. Logs live
in the deployment's broker: a stopped deployment lists its traces with size 0 and says so for a log.
"""

import datetime as dt

import pydantic
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from mqttcloud.contracts import TraceType
from mqttcloud.control.console.pages import (
    PREFIX,
    ConsoleRoute,
    LoggedIn,
    Page,
    field_text,
    format_time,
    redirect,
)
from mqttcloud.control.console.sections import SectionDep, guarded_view, render_section
from mqttcloud.control.db import SessionDep
from mqttcloud.control.deployment_api.target import Target
from mqttcloud.control.deployments.service import DeploymentView
from mqttcloud.control.errors import ApiError
from mqttcloud.control.trace import service
from mqttcloud.control.trace.schemas import TraceIn
from mqttcloud.control.trace.store import MAX_DURATION

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)  # under routes.router's prefix

KINDS = {TraceType.CLIENTID: "Client ID", TraceType.TOPIC: "Topic filter", TraceType.IP_ADDRESS: "IP address"}
ENCODINGS = ("text", "hex", "hidden")
LOG_PAGE = 64 * 1024  # bytes of a log shown per page
MAX_MINUTES = int(MAX_DURATION.total_seconds() // 60)
FORM = {
    "name": "",
    "type": TraceType.CLIENTID.value,
    "value": "",
    "start_at": "",
    "minutes": "10",
    "payload_encode": "text",
}
# The service's field names, as the form names them.
_FORM_FIELD = {
    "clientid": "value",
    "topic": "value",
    "ip_address": "value",
    "end_at": "minutes",
    "type": "value",
}
_CONFLICT_FIELD = {"ALREADY_EXISTS": "name", "DUPLICATE_CONDITION": "value"}


def _time(value: object) -> str:
    return format_time(dt.datetime.fromisoformat(value)) if isinstance(value, str) else "—"


def _row(item: dict[str, object]) -> dict[str, object]:
    sizes = item["log_size"]
    return {
        "name": item["name"],
        "type": item["type"],
        "filter": item[str(item["type"])],
        "start_at": _time(item["start_at"]),
        "end_at": _time(item["end_at"]),
        "status": item["status"],
        "size": sum(sizes.values()) if isinstance(sizes, dict) else 0,
    }


async def _render(
    page: Page,
    view: DeploymentView,
    target: Target,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    traces = [_row(item) for item in await service.list_traces(target)]
    return render_section(
        page,
        view,
        "trace.html",
        tab="trace",
        status=status,
        traces=traces,
        kinds=KINDS,
        encodings=ENCODINGS,
        form=form or FORM,
        errors=errors or {},
        max_minutes=MAX_MINUTES,
    )


@router.get("/deployments/{deployment_id}/trace", response_class=HTMLResponse)
async def trace_page(deployment_id: str, section: SectionDep) -> Response:
    page = section.page
    view = await section.view(deployment_id)
    return await _render(page, view, section.target(view))


def _utc(value: dt.datetime) -> dt.datetime:
    """An ISO date and time as typed (`2026-12-10 10:00`): UTC unless it names its own offset."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _window(form: dict[str, str], page: Page) -> tuple[float | None, float, dict[str, str]]:
    """(start, end) in epoch seconds from the form's start (UTC, empty: now) and duration."""
    errors: dict[str, str] = {}
    start: dt.datetime | None = None
    if form["start_at"]:
        try:
            start = _utc(dt.datetime.fromisoformat(form["start_at"]))
        except ValueError:
            errors["start_at"] = page.t("Give the start as YYYY-MM-DD HH:MM (UTC), or leave it empty.")
    minutes = int(form["minutes"]) if form["minutes"].isdigit() else 0
    if not 1 <= minutes <= MAX_MINUTES:
        errors["minutes"] = page.t("The duration is 1 to %d minutes.") % MAX_MINUTES
    begin = start or dt.datetime.now(dt.UTC)
    end = begin + dt.timedelta(minutes=minutes)
    return (start.timestamp() if start else None), end.timestamp(), errors


def _form_values(form: FormData) -> dict[str, str]:
    return {name: field_text(form, name) for name in FORM}


@router.post("/deployments/{deployment_id}/trace")
async def start_trace(deployment_id: str, section: SectionDep) -> Response:
    page = section.page
    form, view = await section.form(deployment_id)
    target = section.target(view)
    values = _form_values(form)
    start, end, errors = _window(values, page)
    if values["type"] not in {kind.value for kind in KINDS}:
        errors["type"] = page.t("Choose what to trace.")
    if values["payload_encode"] not in ENCODINGS:
        errors["payload_encode"] = page.t("This value is not valid.")
    if not errors:
        try:
            body = TraceIn.model_validate(
                {
                    "name": values["name"],
                    "type": values["type"],
                    values["type"]: values["value"],
                    "start_at": start,
                    "end_at": end,
                    "payload_encode": values["payload_encode"],
                }
            )
            await service.create(target, body)
        except pydantic.ValidationError as exc:
            where = _FORM_FIELD.get(str(exc.errors()[0]["loc"][0]), str(exc.errors()[0]["loc"][0]))
            errors[where if where in FORM else "form"] = page.t("This value is not valid.")
        except ApiError as exc:
            where = _FORM_FIELD.get(exc.field or "", exc.field or _CONFLICT_FIELD.get(exc.code, "form"))
            errors[where if where in FORM else "form"] = exc.message
        else:
            return redirect(f"{PREFIX}/deployments/{deployment_id}/trace")
    return await _render(page, view, target, form=values, errors=errors, status=400)


@router.get("/deployments/{deployment_id}/trace/{name}/stop", response_class=HTMLResponse)
async def stop_trace_page(deployment_id: str, name: str, page: LoggedIn, session: SessionDep) -> Response:
    await guarded_view(session, page, deployment_id)
    return page.render(
        "confirm.html",
        title=page.t("Stop log trace"),
        question=page.t("Stop the trace %s? The log recorded so far is kept.") % name,
        action=f"{PREFIX}/deployments/{deployment_id}/trace/{name}/stop",
        confirm_label=page.t("Stop"),
        cancel=f"{PREFIX}/deployments/{deployment_id}/trace",
    )


@router.post("/deployments/{deployment_id}/trace/{name}/stop")
async def stop_trace(deployment_id: str, name: str, section: SectionDep) -> Response:
    _form, view = await section.form(deployment_id)
    await service.stop(section.target(view), name)
    return redirect(f"{PREFIX}/deployments/{deployment_id}/trace")


@router.get("/deployments/{deployment_id}/trace/{name}/delete", response_class=HTMLResponse)
async def delete_trace_page(deployment_id: str, name: str, page: LoggedIn, session: SessionDep) -> Response:
    await guarded_view(session, page, deployment_id)
    return page.render(
        "confirm.html",
        title=page.t("Delete log trace"),
        question=page.t("Delete the trace %s and its log?") % name,
        action=f"{PREFIX}/deployments/{deployment_id}/trace/{name}/delete",
        cancel=f"{PREFIX}/deployments/{deployment_id}/trace",
    )


@router.post("/deployments/{deployment_id}/trace/{name}/delete")
async def delete_trace(deployment_id: str, name: str, section: SectionDep) -> Response:
    _form, view = await section.form(deployment_id)
    await service.delete(section.target(view), name)
    return redirect(f"{PREFIX}/deployments/{deployment_id}/trace")


@router.get("/deployments/{deployment_id}/trace/{name}/log", response_class=HTMLResponse)
async def trace_log_page(deployment_id: str, name: str, request: Request, section: SectionDep) -> Response:
    page = section.page
    view = await section.view(deployment_id)
    target = section.target(view)
    raw = request.query_params.get("position", "0")
    position = int(raw) if raw.isdigit() else 0
    text, after, error = "", position, ""
    try:
        data, after = await service.read_log(target, name, position=position, size=LOG_PAGE)
        text = data.decode("utf-8", "replace")
    except ApiError as exc:
        if exc.status_code == 404:
            raise
        error = exc.message
    return render_section(
        page,
        view,
        "trace_log.html",
        tab="trace",
        name=name,
        text=text,
        position=position,
        after=after,
        more=after - position >= LOG_PAGE,
        live_error=error,
    )


@router.get("/deployments/{deployment_id}/trace/{name}/download")
async def download_trace(deployment_id: str, name: str, section: SectionDep) -> Response:
    view = await section.view(deployment_id)
    body = await service.download(section.target(view), name)
    headers = {"Content-Disposition": f'attachment; filename="{name}.zip"', "Cache-Control": "no-store"}
    return Response(body, media_type="application/zip", headers=headers)
