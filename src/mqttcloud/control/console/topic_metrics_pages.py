"""Console page for a deployment's topic metrics: register a topic, see its counts and rates (refreshed
by reloading), reset them, delete a topic after a confirmation.

A thin presenter over the `topic_metrics` use cases, the ones behind `/api/v5/mqtt/topic_metrics`, so
the page shows what the running brokers count, summed over the nodes. A stopped deployment says why
every count is zero; a refused topic is shown next to the topic field with the input kept. Changes need
`Role.may_edit_deployments` and are audited as every console write is.
"""

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from mqttcloud.contracts import MAX_TOPIC_METRICS
from mqttcloud.control.console.live_tables import Whole, live_table
from mqttcloud.control.console.pages import (
    PREFIX,
    ConsoleRoute,
    LoggedIn,
    Page,
    field_text,
    format_time,
    redirect,
)
from mqttcloud.control.console.sections import (
    deployment_form,
    guarded_view,
    load_view,
    render_section,
    target_of,
)
from mqttcloud.control.db import SessionDep
from mqttcloud.control.deployment_api.errors import ServiceUnavailable
from mqttcloud.control.deployment_api.target import Target
from mqttcloud.control.deployment_api.topic_metrics import service
from mqttcloud.control.deployments.service import DeploymentView
from mqttcloud.control.deps import RuntimeDep
from mqttcloud.control.errors import ApiError

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


def _base(deployment_id: str) -> str:
    return f"{PREFIX}/deployments/{deployment_id}/topic-metrics"


def _row(stat: service.TopicStat, deployment_id: str) -> dict[str, Any]:
    return {
        "topic": stat.topic,
        "in": stat.count("messages.in"),
        "out": stat.count("messages.out"),
        "dropped": stat.count("messages.dropped"),
        "in_rate": stat.rate("messages.in"),
        "out_rate": stat.rate("messages.out"),
        "dropped_rate": stat.rate("messages.dropped"),
        "by_qos": [
            (qos, stat.count(f"messages.qos{qos}.in"), stat.count(f"messages.qos{qos}.out"))
            for qos in (0, 1, 2)
        ],
        "created": format_time(stat.created_at),
        "reset": format_time(stat.reset_at) if stat.reset_at is not None else "",
        "delete": f"{_base(deployment_id)}/delete?topic={quote(stat.topic, safe='')}",
    }


def _is_running(target: Target) -> bool:
    try:
        target.broker()
    except ServiceUnavailable:
        return False
    return True


async def _all_topics(target: Target) -> Whole[service.TopicStat]:
    return Whole(await service.list_topics(target))


async def _render(
    page: Page,
    view: DeploymentView,
    target: Target,
    *,
    topic: str = "",
    errors: dict[str, str] | None = None,
    notice: str = "",
    status: int = 200,
) -> Response:
    table = await live_table(page.t, lambda: _all_topics(target), lambda stat: _row(stat, view.deployment.id))
    return render_section(
        page,
        view,
        "topic_metrics.html",
        tab="topic-metrics",
        status=status,
        rows=table.rows,
        live_error=table.live_error,  # a running node does not answer
        running=_is_running(target),
        topic=topic,
        errors=errors or {},
        notice=notice,
        limit=MAX_TOPIC_METRICS,
    )


@router.get("/deployments/{deployment_id}/topic-metrics", response_class=HTMLResponse)
async def topic_metrics_page(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep, runtime: RuntimeDep
) -> Response:
    view = await load_view(session, page, deployment_id)
    done = page.state.pop_once(page.nonce, f"topic-metrics:{deployment_id}")  # only after a change
    notice = str(done["notice"]) if done else ""
    return await _render(page, view, target_of(request, session, runtime, view), notice=notice)


def _done(page: Page, deployment_id: str, notice: str) -> Response:
    """Back to the list, which shows `notice` once (what the change did)."""
    page.state.stash_once(page.nonce, f"topic-metrics:{deployment_id}", {"notice": notice})
    return redirect(_base(deployment_id))


@router.post("/deployments/{deployment_id}/topic-metrics")
async def register_topic(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep, runtime: RuntimeDep
) -> Response:
    form, view = await deployment_form(request, page, session, deployment_id)
    target = target_of(request, session, runtime, view)
    topic = field_text(form, "topic", strip=False)
    try:
        await service.register(target, topic)
    except ApiError as error:
        errors = {"topic": page.t(error.message)}
        return await _render(page, view, target, topic=topic, errors=errors, status=error.status_code)
    return _done(page, deployment_id, page.t("Counting the messages of %s.") % topic)


@router.get("/deployments/{deployment_id}/topic-metrics/reset", response_class=HTMLResponse)
async def reset_topic_page(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep
) -> Response:
    """The confirmation before a reset of one topic (`topic`) or, without one, of every topic."""
    view = await guarded_view(session, page, deployment_id)
    topic = request.query_params.get("topic", "")
    question = (
        page.t("Reset the metrics of %s to zero?") % topic
        if topic
        else page.t("Reset the metrics of every topic to zero?")
    )
    return page.render(
        "confirm.html",
        title=page.t("Reset topic metrics"),
        question=question,
        action=f"{_base(view.deployment.id)}/reset",
        fields=[("topic", topic)],
        confirm_label=page.t("Reset"),
        cancel=_base(view.deployment.id),
    )


@router.post("/deployments/{deployment_id}/topic-metrics/reset")
async def reset_topic(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Reset one topic (`topic` in the form) or, with an empty `topic`, every topic."""
    form, view = await deployment_form(request, page, session, deployment_id)
    topic = field_text(form, "topic", strip=False)
    await service.reset(target_of(request, session, runtime, view), topic or None)
    if topic:
        return _done(page, deployment_id, page.t("Reset the metrics of %s.") % topic)
    return _done(page, deployment_id, page.t("Reset the metrics of every topic."))


@router.get("/deployments/{deployment_id}/topic-metrics/delete", response_class=HTMLResponse)
async def delete_topic_page(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep
) -> Response:
    view = await guarded_view(session, page, deployment_id)
    topic = request.query_params.get("topic", "")
    return page.render(
        "confirm.html",
        title=page.t("Delete topic metrics"),
        question=page.t("Stop counting the messages of %s and forget its metrics?") % topic,
        action=f"{_base(view.deployment.id)}/delete",
        fields=[("topic", topic)],
        cancel=_base(view.deployment.id),
    )


@router.post("/deployments/{deployment_id}/topic-metrics/delete")
async def delete_topic(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep, runtime: RuntimeDep
) -> Response:
    form, view = await deployment_form(request, page, session, deployment_id)
    topic = field_text(form, "topic", strip=False)
    await service.delete(target_of(request, session, runtime, view), topic)
    return _done(page, deployment_id, page.t("Stopped counting the messages of %s.") % topic)
