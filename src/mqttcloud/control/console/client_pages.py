"""Console pages about one client and about subscriptions: a client's detail (connection, session,
counters, its subscriptions with unsubscribe, kick after a confirmation) and the deployment's
subscriptions filtered by client id, topic and QoS.

A thin presenter over the Deployment API's `clients` and `subscriptions` use cases, the ones behind
`/api/v5/clients/{clientid}` and `/api/v5/subscriptions` (filters read by the same `views.filters`).
Client ids travel in the query string or a form field, never in the path: an MQTT client id may hold
`/`. Reading is open to every role that sees the deployment; kick and unsubscribe need
`Role.may_edit_deployments` (the kick itself is `live_pages.kick_client`).
"""

from collections.abc import Callable
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from mqttcloud.contracts import ClientInfo, SubscriptionInfo
from mqttcloud.control.console.live_pages import PROTOCOL_VERSIONS
from mqttcloud.control.console.live_tables import live_table
from mqttcloud.control.console.pages import (
    PREFIX,
    ConsoleRoute,
    LoggedIn,
    PageError,
    field_text,
    format_time,
    page_number,
    redirect,
)
from mqttcloud.control.console.sections import SectionDep, guarded_view, render_section
from mqttcloud.control.db import SessionDep
from mqttcloud.control.deployment_api.clients import service as clients
from mqttcloud.control.deployment_api.subscriptions import service as subscriptions
from mqttcloud.control.deployment_api.subscriptions import views

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

SUBSCRIPTIONS_PER_PAGE = 50
FILTERS = ("clientid", "topic", "match_topic", "qos")


def client_url(deployment_id: str, clientid: str) -> str:
    """The detail page of a client (its id in the query string: it may hold `/`)."""
    return f"{PREFIX}/deployments/{deployment_id}/client?{urlencode({'clientid': clientid})}"


def _of(limit: int) -> str:
    return str(limit) if limit else "∞"


def _detail(info: ClientInfo, t: Callable[[str], str]) -> dict[str, list[tuple[str, object]]]:
    """The client's facts by section, as (label, value); the labels are translated by the template,
    the words among the values by `t`."""
    version = PROTOCOL_VERSIONS.get(info.proto_ver, str(info.proto_ver))
    return {
        "Connection": [
            ("Status", t("connected" if info.connected else "disconnected")),
            ("User name", info.username or "—"),
            ("IP address", info.ip_address),
            ("Port", info.port),
            ("Protocol", f"{info.proto_name} {version}"),
            ("Listener", info.listener),
            ("Keep-alive (s)", info.keepalive),
            ("Connected at", format_time(info.connected_at)),
            ("Disconnected at", format_time(info.disconnected_at)),
            ("Node", info.node),
        ],
        "Session": [
            ("Clean start", t("yes" if info.clean_start else "no")),
            ("Session expiry (s)", info.expiry_interval),
            ("Session created at", format_time(info.created_at)),
            ("Subscriptions", f"{info.subscriptions_cnt} / {_of(info.subscriptions_max)}"),
            ("Inflight", f"{info.inflight_cnt} / {_of(info.inflight_max)}"),
            ("Message queue", f"{info.mqueue_len} / {_of(info.mqueue_max)}"),
            ("Dropped from the queue", info.mqueue_dropped),
            ("QoS 2 awaiting PUBREL", f"{info.awaiting_rel_cnt} / {_of(info.awaiting_rel_max)}"),
        ],
        "Counters": [
            ("Messages received", info.recv_msg),
            ("Messages sent", info.send_msg),
            ("Messages dropped on send", info.send_msg_dropped),
            ("Packets received", info.recv_pkt),
            ("Packets sent", info.send_pkt),
            ("Bytes received", info.recv_oct),
            ("Bytes sent", info.send_oct),
        ],
    }


@router.get("/deployments/{deployment_id}/client", response_class=HTMLResponse)
async def client_page(
    deployment_id: str, request: Request, section: SectionDep, clientid: str = ""
) -> Response:
    page = section.page
    view = await section.view(deployment_id)
    target = section.target(view)
    info = await clients.get(target, clientid)  # 404 CLIENTID_NOT_FOUND once it is gone
    subs = await subscriptions.of_client(target, clientid)
    return render_section(
        page,
        view,
        "client.html",
        tab="clients",
        info=info,
        sections=_detail(info, page.t),
        subscriptions=subs.data,
        notice=page.t("Unsubscribed from %s.") % request.query_params["unsubscribed"]
        if request.query_params.get("unsubscribed")
        else "",
    )


