"""Console pages for what a deployment stores: deployment API keys, authentication users (with bulk
import), ACL rules and banned clients.

Every write goes through the Deployment API's use cases (`control/deployment_api/<domain>/service.py`),
exactly as the Deployment API routes do, so the running broker enforces a change when the page answers;
a refused write shows its message next to the field the error names. Reading is open to every role that
sees the deployment; writing needs `Role.may_edit_deployments` (`console.permissions.require_edit`).
Import files (CSV or JSON, as EMQX exports them) are read by `user_import.py`; each row is created on
its own and the page shows each row's result.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from mqttcloud.control.console import user_import
from mqttcloud.control.console.pages import (
    PREFIX,
    ConsoleRoute,
    LoggedIn,
    Page,
    check_csrf_header,
    field_errors,
    field_list,
    field_text,
    page_number,
    read_form,
    redirect,
    run,
)
from mqttcloud.control.console.sections import (
    SectionDep,
    api_address,
    guarded_view,
    load_view,
    render_section,
)
from mqttcloud.control.db import SessionDep
from mqttcloud.control.deployment_api.acl import service as acl_service
from mqttcloud.control.deployment_api.acl import store as acl
from mqttcloud.control.deployment_api.authn import service as authn_service
from mqttcloud.control.deployment_api.authn import store as authn
from mqttcloud.control.deployment_api.banned import service as banned_service
from mqttcloud.control.deployment_api.banned import store as banned
from mqttcloud.control.deployment_api.keys import service as deployment_keys
from mqttcloud.control.deployments.service import DeploymentView
from mqttcloud.control.errors import ApiError

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

PAGE_SIZE = 20
IMPORT_BATCH = 200  # rows per request when the page imports with progress (JavaScript)
ACL_KINDS: tuple[acl.TargetKind, ...] = ("all", "username", "clientid")
USER_KINDS: tuple[authn.Kind, ...] = ("username", "clientid")
BAN_KINDS = ("clientid", "username", "peerhost")
BAN_KIND_NAMES = {"clientid": "client ID", "username": "user name", "peerhost": "IP address"}


# --------------------------------------------------------------------------------------------------
# Deployment API keys
# --------------------------------------------------------------------------------------------------


async def _render_keys(
    page: Page,
    session: Session,
    view: DeploymentView,
    request: Request,
    *,
    errors: Mapping[str, str] | None = None,
    note: str = "",
    created: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    keys = await run(deployment_keys.list_keys, session, deployment_id=view.deployment.id)
    return render_section(
        page,
        view,
        "deployment_keys.html",
        tab="keys",
        status=status,
        keys=keys,
        errors=errors or {},
        note=note,
        created=created,
        groups=deployment_keys.GROUPS,
        methods=[m for m in deployment_keys.METHODS if m != "*"],
        api_v5=api_address(request),
        api_v4=api_address(request, "/api"),
    )


@router.get("/deployments/{deployment_id}/keys", response_class=HTMLResponse)
async def keys_page(deployment_id: str, request: Request, page: LoggedIn, session: SessionDep) -> Response:
    view = await load_view(session, page, deployment_id)
    created = page.state.pop_once(page.nonce, f"deployment-key:{deployment_id}")
    return await _render_keys(page, session, view, request, created=created)


@router.post("/deployments/{deployment_id}/keys", response_class=HTMLResponse)
async def create_key(deployment_id: str, request: Request, page: LoggedIn, session: SessionDep) -> Response:
    form = await read_form(request, page)
    view = await load_view(session, page, deployment_id)
    note = field_text(form, "note")
    # Serverless keys always have full access (spec §1.3); Dedicated ones may be limited per method/group.
    limited = form.get("access") == "limited" and not view.deployment.deployment_type.is_serverless
    permissions = field_list(form, "permissions") if limited else None
    if permissions == []:
        return await _render_keys(
            page,
            session,
            view,
            request,
            errors={"permissions": page.t("Choose at least one permission.")},
            note=note,
            status=422,
        )
    try:
        created = await run(
            deployment_keys.create_key,
            session,
            deployment_id=deployment_id,
            actor=page.signed_in,
            note=note,
            permissions=permissions,
        )

    except ApiError as error:
        if error.status_code == 403:
            raise
        field = error.field or "note"
        return await _render_keys(
            page, session, view, request, errors={field: error.message}, note=note, status=422
        )
    page.state.stash_once(
        page.nonce,
        f"deployment-key:{deployment_id}",
        {"app_id": created.key.app_id, "secret": created.secret},
    )
    return redirect(f"{PREFIX}/deployments/{deployment_id}/keys")


@router.get("/deployments/{deployment_id}/keys/{app_id}/delete", response_class=HTMLResponse)
async def delete_key_page(deployment_id: str, app_id: str, page: LoggedIn, session: SessionDep) -> Response:
    await guarded_view(session, page, deployment_id)
    return page.render(
        "confirm.html",
        title=page.t("Delete deployment API key"),
        question=page.t("Delete the key %s? Programs using it lose access at once.") % app_id,
        action=f"{PREFIX}/deployments/{deployment_id}/keys/{app_id}/delete",
        cancel=f"{PREFIX}/deployments/{deployment_id}/keys",
    )


@router.post("/deployments/{deployment_id}/keys/{app_id}/delete")
async def delete_key(
    deployment_id: str, app_id: str, request: Request, page: LoggedIn, session: SessionDep
) -> Response:
    await read_form(request, page)
    await load_view(session, page, deployment_id)
    await run(
        deployment_keys.delete_key, session, deployment_id=deployment_id, app_id=app_id, actor=page.signed_in
    )
    request.app.state.deployment_key_verifier.invalidate(app_id)
    return redirect(f"{PREFIX}/deployments/{deployment_id}/keys")


# --------------------------------------------------------------------------------------------------
# Authentication users
# --------------------------------------------------------------------------------------------------


def _kind(value: str | None) -> authn.Kind:
    return "clientid" if value == "clientid" else "username"


async def _render_users(
    page: Page,
    session: Session,
    view: DeploymentView,
    request: Request,
    *,
    errors: Mapping[str, str] | None = None,
    form: Mapping[str, object] | None = None,
    results: Sequence[user_import.ImportResult] | None = None,
    status: int = 200,
) -> Response:
    kind = _kind(request.query_params.get("kind"))
    like = request.query_params.get("like", "").strip()
    number = page_number(request)
    rows, total = await run(
        authn.page,
        session,
        deployment_id=view.deployment.id,
        kind=kind,
        page=number,
        limit=PAGE_SIZE,
        like=like or None,
    )
    return render_section(
        page,
        view,
        "users.html",
        tab="users",
        status=status,
        users=rows,
        total=total,
        kind=kind,
        like=like,
        page_number=number,
        page_size=PAGE_SIZE,
        errors=errors or {},
        results=results,
        batch=IMPORT_BATCH,
        form=form or {"user_id": "", "kind": kind, "is_superuser": False},
    )


@router.get("/deployments/{deployment_id}/users", response_class=HTMLResponse)
async def users_page(deployment_id: str, request: Request, page: LoggedIn, session: SessionDep) -> Response:
    view = await load_view(session, page, deployment_id)
    return await _render_users(page, session, view, request)


@router.post("/deployments/{deployment_id}/users", response_class=HTMLResponse)
async def create_user(deployment_id: str, request: Request, section: SectionDep) -> Response:
    page = section.page
    form, view = await section.form(deployment_id)
    kind = _kind(field_text(form, "kind"))
    user = authn.NewUser(
        user_id=field_text(form, "user_id"),
        password=field_text(form, "password", strip=False),
        is_superuser=form.get("is_superuser") == "on",
    )
    values = {"user_id": user.user_id, "kind": kind, "is_superuser": user.is_superuser}
    try:
        await authn_service.create(section.target(view), kind=kind, user=user)
    except ApiError as error:
        errors = field_errors(page, section.session, error, default="user_id")
        return await _render_users(
            page, section.session, view, request, errors=errors, form=values, status=422
        )
    return redirect(f"{PREFIX}/deployments/{deployment_id}/users?kind={kind}")


@router.get("/deployments/{deployment_id}/users/{kind}/{user_id}/delete", response_class=HTMLResponse)
async def delete_user_page(
    deployment_id: str, kind: str, user_id: str, page: LoggedIn, session: SessionDep
) -> Response:
    await guarded_view(session, page, deployment_id)
    return page.render(
        "confirm.html",
        title=page.t("Delete user"),
        question=page.t("Delete the user %s? New connections with it are refused.") % user_id,
        action=f"{PREFIX}/deployments/{deployment_id}/users/{_kind(kind)}/{user_id}/delete",
        cancel=f"{PREFIX}/deployments/{deployment_id}/users?kind={_kind(kind)}",
    )


@router.post("/deployments/{deployment_id}/users/{kind}/{user_id}/delete")
async def delete_user(deployment_id: str, kind: str, user_id: str, section: SectionDep) -> Response:
    _form, view = await section.form(deployment_id)
    await authn_service.delete(section.target(view), kind=_kind(kind), user_id=user_id)
    return redirect(f"{PREFIX}/deployments/{deployment_id}/users?kind={_kind(kind)}")


# --- bulk import (file formats in user_import.py) ---------------------------------------------


async def _uploaded(request: Request, page: Page) -> tuple[bytes, str, authn.Kind]:
    form = await read_form(request, page)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise user_import.ImportFileError("choose a CSV or JSON file")
    try:
        data = await upload.read(user_import.MAX_IMPORT_BYTES + 1)
    finally:
        await upload.close()
    return data, upload.filename, _kind(field_text(form, "kind"))


@router.post("/deployments/{deployment_id}/users/import", response_class=HTMLResponse)
async def import_users(deployment_id: str, request: Request, section: SectionDep) -> Response:
    """Import a whole file in one request (the form without JavaScript); the page lists each row's result."""
    page = section.page
    view = await section.guarded(deployment_id)
    try:
        data, filename, kind = await _uploaded(request, page)
        rows = user_import.parse_import(data, filename)
    except user_import.ImportFileError as error:
        return await _render_users(
            page, section.session, view, request, errors={"file": str(error)}, status=422
        )
    results = await user_import.import_rows(section.target(view), kind, rows)
    return await _render_users(page, section.session, view, request, results=results)


