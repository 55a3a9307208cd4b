"""Console routes: sign-in, language, platform API keys, sub-accounts and projects.

Deployment pages live in `deployment_pages.py`, `access_pages.py` and `live_pages.py` (on the helpers of
`sections.py`); `mount_console` includes every module's router. Every handler: resolve the signed-in
account (`LoggedIn`), check the CSRF token of a form (`read_form`), call one service function in a worker
thread, then render or redirect (303).
"""

import time
from collections.abc import Mapping, Sequence

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from mqttcloud.control import audit
from mqttcloud.control.accounts import service as accounts
from mqttcloud.control.accounts import sessions
from mqttcloud.control.accounts.models import Account, Role
from mqttcloud.control.api_keys import service as api_keys
from mqttcloud.control.api_keys.models import ALL_PROJECTS, Scope
from mqttcloud.control.auth import KeyVerifier
from mqttcloud.control.console import alarm_pages, event_pages, i18n, trace_pages
from mqttcloud.control.console.pages import (
    LANG_COOKIE,
    PREFIX,
    ROLE_LABELS,
    STATIC_DIR,
    Anonymous,
    ConsoleRoute,
    LoggedIn,
    Page,
    PageError,
    field_list,
    field_text,
    read_form,
    redirect,
    run,
)
from mqttcloud.control.console.permissions import (
    may_edit_project,
    may_manage,
    may_read_accounts,
    visible_projects,
)
from mqttcloud.control.console.security import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    SignInBusy,
    client_address,
)
from mqttcloud.control.db import SessionDep
from mqttcloud.control.errors import ApiError
from mqttcloud.control.projects import service as projects

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
# Outside the console's prefix: where a person typing the platform's address lands.
entry_router = APIRouter(include_in_schema=False)

SCOPE_LABELS = {
    Scope.TLS: "TLS certificate management",
    Scope.DEPLOYMENTS: "Deployment management",
    Scope.PROJECTS: "Project management",
}
SUB_ACCOUNT_ROLES = [role for role in Role if role is not Role.ROOT]


def safe_next(target: str | None) -> str:
    """Only console paths are followed after sign-in or a language switch (no open redirect)."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX + "/deployments"


def _secure(page: Page) -> bool:
    return page.state.settings.use_tls


async def _set_session(response: Response, page: Page, session: Session, account: Account) -> None:
    """Open a server-side session for `account` and give the browser its cookie (after sign-in or a
    password change)."""
    token = await run(sessions.start_session, session, account_id=account.id)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=_secure(page),
        path=PREFIX,
    )


# --------------------------------------------------------------------------------------------------
# Sign-in, sign-out, language
# --------------------------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
async def home(page: LoggedIn) -> Response:
    return redirect(f"{PREFIX}/deployments")


@entry_router.get("/")
@entry_router.get("/login")
async def platform_root() -> RedirectResponse:
    """The platform's address and `/login` lead to the console (its sign-in page when signed out)."""
    return RedirectResponse(f"{PREFIX}/", status_code=302)


@entry_router.get("/favicon.ico")
async def favicon() -> FileResponse:
    """What browsers ask for on every site; the console's pages also link the SVG under `/static`."""
    return FileResponse(
        STATIC_DIR / "favicon.svg",
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def _login_form(
    page: Page, *, next_url: str, username: str = "", error: str = "", status: int = 200
) -> Response:
    response = page.render("login.html", status=status, next_url=next_url, username=username, error=error)
    response.set_cookie(
        LOGIN_COOKIE,
        page.nonce,
        max_age=3600,
        httponly=True,
        samesite="lax",
        secure=_secure(page),
        path=PREFIX,
    )
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(page: Anonymous, next: str | None = None) -> Response:
    return _login_form(page, next_url=safe_next(next))


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, page: Anonymous, session: SessionDep) -> Response:
    """Sign in: throttled per client address, at most `SignInGate.limit` Argon2 checks at once."""
    form = await read_form(request, page)
    username = field_text(form, "username")
    password = field_text(form, "password", strip=False)
    audit.attach(request.scope, audit.Actor(audit.ActorKind.ACCOUNT, username[:128], authenticated=False))
    next_url = safe_next(field_text(form, "next"))
    state = page.state
    address = client_address(
        request.client.host if request.client else None,
        request.headers.get("x-forwarded-for"),
        state.settings.trusted_proxies,
    )
    if state.login_throttle.is_blocked(address, time.monotonic()):
        return _login_form(
            page,
            next_url=next_url,
            username=username,
            error=page.t("Too many failed sign-ins. Wait a few minutes and try again."),
            status=429,
        )
    try:
        async with state.sign_in_gate.slot():
            account = await run(accounts.authenticate, session, username=username, password=password)
    except SignInBusy:
        response = _login_form(
            page,
            next_url=next_url,
            username=username,
            error=page.t("Too many sign-ins at once. Try again in a moment."),
            status=429,
        )
        response.headers["Retry-After"] = "1"
        return response
    if account is None:
        state.login_throttle.failed(address, time.monotonic())
        return _login_form(
            page,
            next_url=next_url,
            username=username,
            error=page.t("Wrong user name or password."),
            status=401,
        )
    audit.attach(request.scope, audit.Actor(audit.ActorKind.ACCOUNT, account.username))
    response = redirect(next_url)
    await _set_session(response, page, session, account)
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
async def logout(request: Request, page: LoggedIn, session: SessionDep) -> Response:
    """Sign out: the session ends on the server, so the cookie is useless even if kept."""
    await read_form(request, page)
    await run(sessions.end_session, session, token=request.cookies.get(SESSION_COOKIE))
    response = redirect(f"{PREFIX}/login")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@router.get("/lang")
