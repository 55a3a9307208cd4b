"""Console Data Integration page of a deployment: connectors (v5 `http`, `pgsql`, `redis`, `mqtt`; every v4
resource type) with their status and its reason, HTTP actions, rules with enable/disable and live
metrics, and the rule editor with its test run.

A thin presenter over `deployment_api/integration/service.py`, the use cases the v5 and v4 APIs share:
every write goes through them (so the running broker applies it when the page answers), statuses come
from `service.connector_status` / `service.status`, a test run is `service.run_test`, and a refused write
shows its message next to the field the error names, keeping the input. Reading is open to every role
that sees the deployment; writing needs `Role.may_edit_deployments`.
"""

from collections.abc import Sequence

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from mqttcloud import rulesql
from mqttcloud.contracts import RuleCounters, RuleMetricsResult
from mqttcloud.control.console import connector_reasons, rule_form
from mqttcloud.control.console.pages import (
    PREFIX,
    ConsoleRoute,
    Page,
    field_errors,
    field_text,
    read_form,
    redirect,
)
from mqttcloud.control.console.rule_form import RuleForm
from mqttcloud.control.console.sections import SectionDep, render_section
from mqttcloud.control.deployment_api.integration import catalog, config, service
from mqttcloud.control.deployment_api.integration.models import ActionRow, ConnectorRow, RuleRow
from mqttcloud.control.deployment_api.integration.service import RuleChange
from mqttcloud.control.deployment_api.integration.testing import NotMatch
from mqttcloud.control.deployment_api.target import Target
from mqttcloud.control.deployments.service import DeploymentView
from mqttcloud.control.errors import ApiError, BadRequest

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

# Every type the Deployment API creates: v5 connectors, then v4 resources (`catalog.RESOURCE_TYPES`).
CONNECTOR_TYPES = ("http", "pgsql", "redis", "mqtt", *catalog.RESOURCE_TYPES)
ADDRESS_FIELDS = ("url", "server", "address")  # where a connector's config names its target
HTTP_METHODS = ("post", "put", "get", "delete")
# Per rule, EMQX 5's counter names (`/rules/{id}/metrics`), as the table's columns.
RULE_METRICS = ("matched", "passed", "failed", "actions.success", "actions.failed")
TEST_EVENTS = ("", "message_publish", *rulesql.EVENT_FIELDS)
# The service's field names, as the connector and action forms name them.
_CONNECTOR_FIELDS = {"name": "connector_name"}
_ACTION_FIELDS = {"name": "action_name", "connector": "action_connector"}


def connector_address(row: ConnectorRow) -> str:
    """What the connector reaches: an HTTP URL, a database or broker `host:port`."""
    for name in ADDRESS_FIELDS:
        value = row.config.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def _base(deployment_id: str) -> str:
    return f"{PREFIX}/deployments/{deployment_id}/integration"


def _rule_metrics(counters: RuleCounters | None) -> dict[str, int]:
    values = (counters or RuleCounters()).model_dump(by_alias=True)
    return {name: int(values[name]) for name in RULE_METRICS}


async def _state(
    target: Target,
) -> tuple[list[ConnectorRow], list[ActionRow], list[RuleRow], RuleMetricsResult | None]:
    connectors = [row for kind in CONNECTOR_TYPES for row in await service.connectors(target, type_=kind)]
    return (
        connectors,
        await service.actions(target),
        await service.rules(target),
        await service.metrics_or_none(target),
    )


def _live(
    page: Page,
    connectors: Sequence[ConnectorRow],
    actions: Sequence[ActionRow],
    rules: Sequence[RuleRow],
    metrics: RuleMetricsResult | None,
) -> dict[str, dict[str, dict[str, object]]]:
    """What changes while the page is open: statuses (with their label and reason in the page's language)
    and counters, by id."""
    connector_status: dict[str, dict[str, object]] = {
        c.connector_id: _status(page, *service.connector_status(c, actions, rules, metrics))
        for c in connectors
    }
    action_status: dict[str, dict[str, object]] = {}
    for a in actions:
        counters = metrics.actions.get(a.action_id) if metrics else None
        status, reason = service.status(
            [counters] if counters else [], enabled=a.enabled, running=metrics is not None
        )
        shown = counters.model_dump() if counters else {}
        action_status[a.action_id] = {
            **_status(page, status, reason),
            "success": shown.get("success", 0),
            "failed": shown.get("failed", 0),
        }
    rule_values: dict[str, dict[str, object]] = {
        r.rule_id: dict(_rule_metrics(metrics.rules.get(r.rule_id) if metrics else None)) for r in rules
    }
    return {"connectors": connector_status, "actions": action_status, "rules": rule_values}