@router.post("/deployments/{deployment_id}/users/import/parse")
async def parse_import_file(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep
) -> JSONResponse:
    """Step 1 of an import with progress: read the file, answer its rows (or why it cannot be read)."""
    await guarded_view(session, page, deployment_id)
    try:
        data, filename, _kind_value = await _uploaded(request, page)
        rows = user_import.parse_import(data, filename)
    except user_import.ImportFileError as error:
        return JSONResponse({"error": str(error)}, status_code=422)
    return JSONResponse({"rows": [row.as_json() for row in rows], "batch": IMPORT_BATCH})


@router.post("/deployments/{deployment_id}/users/import/rows")
async def import_rows(deployment_id: str, request: Request, section: SectionDep) -> JSONResponse:
    """Step 2, repeated: create one batch of rows and answer each row's result."""
    page = section.page
    check_csrf_header(request, page)
    view = await section.guarded(deployment_id)
    try:
        body = await request.json()
        kind = _kind(str(body.get("kind")))
        rows = [user_import.row_from(int(item["number"]), item) for item in body["rows"][:IMPORT_BATCH]]
    except (ValueError, KeyError, TypeError, AttributeError):
        return JSONResponse({"error": "malformed batch"}, status_code=400)
    results = await user_import.import_rows(section.target(view), kind, rows)
    return JSONResponse(
        {
            "results": [
                {
                    "number": r.number,
                    "user_id": r.user_id,
                    "ok": r.ok,
                    "message": page.t(r.message) if r.ok else r.message,
                }
                for r in results
            ]
        }
    )