@router.get("/deployments/{deployment_id}/clients/kick", response_class=HTMLResponse)
async def kick_page(deployment_id: str, page: LoggedIn, session: SessionDep, clientid: str = "") -> Response:
    """The confirmation before a kick (the form posts to `live_pages.kick_client`)."""
    view = await guarded_view(session, page, deployment_id)
    if not clientid:
        raise PageError(404, "Choose a client to kick.")
    return page.render(
        "confirm.html",
        title=page.t("Kick client"),
        question=page.t("Kick %s? It is disconnected and its session ends.") % clientid,
        action=f"{PREFIX}/deployments/{view.deployment.id}/clients/kick",
        fields=[("clientid", clientid)],
        confirm_label=page.t("Kick"),
        cancel=f"{PREFIX}/deployments/{deployment_id}/clients",
    )


@router.get("/deployments/{deployment_id}/subscriptions/unsubscribe", response_class=HTMLResponse)
async def unsubscribe_page(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep
) -> Response:
    """The confirmation before an unsubscribe (back to the subscriptions page or the client's)."""
    view = await guarded_view(session, page, deployment_id)
    clientid, topic, back = (request.query_params.get(name, "") for name in ("clientid", "topic", "back"))
    if not clientid or not topic:
        raise PageError(404, "Choose a subscription to remove.")
    cancel = (
        f"{PREFIX}/deployments/{view.deployment.id}/subscriptions"
        if back == "subscriptions"
        else client_url(view.deployment.id, clientid)
    )
    return page.render(
        "confirm.html",
        title=page.t("Unsubscribe"),
        question=page.t("Unsubscribe %s from %s? It no longer receives the messages of this filter.")
        % (clientid, topic),
        action=f"{PREFIX}/deployments/{view.deployment.id}/subscriptions/unsubscribe",
        fields=[("clientid", clientid), ("topic", topic), ("back", back)],
        confirm_label=page.t("Unsubscribe"),
        cancel=cancel,
    )


@router.post("/deployments/{deployment_id}/subscriptions/unsubscribe")
async def unsubscribe(deployment_id: str, section: SectionDep) -> Response:
    form, view = await section.form(deployment_id)
    clientid = field_text(form, "clientid", strip=False)
    topic = field_text(form, "topic", strip=False)
    await subscriptions.unsubscribe(section.target(view), clientid, topic)
    back = field_text(form, "back")
    if back == "subscriptions":
        return redirect(f"{PREFIX}/deployments/{deployment_id}/subscriptions")
    return redirect(f"{client_url(deployment_id, clientid)}&{urlencode({'unsubscribed': topic})}")


def _row(sub: SubscriptionInfo, deployment_id: str) -> dict[str, object]:
    options = [name for name, on in (("nl", sub.nl), ("rap", sub.rap)) if on]
    return {
        "clientid": sub.clientid,
        "topic": sub.topic,
        "qos": sub.qos,
        "options": ", ".join([*options, f"rh={sub.rh}"]),
        "node": sub.node,
        "href": client_url(deployment_id, sub.clientid),
    }


@router.get("/deployments/{deployment_id}/subscriptions", response_class=HTMLResponse)
async def subscriptions_page(deployment_id: str, request: Request, section: SectionDep) -> Response:
    page = section.page
    view = await section.view(deployment_id)
    values = {name: request.query_params.get(name, "").strip() for name in FILTERS}
    number = page_number(request)
    target = section.target(view)
    table = await live_table(
        page.t,
        lambda: subscriptions.page(
            target, views.filters(request.query_params), page=number, limit=SUBSCRIPTIONS_PER_PAGE
        ),
        lambda sub: _row(sub, deployment_id),
        filter_field="qos",
    )
    return render_section(
        page,
        view,
        "subscriptions.html",
        tab="subscriptions",
        status=table.status,
        **table.context(),
        filters=values,
        query=urlencode({k: v for k, v in values.items() if v}),
        page_number=number,
    )
