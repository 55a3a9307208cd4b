"""Console pages for a deployment's retained messages: browse by topic filter, view one message's payload,
delete one, or all of them, after a confirmation.

A thin presenter over the `retained` use cases, the ones behind `/api/v5/mqtt/retainer/...`, so what the
page shows and deletes is the running broker's retained store. A stopped deployment shows why nothing
is listed; a bad filter is shown next to the filter field. Deleting needs `Role.may_edit_deployments` and
is audited as every console write is.
"""

import base64
import binascii
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from mqttcloud.contracts import RetainedMessage, RetainedSummary
from mqttcloud.control.console.live_tables import live_table
from mqttcloud.control.console.pages import (
    PREFIX,
    ConsoleRoute,
    LoggedIn,
    field_text,
    format_time,
    page_number,
    redirect,
)
from mqttcloud.control.console.sections import SectionDep, guarded_view, render_section
from mqttcloud.control.db import SessionDep
from mqttcloud.control.deployment_api.retained import service as retained

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

MESSAGES_PER_PAGE = 50


def _url(deployment_id: str, path: str, topic: str) -> str:
    return f"{PREFIX}/deployments/{deployment_id}/retained{path}?topic={quote(topic, safe='')}"


def _row(message: RetainedSummary, deployment_id: str) -> dict[str, Any]:
    return {
        "topic": message.topic,
        "qos": message.qos,
        "from_clientid": message.from_clientid or "",
        "published": format_time(message.publish_at),
        "size": message.payload_size,
        "view": _url(deployment_id, "/message", message.topic),
        "delete": _url(deployment_id, "/delete", message.topic),
    }


def payload_views(found: RetainedMessage) -> tuple[str | None, str | None]:
    """(text, hex) of the payload: the text when it is UTF-8, the hex digits always; (None, None) when
    the broker left out a payload over 1 MB."""
    if found.payload_b64 is None:
        return None, None
    try:
        raw = base64.b64decode(found.payload_b64, validate=True)
    except (binascii.Error, ValueError):
        return None, None
    try:
        text: str | None = raw.decode()
    except UnicodeDecodeError:
        text = None
    return text, raw.hex(" ")


@router.get("/deployments/{deployment_id}/retained", response_class=HTMLResponse)
async def retained_page(deployment_id: str, request: Request, section: SectionDep) -> Response:
    page = section.page
    view = await section.view(deployment_id)
    topic = request.query_params.get("topic", "").strip()
    number = page_number(request)
    target = section.target(view)
    table = await live_table(
        page.t,
        lambda: retained.page(target, topic=topic or None, page=number, limit=MESSAGES_PER_PAGE),
        lambda message: _row(message, deployment_id),
        filter_field="topic",
    )
    deleted = page.state.pop_once(page.nonce, f"retained-deleted:{deployment_id}")  # only after a delete
    cleared = page.state.pop_once(page.nonce, f"retained-cleared:{deployment_id}")  # only after a clear
    return render_section(
        page,
        view,
        "retained.html",
        tab="retained",
        status=table.status,
        **table.context(),
        topic=topic,
        query=urlencode({"topic": topic} if topic else {}),
        page_number=number,
        notice=deleted["topic"] if deleted else "",
        cleared=cleared["count"] if cleared else "",
    )


@router.get("/deployments/{deployment_id}/retained/message", response_class=HTMLResponse)
async def retained_message_page(deployment_id: str, request: Request, section: SectionDep) -> Response:
    """One message by its exact topic name (`?topic=`), its payload as text and hex."""
    page = section.page
    view = await section.view(deployment_id)
    topic = request.query_params.get("topic", "")
    found = await retained.get(section.target(view), topic=topic)
    text, hexed = payload_views(found)
    return render_section(
        page,
        view,
        "retained_message.html",
        tab="retained",
        message=_row(found.message, deployment_id),
        msgid=found.message.msgid,
        text=text,
        hexed=hexed,
    )


@router.get("/deployments/{deployment_id}/retained/delete", response_class=HTMLResponse)
async def delete_retained_page(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep
) -> Response:
    view = await guarded_view(session, page, deployment_id)
    topic = request.query_params.get("topic", "")
    return page.render(
        "confirm.html",
        title=page.t("Delete retained message"),
        question=page.t("Delete the retained message on %s? New subscribers will no longer receive it.")
        % topic,
        action=f"{PREFIX}/deployments/{view.deployment.id}/retained/delete",
        fields=[("topic", topic)],
        cancel=f"{PREFIX}/deployments/{view.deployment.id}/retained",
    )


@router.post("/deployments/{deployment_id}/retained/delete")
async def delete_retained(deployment_id: str, section: SectionDep) -> Response:
    page = section.page
    form, view = await section.form(deployment_id)
    topic = field_text(form, "topic", strip=False)
    await retained.delete(section.target(view), topic=topic)
    page.state.stash_once(page.nonce, f"retained-deleted:{deployment_id}", {"topic": topic})
    return redirect(f"{PREFIX}/deployments/{deployment_id}/retained")


@router.get("/deployments/{deployment_id}/retained/clear", response_class=HTMLResponse)
async def clear_retained_page(deployment_id: str, page: LoggedIn, session: SessionDep) -> Response:
    view = await guarded_view(session, page, deployment_id)
    return page.render(
        "confirm.html",
        title=page.t("Clear all retained messages"),
        question=page.t("Delete every retained message of this deployment? New subscribers will get none."),
        action=f"{PREFIX}/deployments/{view.deployment.id}/retained/clear",
        confirm_label=page.t("Clear all"),
        cancel=f"{PREFIX}/deployments/{view.deployment.id}/retained",
    )


@router.post("/deployments/{deployment_id}/retained/clear")
async def clear_retained(deployment_id: str, section: SectionDep) -> Response:
    page = section.page
    _form, view = await section.form(deployment_id)
    count = await retained.clear(section.target(view))
    page.state.stash_once(page.nonce, f"retained-cleared:{deployment_id}", {"count": str(count)})
    return redirect(f"{PREFIX}/deployments/{deployment_id}/retained")