# --------------------------------------------------------------------------------------------------
# ACL rules
# --------------------------------------------------------------------------------------------------


def _acl_kind(value: str | None) -> acl.TargetKind:
    return "username" if value == "username" else "clientid" if value == "clientid" else "all"


def _acl_tables(session: Session, deployment_id: str) -> dict[str, list[tuple[str, Any]]]:
    """Every rule of the deployment as (target, rule row), per target kind, in evaluation order."""
    tables: dict[str, list[tuple[str, Any]]] = {
        "all": [
            ("", row) for row in acl.rules_of(session, deployment_id=deployment_id, kind="all", target="")
        ]
    }
    for kind in ("username", "clientid"):
        targets, _total = acl.targets_page(session, deployment_id=deployment_id, kind=kind, page=1, limit=500)
        tables[kind] = [(target, row) for target, rows in targets for row in rows]
    return tables


async def _render_acl(
    page: Page,
    session: Session,
    view: DeploymentView,
    *,
    errors: Mapping[str, str] | None = None,
    form: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    tables = await run(_acl_tables, session, view.deployment.id)
    return render_section(
        page,
        view,
        "acl.html",
        tab="acl",
        status=status,
        tables=tables,
        errors=errors or {},
        form=form or {"kind": "username", "target": "", "topic": "", "action": "all", "permission": "allow"},
    )


@router.get("/deployments/{deployment_id}/acl", response_class=HTMLResponse)
async def acl_page(deployment_id: str, page: LoggedIn, session: SessionDep) -> Response:
    view = await load_view(session, page, deployment_id)
    return await _render_acl(page, session, view)


@router.post("/deployments/{deployment_id}/acl", response_class=HTMLResponse)
async def add_acl_rule(deployment_id: str, section: SectionDep) -> Response:
    page = section.page
    form, view = await section.form(deployment_id)
    values = {name: field_text(form, name) for name in ("kind", "target", "topic", "action", "permission")}
    kind = _acl_kind(values["kind"])
    try:
        rule = acl.parse_rule(values["topic"], values["action"], values["permission"])
        who = values["target"] if kind != "all" else ""
        await acl_service.append_rule(section.target(view), acl_service.RuleFor(kind, who, rule))
    except ApiError as error:
        errors = field_errors(page, section.session, error, default="action")
        return await _render_acl(page, section.session, view, errors=errors, form=values, status=422)
    return redirect(f"{PREFIX}/deployments/{deployment_id}/acl")


@router.get("/deployments/{deployment_id}/acl/{rule_id}/delete", response_class=HTMLResponse)
async def delete_acl_rule_page(deployment_id: str, rule_id: int, section: SectionDep) -> Response:
    page = section.page
    view = await section.guarded(deployment_id)
    rule = await acl_service.get_rule(section.target(view), rule_id=rule_id)
    whom = rule.target if rule.target_kind != "all" else page.t("Everyone")
    return page.render(
        "confirm.html",
        title=page.t("Delete ACL rule"),
        question=page.t("Delete the rule %s %s %s for %s? The broker applies the change at once.")
        % (page.t(rule.permission), page.t(rule.action), rule.topic, whom),
        action=f"{PREFIX}/deployments/{deployment_id}/acl/{rule_id}/delete",
        cancel=f"{PREFIX}/deployments/{deployment_id}/acl",
    )


@router.post("/deployments/{deployment_id}/acl/{rule_id}/delete")
async def delete_acl_rule(deployment_id: str, rule_id: int, section: SectionDep) -> Response:
    _form, view = await section.form(deployment_id)
    await acl_service.delete_rule_id(section.target(view), rule_id=rule_id)
    return redirect(f"{PREFIX}/deployments/{deployment_id}/acl")


# --------------------------------------------------------------------------------------------------
# Banned clients
# --------------------------------------------------------------------------------------------------


async def _render_banned(
    page: Page,
    session: Session,
    view: DeploymentView,
    request: Request,
    *,
    errors: Mapping[str, str] | None = None,
    form: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    number = page_number(request)
    rows, total = await run(
        banned.page,
        session,
        deployment_id=view.deployment.id,
        page=number,
        limit=PAGE_SIZE,
        now=dt.datetime.now(dt.UTC),
    )
    return render_section(
        page,
        view,
        "banned.html",
        tab="banned",
        status=status,
        bans=rows,
        total=total,
        page_number=number,
        page_size=PAGE_SIZE,
        kinds=BAN_KINDS,
        errors=errors or {},
        form=form or {"kind": "clientid", "who": "", "reason": "", "minutes": "60", "forever": ""},
    )


@router.get("/deployments/{deployment_id}/banned", response_class=HTMLResponse)
async def banned_page(deployment_id: str, request: Request, page: LoggedIn, session: SessionDep) -> Response:
    view = await load_view(session, page, deployment_id)
    return await _render_banned(page, session, view, request)


@router.post("/deployments/{deployment_id}/banned", response_class=HTMLResponse)
async def add_ban(deployment_id: str, request: Request, section: SectionDep) -> Response:
    page = section.page
    form, view = await section.form(deployment_id)
    values = {name: field_text(form, name) for name in ("kind", "who", "reason", "minutes", "forever")}
    forever = values["forever"] == "on"
    if not forever and (not values["minutes"].isdigit() or int(values["minutes"]) < 1):
        return await _render_banned(
            page,
            section.session,
            view,
            request,
            errors={"minutes": page.t("Enter a whole number of minutes.")},
            form=values,
            status=422,
        )
    now = dt.datetime.now(dt.UTC)
    ban = banned.NewBan(
        kind=values["kind"],
        who=values["who"],
        reason=values["reason"],
        by=page.signed_in.username,
        at=now,
        until=None if forever else now + dt.timedelta(minutes=int(values["minutes"])),
        forever=forever,
    )
    try:
        await banned_service.create(section.target(view), ban)
    except ApiError as error:
        section.session.rollback()
        field = {"as": "kind", "until": "minutes"}.get(error.field or "", "who")
        return await _render_banned(
            page, section.session, view, request, errors={field: error.message}, form=values, status=422
        )
    return redirect(f"{PREFIX}/deployments/{deployment_id}/banned")


@router.get("/deployments/{deployment_id}/banned/delete", response_class=HTMLResponse)
async def delete_ban_page(
    deployment_id: str, request: Request, page: LoggedIn, session: SessionDep
) -> Response:
    await guarded_view(session, page, deployment_id)
    kind, who = request.query_params.get("kind", ""), request.query_params.get("who", "")
    return page.render(
        "confirm.html",
        title=page.t("Lift the ban"),
        question=page.t("Lift the ban on %s %s? It can connect again at once.")
        % (page.t(BAN_KIND_NAMES.get(kind, kind)), who),
        action=f"{PREFIX}/deployments/{deployment_id}/banned/delete",
        cancel=f"{PREFIX}/deployments/{deployment_id}/banned",
        fields=[("kind", kind), ("who", who)],
        confirm_label=page.t("Lift the ban"),
    )


@router.post("/deployments/{deployment_id}/banned/delete")
async def delete_ban(deployment_id: str, section: SectionDep) -> Response:
    form, view = await section.form(deployment_id)
    await banned_service.delete(
        section.target(view),
        kind=field_text(form, "kind"),
        who=field_text(form, "who", strip=False),
    )
    return redirect(f"{PREFIX}/deployments/{deployment_id}/banned")
