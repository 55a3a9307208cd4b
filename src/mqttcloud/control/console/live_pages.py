"""Console live view of a running deployment: connected clients (filter, page, kick), publish, charts.

Live data comes from the deployment's broker through the Deployment API's `live` helpers (the admin
channel of `control/broker_client.py`), exactly as `/api/v5/clients`, `/publish` and `/stats` do; a
stopped or not-yet-running deployment is shown as such instead of a table. Chart samples are taken when
the chart page polls (`metrics_history.py`); kicking and publishing need `Role.may_edit_deployments`.
"""

import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from mqttcloud.contracts import ClientFilter, ClientInfo, TenantId, TenantStats
from mqttcloud.control.broker_client import BrokerClient
from mqttcloud.control.console.metrics_history import Sample
from mqttcloud.control.console.pages import (
    PREFIX,
    ConsoleRoute,
    LoggedIn,
    Page,
    field_text,
    page_number,
    redirect,
)
from mqttcloud.control.console.sections import deployment_form, load_view, render_section
from mqttcloud.control.db import SessionDep
from mqttcloud.control.deployment_api import common, live
from mqttcloud.control.deployment_api.auth import DeploymentContext
from mqttcloud.control.deployments.service import DeploymentView
from mqttcloud.control.deps import RuntimeDep
from mqttcloud.control.errors import ApiError

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

CLIENTS_PER_PAGE = 20
PROTOCOL_VERSIONS = {3: "3.1", 4: "3.1.1", 5: "5.0"}
# Gauges shown as numbers under the charts (EMQX `stats` names).
CURRENT_STATS = ("connections.count", "subscriptions.count", "topics.count", "retained.count")
MAX_PAYLOAD_CHARS = 256 * 1024


def deployment_context(view: DeploymentView) -> DeploymentContext:
    """What the Deployment API's live helpers need to know about a deployment (full permissions)."""
    deployment = view.deployment
    return DeploymentContext(
        app_id="console",
        deployment_id=deployment.id,
        permissions=None,
        serverless=deployment.deployment_type.is_serverless,
        connections=deployment.connections,
        desired_running=deployment.desired_running,
    )


def broker(runtime: RuntimeDep, view: DeploymentView) -> BrokerClient:
    """Raises: ApiError 503 when the deployment is stopped or its broker is not running."""
    return live.client_for(runtime, deployment_context(view))


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
        "connected_at": common.iso(info.connected_at) or "",
        "keepalive": info.keepalive,
        "subscriptions": info.subscriptions_cnt,
    }


async def _clients(
    runtime: RuntimeDep, view: DeploymentView, request: Request
) -> tuple[list[dict[str, Any]], int, bool, str]:
    """(rows, count, has next page, error message or "")."""
    chosen, _values, number = _filter(request)
    try:
        client = broker(runtime, view)
        result = await live.call(
            client.list_clients(TenantId(view.deployment.id), chosen, number, CLIENTS_PER_PAGE)
        )
    except ApiError as error:
        return [], 0, False, error.message
    return [_client_row(info) for info in result.data], result.count, result.hasnext, ""


@router.get("/deployments/{deployment_id}/clients", response_class=HTMLResponse)
async def clients_page(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep, runtime: RuntimeDep
) -> Response:
    view = await load_view(session, page, deployment_id)
    rows, count, hasnext, error = await _clients(runtime, view, request)
    _chosen, values, number = _filter(request)
    notice = request.query_params.get("kicked", "")
    return render_section(
        page,
        view,
        "clients.html",
        tab="clients",
        rows=rows,
        count=count,
        hasnext=hasnext,
        live_error=error,
        filters=values,
        page_number=number,
        notice=notice,
    )


@router.get("/deployments/{deployment_id}/clients.json")
async def clients_json(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep, runtime: RuntimeDep
) -> JSONResponse:
    view = await load_view(session, page, deployment_id)
    rows, count, hasnext, error = await _clients(runtime, view, request)
    return JSONResponse(
        {"rows": rows, "count": count, "hasnext": hasnext, "error": page.t(error) if error else ""},
        headers={"Cache-Control": "no-store"},
    )


@router.post("/deployments/{deployment_id}/clients/kick")
async def kick_client(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep, runtime: RuntimeDep
) -> Response:
    form, view = await deployment_form(request, page, session, deployment_id)
    clientid = field_text(form, "clientid", strip=False)
    await live.call(broker(runtime, view).kick(TenantId(deployment_id), clientid))
    return redirect(f"{PREFIX}/deployments/{deployment_id}/clients?{urlencode({'kicked': clientid})}")


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
async def publish(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep, runtime: RuntimeDep
) -> Response:
    form, view = await deployment_form(request, page, session, deployment_id)
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
        args = common.publish_args(
            deployment_id,
            topic=str(values["topic"]),
            payload=str(values["payload"]),
            encoding="plain",
            qos=int(qos),
            retain=bool(values["retain"]),
        )
        result = await live.call(broker(runtime, view).publish(args))
    except ApiError as error:
        field = "topic" if error.status_code == 400 else "form"
        return _render_publish(
            page, view, form=values, errors={field: error.message}, status=error.status_code
        )
    message = (
        page.t("Published (message %s), delivered to %d subscriptions.") % (result.id, result.matched)
        if result.matched
        else page.t("Published (message %s); no subscriber matched the topic.") % result.id
    )
    return _render_publish(page, view, form=values, result=message)


# --------------------------------------------------------------------------------------------------
# Charts
# --------------------------------------------------------------------------------------------------


@router.get("/deployments/{deployment_id}/metrics", response_class=HTMLResponse)
async def metrics_page(deployment_id: str, page: LoggedIn, session: SessionDep) -> Response:
    view = await load_view(session, page, deployment_id)
    return render_section(page, view, "metrics.html", tab="metrics", window=page.state.history.window)


@router.get("/deployments/{deployment_id}/metrics.json")
async def metrics_json(
    deployment_id: str, page: LoggedIn, session: SessionDep, runtime: RuntimeDep
) -> JSONResponse:
    """Take a sample if one is due (and the broker runs), then answer the last hour's points."""
    view = await load_view(session, page, deployment_id)
    history = page.state.history
    now = time.time()
    error = ""
    stats: TenantStats | None = None
    if history.is_due(deployment_id, now):
        try:
            client = broker(runtime, view)
            stats = await live.call(client.stats(TenantId(deployment_id)))
            metrics = await live.call(client.metrics(TenantId(deployment_id)))
        except ApiError as exc:
            error = exc.message
        else:
            history.record(
                deployment_id,
                Sample(
                    at=now,
                    connections=stats.values.get("connections.count", 0),
                    received=metrics.values.get("messages.received", 0),
                    sent=metrics.values.get("messages.sent", 0),
                ),
            )
    points = history.points(deployment_id, now)
    current = {name: stats.values.get(name, 0) for name in CURRENT_STATS} if not error and stats else {}
    return JSONResponse(
        {
            "now": now,
            "window": history.window,
            "error": page.t(error) if error else "",
            "current": current,
            "points": [
                {"at": p.at, "connections": p.connections, "received": p.received_rate, "sent": p.sent_rate}
                for p in points
            ],
        },
        headers={"Cache-Control": "no-store"},
    )