async def switch_language(request: Request, to: str = "en", next: str | None = None) -> Response:
    """Switch the language (a harmless preference: a link, no form)."""
    response: RedirectResponse = redirect(safe_next(next) if next != PREFIX + "/login" else next)
    if to in i18n.LANGUAGES:
        response.set_cookie(LANG_COOKIE, to, max_age=365 * 86400, samesite="lax", path=PREFIX)
    return response


# --------------------------------------------------------------------------------------------------
# Platform API keys (root and Administrators: the service enforces it)
# --------------------------------------------------------------------------------------------------


def _key_values(description: str, scopes: Sequence[str], project_ids: Sequence[str]) -> dict[str, object]:
    """What the key form (`_key_form.html`) shows as entered."""
    return {"description": description, "form_scopes": scopes, "form_projects": project_ids}


def _submitted_key(form: FormData) -> tuple[str, list[str], list[str]]:
    """The key form's description, scopes and project ids, as submitted."""
    return field_text(form, "description"), field_list(form, "scopes"), field_list(form, "projects")


async def _key_choices(session: Session) -> dict[str, object]:
    """What the key form (`_key_form.html`) offers: the scopes and the projects."""
    project_rows = await run(projects.list_projects, session)
    return {"projects": project_rows, "scopes": SCOPE_LABELS, "all_projects": ALL_PROJECTS}