def _status(page: Page, status: str, reason: str) -> dict[str, object]:
    shown = connector_reasons.reason_text(page.t, reason)
    return {"status": status, "label": page.t(status), "reason": shown}


async def _render_page(
    page: Page,
    view: DeploymentView,
    target: Target,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    connectors, actions, rules, metrics = await _state(target)
    return render_section(
        page,
        view,
        "integration.html",
        tab="integration",
        status=status,
        connectors=connectors,
        addresses={c.connector_id: connector_address(c) for c in connectors},
        actions=actions,
        rules=rules,
        live=_live(page, connectors, actions, rules, metrics),
        running=metrics is not None,
        sources={r.rule_id: service.sources(r.sql) for r in rules},
        metric_names=RULE_METRICS,
        methods=HTTP_METHODS,
        http_connectors=[c for c in connectors if c.type == "http"],
        errors=errors or {},
        form=form
        or {"connector_name": "", "url": "", "action_name": "", "method": "post", "path": "", "body": ""},
        base=_base(view.deployment.id),
    )


@router.get("/deployments/{deployment_id}/integration", response_class=HTMLResponse)
async def integration_page(deployment_id: str, section: SectionDep) -> Response:
    page = section.page
    view = await section.view(deployment_id)
    return await _render_page(page, view, section.target(view))


@router.get("/deployments/{deployment_id}/integration.json")
async def integration_json(deployment_id: str, section: SectionDep) -> JSONResponse:
    page = section.page
    view = await section.view(deployment_id)
    connectors, actions, rules, metrics = await _state(section.target(view))
    live = _live(page, connectors, actions, rules, metrics)
    return JSONResponse(live, headers={"Cache-Control": "no-store"})


# --------------------------------------------------------------------------------------------------
# Connectors and actions (v5 `http`)
# --------------------------------------------------------------------------------------------------


def _connector_values(form: dict[str, str]) -> dict[str, str]:
    return {
        "connector_name": "",
        "url": "",
        "action_name": "",
        "method": "post",
        "path": "",
        "body": "",
        **form,
    }


@router.post("/deployments/{deployment_id}/integration/connectors", response_class=HTMLResponse)
async def create_connector(deployment_id: str, section: SectionDep) -> Response:
    page = section.page
    form, view = await section.form(deployment_id)
    values = _connector_values(
        {"connector_name": field_text(form, "connector_name"), "url": field_text(form, "url")}
    )
    target = section.target(view)
    try:
        name = config.check_name(values["connector_name"])
        url = config.check_url(values["url"])
        await service.create_connector(
            target,
            type_="http",
            name=name,
            config={
                "url": url,
                "headers": {},
                "connect_timeout": "15s",
                "pool_size": 8,
                "ssl": {"enable": url.startswith("https"), "verify": "verify_peer", "cacertfile": ""},
            },
            enabled=True,
            description="",
        )
    except ApiError as error:
        errors = field_errors(
            page, section.session, error, default="connector_name", fields=_CONNECTOR_FIELDS
        )
        return await _render_page(page, view, target, errors=errors, form=values, status=422)
    return redirect(_base(deployment_id))


@router.post("/deployments/{deployment_id}/integration/actions", response_class=HTMLResponse)
async def create_action(deployment_id: str, section: SectionDep) -> Response:
    page = section.page
    form, view = await section.form(deployment_id)
    values = _connector_values(
        {
            "action_name": field_text(form, "action_name"),
            "action_connector": field_text(form, "action_connector"),
            "method": field_text(form, "method") or "post",
            "path": field_text(form, "path"),
            "body": field_text(form, "body", strip=False),
        }
    )
    target = section.target(view)
    try:
        name = config.check_name(values["action_name"], "action_name")
        if values["method"] not in HTTP_METHODS:
            raise BadRequest("method must be POST, PUT, GET or DELETE", field="method")
        parameters = {
            "path": values["path"],
            "method": values["method"],
            "headers": {},
            "body": values["body"],
            "max_retries": 2,
        }
        await service.create_action(
            target,
            type_="http",
            name=name,
            connector_name=values["action_connector"],
            parameters={
                "parameters": parameters,
                "resource_opts": {"request_ttl": "45s", "max_buffer_bytes": 256 * 1024 * 1024},
            },
            enabled=True,
            description="",
        )
    except ApiError as error:
        errors = field_errors(page, section.session, error, default="action_name", fields=_ACTION_FIELDS)
        return await _render_page(page, view, target, errors=errors, form=values, status=422)
    return redirect(_base(deployment_id))


def _confirm_delete(page: Page, view: DeploymentView, what: str, name: str, action: str) -> Response:
    return page.render(
        "confirm.html",
        title=page.t("Delete %s") % page.t(what),
        question=page.t("Delete %s? Rules that use it stop delivering through it at once.") % name,
        action=action,
        cancel=_base(view.deployment.id),
    )


@router.get(
    "/deployments/{deployment_id}/integration/connectors/{connector_id}/delete", response_class=HTMLResponse
)
async def delete_connector_page(deployment_id: str, connector_id: str, section: SectionDep) -> Response:
    page = section.page
    view = await section.guarded(deployment_id)
    row = await service.connector(section.target(view), connector_id)
    action = f"{_base(deployment_id)}/connectors/{row.connector_id}/delete"
    return _confirm_delete(page, view, "connector", row.connector_id, action)


@router.post("/deployments/{deployment_id}/integration/connectors/{connector_id}/delete")
async def delete_connector(deployment_id: str, connector_id: str, section: SectionDep) -> Response:
    _form, view = await section.form(deployment_id)
    await service.delete_connector(section.target(view), connector_id)
    return redirect(_base(deployment_id))


@router.get(
    "/deployments/{deployment_id}/integration/actions/{action_id}/delete", response_class=HTMLResponse
)
async def delete_action_page(deployment_id: str, action_id: str, section: SectionDep) -> Response:
    page = section.page
    view = await section.guarded(deployment_id)
    row = await service.action(section.target(view), action_id)
    return _confirm_delete(
        page, view, "action", row.action_id, f"{_base(deployment_id)}/actions/{row.action_id}/delete"
    )


@router.post("/deployments/{deployment_id}/integration/actions/{action_id}/delete")
async def delete_action(deployment_id: str, action_id: str, section: SectionDep) -> Response:
    _form, view = await section.form(deployment_id)
    await service.delete_action(section.target(view), action_id)
    return redirect(_base(deployment_id))


# --------------------------------------------------------------------------------------------------
# Rules: the editor (create, edit, test run), enable/disable, delete
# --------------------------------------------------------------------------------------------------


async def _render_rule(
    page: Page,
    view: DeploymentView,
    target: Target,
    chosen: RuleForm,
    *,
    editing: bool,
    errors: dict[str, str] | None = None,
    output: str = "",
    status: int = 200,
) -> Response:
    actions = await service.actions(target)
    return render_section(
        page,
        view,
        "rule_edit.html",
        tab="integration",
        status=status,
        rule=chosen,
        editing=editing,
        http_actions=[a.action_id for a in actions],
        qos_choices=rule_form.QOS_CHOICES,
        retain_choices=rule_form.RETAIN_CHOICES,
        events=TEST_EVENTS,
        errors=errors or {},
        output=output,
        base=_base(view.deployment.id),
    )


@router.get("/deployments/{deployment_id}/integration/rules/new", response_class=HTMLResponse)
async def new_rule_page(deployment_id: str, section: SectionDep) -> Response:
    page = section.page
    view = await section.view(deployment_id)
    target = section.target(view)
    return await _render_rule(page, view, target, RuleForm(), editing=False)


@router.get("/deployments/{deployment_id}/integration/rules/{rule_id}/edit", response_class=HTMLResponse)
async def edit_rule_page(deployment_id: str, rule_id: str, section: SectionDep) -> Response:
    page = section.page
    view = await section.view(deployment_id)
    target = section.target(view)
    row = await service.rule(target, rule_id)
    return await _render_rule(page, view, target, rule_form.from_rule(row), editing=True)


async def _test_run(
    page: Page, view: DeploymentView, target: Target, chosen: RuleForm, *, editing: bool
) -> Response:
    """Run the form's SQL on its sample (nothing is saved) and show the output or why there is none."""
    try:
        output = service.run_test(chosen.sql, rule_form.test_context(chosen.sample), node=target.node)
    except NotMatch:
        message = page.t("The sample input does not match the rule (SQL Not Match).")
        return await _render_rule(page, view, target, chosen, editing=editing, errors={"test": message})
    except ApiError as error:
        field = rule_form.error_field(error.field, {})
        return await _render_rule(
            page, view, target, chosen, editing=editing, errors={field: page.t(error.message)}, status=400
        )
    return await _render_rule(
        page, view, target, chosen, editing=editing, output=rule_form.show_output(output)
    )


def _change(chosen: RuleForm) -> RuleChange:
    return RuleChange(sql=chosen.sql, enabled=chosen.enabled, description=chosen.description)


@router.post("/deployments/{deployment_id}/integration/rules/new", response_class=HTMLResponse)
async def create_rule(deployment_id: str, request: Request, section: SectionDep) -> Response:
    page = section.page
    form = await read_form(request, page)
    chosen = rule_form.from_form(form)
    if form.get("intent") == "test":
        view = await section.view(deployment_id)
        return await _test_run(page, view, section.target(view), chosen, editing=False)
    view = await section.guarded(deployment_id)
    target = section.target(view)
    raw, places = rule_form.raw_actions(chosen)
    try:
        rule_id = config.check_name(chosen.rule_id, "id") if chosen.rule_id else None
        row = await service.create_v5_rule(target, rule_id=rule_id, change=_change(chosen), raw_actions=raw)
    except ApiError as error:
        section.session.rollback()
        field = rule_form.error_field(error.field, places)
        return await _render_rule(
            page, view, target, chosen, editing=False, errors={field: page.t(error.message)}, status=422
        )
    return redirect(f"{_base(deployment_id)}#rule-{row.rule_id}")


@router.post("/deployments/{deployment_id}/integration/rules/{rule_id}/edit", response_class=HTMLResponse)
async def update_rule(deployment_id: str, rule_id: str, request: Request, section: SectionDep) -> Response:
    page = section.page
    form = await read_form(request, page)
    view = await section.view(deployment_id)
    target = section.target(view)
    row = await service.rule(target, rule_id)
    chosen = rule_form.from_form(form, keeps_actions=rule_form.from_rule(row).keeps_actions)
    chosen.rule_id = row.rule_id
    if form.get("intent") == "test":
        return await _test_run(page, view, target, chosen, editing=True)
    await section.guarded(deployment_id)
    raw, places = rule_form.raw_actions(chosen)
    try:
        await service.update_rule(
            target, row.rule_id, change=_change(chosen), v5_actions=None if chosen.keeps_actions else raw
        )
    except ApiError as error:
        section.session.rollback()
        field = rule_form.error_field(error.field, places)
        return await _render_rule(
            page, view, target, chosen, editing=True, errors={field: page.t(error.message)}, status=422
        )
    return redirect(f"{_base(deployment_id)}#rule-{row.rule_id}")


@router.post("/deployments/{deployment_id}/integration/rules/{rule_id}/enable")
async def enable_rule(deployment_id: str, rule_id: str, section: SectionDep) -> Response:
    form, view = await section.form(deployment_id)
    enabled = field_text(form, "enable") == "true"
    await service.update_rule(section.target(view), rule_id, change=RuleChange(enabled=enabled))
    return redirect(f"{_base(deployment_id)}#rule-{rule_id}")


@router.get("/deployments/{deployment_id}/integration/rules/{rule_id}/delete", response_class=HTMLResponse)
async def delete_rule_page(deployment_id: str, rule_id: str, section: SectionDep) -> Response:
    page = section.page
    view = await section.guarded(deployment_id)
    row = await service.rule(section.target(view), rule_id)
    return page.render(
        "confirm.html",
        title=page.t("Delete rule"),
        question=page.t("Delete the rule %s? The broker stops running it at once.") % row.rule_id,
        action=f"{_base(deployment_id)}/rules/{row.rule_id}/delete",
        cancel=_base(deployment_id),
    )


@router.post("/deployments/{deployment_id}/integration/rules/{rule_id}/delete")
async def delete_rule(deployment_id: str, rule_id: str, section: SectionDep) -> Response:
    _form, view = await section.form(deployment_id)
    await service.delete_rule(section.target(view), rule_id)
    return redirect(_base(deployment_id))
