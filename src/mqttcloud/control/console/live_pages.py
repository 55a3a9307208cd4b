"""Console live view of a running deployment: connected clients (filter, page, kick), publish.

Live data comes from the deployment's broker through the Deployment API's use cases (`clients`,
`publish`, `metrics` services), exactly as `/api/v5/clients`, `/publish` and `/stats` get it; a
stopped or not-yet-running deployment is shown as such instead of a table (charts: `monitoring_pages.py`);
kicking and publishing need `Role.may_edit_deployments`.
"""

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from mqttcloud.contracts import ClientFilter, ClientInfo
from mqttcloud.control.console.live_tables import LiveTable, live_table
from mqttcloud.control.console.pages import (
    PREFIX,
    ConsoleRoute,
    LoggedIn,
    Page,
    field_text,
    format_time,
    page_number,
    redirect,
)
from mqttcloud.control.console.sections import SectionDep, load_view, render_section
from mqttcloud.control.db import SessionDep
from mqttcloud.control.deployment_api.clients import service as clients
from mqttcloud.control.deployment_api.publish import service as publishing
from mqttcloud.control.deployment_api.target import Target
from mqttcloud.control.deployments.service import DeploymentView
from mqttcloud.control.errors import ApiError

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

CLIENTS_PER_PAGE = 20
PROTOCOL_VERSIONS = {3: "3.1", 4: "3.1.1", 5: "5.0"}
MAX_PAYLOAD_CHARS = 256 * 1024


def _filter(request: Request) -> tuple[ClientFilter, dict[str, str], int]:
    like_clientid = request.query_params.get("like_clientid", "").strip()
    like_username = request.query_params.get("like_username", "").strip()
    number = page_number(request)
    chosen = ClientFilter(like_clientid=like_clientid or None, like_username=like_username or None)
    return chosen, {"like_clientid": like_clientid, "like_username": like_username}, number


def _client_row(info: ClientInfo) -> dict[str, Any]:
    return {
        "clientid": info.clientid,
        "username": info.username or "",
        "address": f"{info.ip_address}:{info.port}",
        "protocol": f"{info.proto_name} {PROTOCOL_VERSIONS.get(info.proto_ver, str(info.proto_ver))}",
        "listener": info.listener,
        "connected_at": format_time(info.connected_at),  # as every other console date
        "keepalive": info.keepalive,
        "subscriptions": info.subscriptions_cnt,
    }


async def _clients(page: Page, target: Target, request: Request) -> LiveTable:
    chosen, _values, number = _filter(request)
    return await live_table(
        page.t, lambda: clients.page(target, chosen, page=number, limit=CLIENTS_PER_PAGE), _client_row
    )


@router.get("/deployments/{deployment_id}/clients", response_class=HTMLResponse)
async def clients_page(deployment_id: str, request: Request, section: SectionDep) -> Response:
    page = section.page
    view = await section.view(deployment_id)
    table = await _clients(page, section.target(view), request)
    _chosen, values, number = _filter(request)
    kicked = page.state.pop_once(page.nonce, f"kicked:{deployment_id}")  # only after a kick succeeded
    notice = kicked["clientid"] if kicked else ""
    return render_section(
        page,
        view,
        "clients.html",
        tab="clients",
        status=table.status,
        **table.context(),
        filters=values,
        query=urlencode({k: v for k, v in values.items() if v}),
        page_number=number,
        notice=notice,
    )


@router.get("/deployments/{deployment_id}/clients.json")
async def clients_json(deployment_id: str, request: Request, section: SectionDep) -> JSONResponse:
    page = section.page
    view = await section.view(deployment_id)
    table = await _clients(page, section.target(view), request)
    error = page.t(table.live_error) if table.live_error else ""
    return JSONResponse(
        {"rows": table.rows, "count": table.count, "hasnext": table.hasnext, "error": error},
        headers={"Cache-Control": "no-store"},
    )


@router.post("/deployments/{deployment_id}/clients/kick")
async def kick_client(deployment_id: str, section: SectionDep) -> Response:
    form, view = await section.form(deployment_id)
    clientid = field_text(form, "clientid", strip=False)
    await clients.kick(section.target(view), clientid)
    page = section.page
    page.state.stash_once(page.nonce, f"kicked:{deployment_id}", {"clientid": clientid})
    return redirect(f"{PREFIX}/deployments/{deployment_id}/clients")


# --------------------------------------------------------------------------------------------------
# Publish
# --------------------------------------------------------------------------------------------------


def _render_publish(
    page: Page,
    view: DeploymentView,
    *,
    form: dict[str, object],
    errors: dict[str, str] | None = None,
    result: str = "",
    status: int = 200,
) -> Response:
    return render_section(
        page,
        view,
        "publish.html",
        tab="publish",
        status=status,
        form=form,
        errors=errors or {},
        result=result,
    )


@router.get("/deployments/{deployment_id}/publish", response_class=HTMLResponse)
async def publish_page(deployment_id: str, page: LoggedIn, session: SessionDep) -> Response:
    view = await load_view(session, page, deployment_id)
    return _render_publish(page, view, form={"topic": "", "payload": "", "qos": "0", "retain": False})


@router.post("/deployments/{deployment_id}/publish", response_class=HTMLResponse)
async def publish(deployment_id: str, section: SectionDep) -> Response:
    page = section.page
    form, view = await section.form(deployment_id)
    values: dict[str, object] = {
        "topic": field_text(form, "topic"),
        "payload": field_text(form, "payload", strip=False)[:MAX_PAYLOAD_CHARS],
        "qos": field_text(form, "qos") or "0",
        "retain": form.get("retain") == "on",
    }
    qos = str(values["qos"])
    if qos not in {"0", "1", "2"}:
        return _render_publish(
            page, view, form=values, errors={"qos": page.t("QoS must be 0, 1 or 2.")}, status=422
        )
    try:
        target = section.target(view)
        args = publishing.message_args(
            target.tenant,
            topic=str(values["topic"]),
            payload=str(values["payload"]),
            encoding="plain",
            qos=int(qos),
            retain=bool(values["retain"]),
        )
        result = await publishing.publish(target.broker(), args)
    except ApiError as error:
        field = error.field or ("topic" if error.status_code == 400 else "form")
        return _render_publish(
            page, view, form=values, errors={field: error.message}, status=error.status_code
        )
    message = (
        page.t("Published (message %s), delivered to %d subscriptions.") % (result.id, result.matched)
        if result.matched
        else page.t("Published (message %s); no subscriber matched the topic.") % result.id
    )
    return _render_publish(page, view, form=values, result=message)