async def _render_keys(
    page: Page,
    session: SessionDep,
    *,
    errors: dict[str, str] | None = None,
    form: Mapping[str, object] | None = None,
    created: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    keys = await run(api_keys.list_keys, session, actor=page.signed_in)
    return page.render(
        "api_keys.html",
        status=status,
        keys=keys,
        **await _key_choices(session),
        errors=errors or {},
        form=form or _key_values("", [s.value for s in Scope], [ALL_PROJECTS]),
        created=created,
    )


@router.get("/api-keys", response_class=HTMLResponse)
async def api_keys_page(page: LoggedIn, session: SessionDep) -> Response:
    created = page.state.pop_once(page.nonce, "platform-key")
    return await _render_keys(page, session, created=dict(created) if created else None)


def _key_error_field(error: ApiError) -> str:
    message = error.message.lower()
    if "scope" in message and "project" not in message:
        return "scopes"
    if "project" in message:
        return "projects"
    return "description"


@router.post("/api-keys", response_class=HTMLResponse)
async def create_api_key(request: Request, page: LoggedIn, session: SessionDep) -> Response:
    description, scopes, project_ids = _submitted_key(await read_form(request, page))
    try:
        created = await run(
            api_keys.create_key,
            session,
            actor=page.signed_in,
            description=description,
            scopes=scopes,
            project_ids=project_ids,
        )
    except ApiError as error:
        if error.status_code == 403:
            raise
        values = _key_values(description, scopes, project_ids)
        return await _render_keys(
            page, session, errors={_key_error_field(error): error.message}, form=values, status=422
        )
    page.state.stash_once(page.nonce, "platform-key", {"key": created.api_key.key, "secret": created.secret})
    return redirect(f"{PREFIX}/api-keys")


async def _render_key_edit(
    page: Page,
    session: Session,
    key_id: int,
    *,
    form: Mapping[str, object] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The edit form of a key: as stored, or as entered (`form`) with its `errors`."""
    api_key = await run(api_keys.get_key, session, actor=page.signed_in, key_id=key_id)
    return page.render(
        "api_key_edit.html",
        status=status,
        api_key=api_key,
        **await _key_choices(session),
        errors=errors or {},
        form=form or _key_values(api_key.description, api_key.scopes, api_key.project_ids),
    )


@router.get("/api-keys/{key_id}/edit", response_class=HTMLResponse)
async def edit_api_key_page(key_id: int, page: LoggedIn, session: SessionDep) -> Response:
    return await _render_key_edit(page, session, key_id)


def _verifier(request: Request) -> KeyVerifier:
    verifier: KeyVerifier = request.app.state.key_verifier
    return verifier


@router.post("/api-keys/{key_id}/edit", response_class=HTMLResponse)
async def edit_api_key(key_id: int, request: Request, page: LoggedIn, session: SessionDep) -> Response:
    description, scopes, project_ids = _submitted_key(await read_form(request, page))
    try:
        api_key = await run(
            api_keys.update_key,
            session,
            actor=page.signed_in,
            key_id=key_id,
            description=description,
            scopes=scopes,
            project_ids=project_ids,
        )
    except ApiError as error:
        if error.status_code in {403, 404}:
            raise
        session.rollback()
        values = _key_values(description, scopes, project_ids)
        return await _render_key_edit(
            page, session, key_id, form=values, errors={_key_error_field(error): error.message}, status=422
        )
    _verifier(request).invalidate(api_key.key)
    return redirect(f"{PREFIX}/api-keys")


@router.get("/api-keys/{key_id}/delete", response_class=HTMLResponse)
async def delete_api_key_page(key_id: int, page: LoggedIn, session: SessionDep) -> Response:
    api_key = await run(api_keys.get_key, session, actor=page.signed_in, key_id=key_id)
    return page.render(
        "confirm.html",
        title=page.t("Delete platform API key"),
        question=page.t("Delete the key %s? Programs using it lose access at once.") % api_key.key,
        action=f"{PREFIX}/api-keys/{key_id}/delete",
        cancel=f"{PREFIX}/api-keys",
    )


@router.post("/api-keys/{key_id}/delete")
async def delete_api_key(key_id: int, request: Request, page: LoggedIn, session: SessionDep) -> Response:
    await read_form(request, page)
    key = await run(api_keys.delete_key, session, actor=page.signed_in, key_id=key_id)
    _verifier(request).invalidate(key)
    return redirect(f"{PREFIX}/api-keys")


# --------------------------------------------------------------------------------------------------
# Sub-accounts and projects
# --------------------------------------------------------------------------------------------------


async def _render_accounts(
    page: Page,
    session: SessionDep,
    *,
    errors: dict[str, str] | None = None,
    form: Mapping[str, object] | None = None,
    status: int = 200,
) -> Response:
    if not may_read_accounts(page.signed_in):
        raise PageError(403, page.t("Only the root account, Administrators and Auditors see accounts."))
    rows = await run(accounts.list_accounts, session)
    project_rows = await run(projects.list_projects, session)
    return page.render(
        "accounts.html",
        status=status,
        accounts=rows,
        roles=ROLE_LABELS,
        sub_roles=SUB_ACCOUNT_ROLES,
        projects=project_rows,
        errors=errors or {},
        form=form or {"username": "", "role": Role.PROJECT_USER.value, "form_projects": []},
        can_manage=may_manage(page.signed_in),
    )


@router.get("/accounts", response_class=HTMLResponse)
async def accounts_page(page: LoggedIn, session: SessionDep) -> Response:
    return await _render_accounts(page, session)


@router.post("/accounts", response_class=HTMLResponse)
async def create_account(request: Request, page: LoggedIn, session: SessionDep) -> Response:
    form = await read_form(request, page)
    username = field_text(form, "username")
    password = field_text(form, "password", strip=False)
    role_value = field_text(form, "role")
    project_ids = field_list(form, "projects")
    values = {"username": username, "role": role_value, "form_projects": project_ids}
    try:
        role = Role(role_value)
    except ValueError:
        return await _render_accounts(
            page, session, errors={"role": page.t("Choose a role.")}, form=values, status=422
        )
    try:
        await run(
            accounts.create_sub_account,
            session,
            actor=page.signed_in,
            username=username,
            password=password,
            role=role,
            project_ids=project_ids,
        )
    except ApiError as error:
        if error.status_code == 403:
            raise
        field = "password" if "password" in error.message else "username"
        return await _render_accounts(page, session, errors={field: error.message}, form=values, status=422)
    return redirect(f"{PREFIX}/accounts")


@router.get("/accounts/{account_id}/delete", response_class=HTMLResponse)
async def delete_account_page(account_id: int, page: LoggedIn, session: SessionDep) -> Response:
    if not may_manage(page.signed_in):
        raise PageError(403, page.t("Only the root account or an Administrator can manage sub-accounts."))
    target = await run(accounts.get_account, session, account_id=account_id)
    return page.render(
        "confirm.html",
        title=page.t("Delete account"),
        question=page.t("Delete the account %s? It can no longer sign in.") % target.username,
        action=f"{PREFIX}/accounts/{account_id}/delete",
        cancel=f"{PREFIX}/accounts",
    )


@router.post("/accounts/{account_id}/delete")
async def delete_account(account_id: int, request: Request, page: LoggedIn, session: SessionDep) -> Response:
    await read_form(request, page)
    await run(accounts.delete_sub_account, session, actor=page.signed_in, account_id=account_id)
    return redirect(f"{PREFIX}/accounts")


async def _render_projects(
    page: Page,
    session: SessionDep,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    rows = await run(projects.list_projects, session, visible=visible_projects(page.signed_in))
    return page.render(
        "projects.html",
        status=status,
        projects=rows,
        errors=errors or {},
        form=form or {"name": "", "description": ""},
        can_manage=may_manage(page.signed_in),
        editable=[p.id for p in rows if may_edit_project(page.signed_in, p.id)],  # edit_pages.py
    )


@router.get("/projects", response_class=HTMLResponse)
async def projects_page(page: LoggedIn, session: SessionDep) -> Response:
    return await _render_projects(page, session)


@router.post("/projects", response_class=HTMLResponse)
async def create_project(request: Request, page: LoggedIn, session: SessionDep) -> Response:
    form = await read_form(request, page)
    if not may_manage(page.signed_in):
        raise PageError(403, page.t("Only the root account or an Administrator can create projects."))
    name = field_text(form, "name")
    description = field_text(form, "description")
    try:
        await run(projects.create_project, session, name=name, description=description)
    except ApiError as error:
        return await _render_projects(
            page,
            session,
            errors={"name": error.message},
            form={"name": name, "description": description},
            status=422,
        )
    return redirect(f"{PREFIX}/projects")


# --------------------------------------------------------------------------------------------------
# The signed-in account: change its password
# --------------------------------------------------------------------------------------------------


def _render_account(
    page: Page, *, errors: Mapping[str, str] | None = None, done: bool = False, status: int = 200
) -> Response:
    return page.render("account.html", status=status, errors=errors or {}, done=done, roles=ROLE_LABELS)


@router.get("/account", response_class=HTMLResponse)
async def account_page(page: LoggedIn) -> Response:
    return _render_account(page)


@router.post("/account", response_class=HTMLResponse)
async def change_password(request: Request, page: LoggedIn, session: SessionDep) -> Response:
    """Change the password: every session of the account ends, this browser gets a new one."""
    form = await read_form(request, page)
    old = field_text(form, "old_password", strip=False)
    new = field_text(form, "new_password", strip=False)
    if new != field_text(form, "confirm_password", strip=False):
        return _render_account(
            page, errors={"confirm_password": page.t("The two new passwords differ.")}, status=422
        )
    try:
        account = await run(
            accounts.change_password,
            session,
            account_id=page.signed_in.id,
            old_password=old,
            new_password=new,
        )
    except ApiError as error:
        field = "old_password" if error.code == "WRONG_PASSWORD" else "new_password"
        return _render_account(page, errors={field: error.message}, status=422)
    response = _render_account(page, done=True)
    await _set_session(response, page, session, account)
    return response


# The client event history (event_pages.py), under this router's prefix.
router.include_router(event_pages.router)
# Alarms (alarm_pages.py) and a deployment's log traces (trace_pages.py), likewise.
router.include_router(alarm_pages.router)
router.include_router(trace_pages.router)
