"""Console plumbing: templates, the signed-in account, CSRF, and errors rendered as HTML.

Every console route runs through `ConsoleRoute`, which turns the services' `ApiError`s (and the console's
own `PageError`) into an HTML page with the same status, and `LoginRequired` into a redirect to the login
page. Forms catch `ApiError` themselves so the message can be shown next to its field instead.

Rule: the console never calls its own HTTP API; it reads and writes through the domain services, in a
worker thread (`run`), exactly as the API routes do. An error page opens no write transaction: it first
ends the request's own (`end_request_transactions`), then reuses the page context the request already
resolved, or resolves it with a read session.
"""

import asyncio
import datetime as dt
import functools
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar
from urllib.parse import quote

import jinja2
from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from mqttcloud.control import audit
from mqttcloud.control.accounts import sessions
from mqttcloud.control.accounts.models import Account, Role
from mqttcloud.control.alarms import store as alarm_store
from mqttcloud.control.config import Settings
from mqttcloud.control.console import i18n
from mqttcloud.control.console.security import LOGIN_COOKIE, SESSION_COOKIE, LoginThrottle, Signer, SignInGate
from mqttcloud.control.db import Database, end_request_transactions
from mqttcloud.control.errors import ApiError

P = ParamSpec("P")
T = TypeVar("T")

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
PREFIX = "/console"
LANG_COOKIE = "mqttcloud_lang"


ROLE_LABELS = {
    Role.ROOT: "Root account",
    Role.ADMINISTRATOR: "Administrator",
    Role.PROJECT_ADMINISTRATOR: "Project Administrator",
    Role.PROJECT_USER: "Project User",
    Role.ACCOUNTANT: "Accountant",
    Role.AUDITOR: "Auditor",
}


class LoginRequired(Exception):  # noqa: N818  (a control-flow signal, not an error)
    """No valid session: the route handler answers with a redirect to the login page."""


class PageError(Exception):
    """A page that cannot be shown (403, 404, ...): rendered as an HTML error page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def run(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a synchronous service call in a worker thread (the database is blocking I/O)."""
    return await asyncio.to_thread(func, *args, **kwargs)


def format_time(value: dt.datetime | float | None) -> str:
    """Every date the console shows, one format: `2026-12-10 10:00:00 UTC` (Unix seconds or datetime)."""
    if value is None:
        return "—"
    if isinstance(value, int | float):
        value = dt.datetime.fromtimestamp(value, dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# Sections of a deployment's page: (name, label, path suffix).
DEPLOYMENT_TABS: list[tuple[str, str, str]] = [
    ("overview", "Overview", ""),
    ("tls", "TLS certificate", "/tls"),
    ("keys", "API keys", "/keys"),
    ("users", "Authentication", "/users"),
    ("acl", "Authorization", "/acl"),
    ("banned", "Banned", "/banned"),
    ("shadows", "Shadows", "/shadows"),
    ("clients", "Clients", "/clients"),
    ("subscriptions", "Subscriptions", "/subscriptions"),
    ("retained", "Retained messages", "/retained"),
    ("topic-metrics", "Topic metrics", "/topic-metrics"),
    ("publish", "Publish", "/publish"),
    ("mqtt-client", "Online test", "/mqtt-client"),
    ("integration", "Data integration", "/integration"),
    ("metrics", "Charts", "/metrics"),
    ("usage", "Plan usage", "/usage"),
    ("trace", "Log trace", "/trace"),
    ("events", "Event history", "/events"),
    ("alarms", "Alarms", "/alarms"),
]
DEDICATED_ONLY_TABS = {"tls", "shadows"}


def deployment_tabs(deployment: Any) -> list[tuple[str, str, str]]:
    """The sections shown for a deployment (TLS upload and the shadow service only for Dedicated ones)."""
    serverless = bool(deployment.deployment_type.is_serverless)
    return [tab for tab in DEPLOYMENT_TABS if not (serverless and tab[0] in DEDICATED_ONLY_TABS)]


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["time"] = format_time
    env.globals["deployment_tabs"] = deployment_tabs
    env.globals["role_label"] = lambda role: ROLE_LABELS.get(role, str(role))
    return env


@dataclass
class ConsoleState:
    """Per-app console state, kept on `app.state.console`."""

    signer: Signer
    settings: Settings
    database: Database
    login_throttle: LoginThrottle = field(default_factory=LoginThrottle)
    sign_in_gate: SignInGate = field(default_factory=SignInGate)
    # Secrets to show once after a redirect: (session nonce, label) → (value, expiry on the loop clock).
    once: dict[tuple[str, str], tuple[Mapping[str, str], float]] = field(default_factory=dict)

    def stash_once(self, nonce: str, label: str, value: Mapping[str, str], *, ttl: float = 300.0) -> None:
        now = asyncio.get_running_loop().time()
        for stale in [k for k, (_v, expires) in self.once.items() if expires <= now]:
            del self.once[stale]
        self.once[(nonce, label)] = (dict(value), now + ttl)

    def pop_once(self, nonce: str, label: str) -> Mapping[str, str] | None:
        entry = self.once.pop((nonce, label), None)
        if entry is None or entry[1] <= asyncio.get_running_loop().time():
            return None
        return entry[0]


def console_state(request: Request) -> ConsoleState:
    state: ConsoleState = request.app.state.console
    return state


def language(request: Request) -> str:
    """The chosen language: the cookie, else the browser's Accept-Language, else English."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in i18n.LANGUAGES:
        return chosen
    accept = request.headers.get("accept-language", "").lower()
    return "zh-CN" if accept.startswith("zh") else "en"


@dataclass(frozen=True, slots=True)
class AlarmBanner:
    """The active alarms the signed-in account may see, for the banner on every page (base.html)."""

    count: int
    shown: tuple[tuple[str, str], ...]  # (alarm name, deployment name or "") of the newest few


BANNER_SHOWN = 3


@dataclass
class Page:
    """What every template gets: the request, the signed-in account (or None), language and CSRF token."""

    request: Request
    state: ConsoleState
    account: Account | None
    lang: str
    csrf: str
    nonce: str
    alarms: AlarmBanner | None = None  # None: no alarm active for what the account sees

    @property
    def signed_in(self) -> Account:
        """The signed-in account (pages behind `LoggedIn` always have one)."""
        assert self.account is not None
        return self.account

    def t(self, message: str) -> str:
        return i18n.translate(self.lang, message)

    def render(self, template: str, *, status: int = 200, **values: object) -> HTMLResponse:
        html = (
            environment()
            .get_template(template)
            .render(
                page=self,
                _=self.t,
                account=self.account,
                lang=self.lang,
                csrf=self.csrf,
                prefix=PREFIX,
                path=self.request.url.path,
                **values,
            )
        )
        return HTMLResponse(html, status_code=status, headers=_NO_STORE)


# Pages are never cached (they may show a secret once), never framed, and run only the console's own script.
_NO_STORE = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
}


def redirect(url: str) -> RedirectResponse:
    """303 See Other: after a successful POST, the browser GETs the result (no re-submit on reload)."""
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(f"{PREFIX}/login?next={quote(target, safe='')}")


def _load_signed_in(database: Database, token: str) -> tuple[sessions.SignedIn | None, AlarmBanner | None]:
    """The session's account, and the banner of the active alarms it may see (one read session)."""
    with database.read_session() as session:
        signed_in = sessions.find_session(session, token=token)
        if signed_in is None:
            return None, None
        account = signed_in.account
        # permissions.visible_projects, which imports this module: the same one-line rule.
        projects = None if account.role.sees_all_projects else account.project_ids
        rows = alarm_store.visible(session, project_ids=projects, activated=True, limit=100)
        if not rows:
            return signed_in, None
        shown = tuple((row.name, name or "") for row, name in rows[:BANNER_SHOWN])
        return signed_in, AlarmBanner(len(rows), shown)


_PAGE_KEY = "mqttcloud.console_page"  # request.scope key: the page context `current_page` resolved


async def current_page(request: Request) -> Page:
    """The signed-in account's page context (resolved once per request). Raises: LoginRequired."""
    resolved: Page | None = request.scope.get(_PAGE_KEY)
    if resolved is not None:
        return resolved
    state = console_state(request)
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired
    signed_in, banner = await run(_load_signed_in, state.database, token)
    if signed_in is None:
        raise LoginRequired
    nonce = signed_in.session_id
    page = Page(
        request, state, signed_in.account, language(request), state.signer.csrf_token(nonce), nonce, banner
    )
    request.scope[_PAGE_KEY] = page
    audit.attach(request.scope, audit.Actor(audit.ActorKind.ACCOUNT, signed_in.account.username))
    return page


def anonymous_page(request: Request) -> Page:
    """Page context for the login page: the CSRF token comes from the login nonce cookie."""
    state = console_state(request)
    nonce = request.cookies.get(LOGIN_COOKIE) or ""
    if len(nonce) < 16 or len(nonce) > 64:
        nonce = Signer.new_nonce()
    return Page(request, state, None, language(request), state.signer.csrf_token("login" + nonce), nonce)


def _csrf_refused(page: Page) -> PageError:
    return PageError(403, page.t("The form expired or did not come from this console. Reload and retry."))


async def read_form(request: Request, page: Page) -> FormData:
    """The submitted form, after checking its CSRF token. Raises: PageError 403."""
    form = await request.form()
    token = form.get("csrf_token")
    nonce = page.nonce if page.account is not None else "login" + page.nonce
    if not isinstance(token, str) or not page.state.signer.check_csrf(nonce, token):
        raise _csrf_refused(page)
    return form


def check_csrf_header(request: Request, page: Page) -> None:
    """A script's request (JSON body) of a signed-in page: its CSRF token comes in the X-CSRF-Token
    header. Raises: PageError 403."""
    if not page.state.signer.check_csrf(page.nonce, request.headers.get("x-csrf-token")):
        raise _csrf_refused(page)


def page_number(request: Request) -> int:
    """The list page asked for (`?page=`, from 1); anything else is page 1."""
    value = request.query_params.get("page", "1")
    return max(1, int(value)) if value.isdigit() else 1


def field_text(form: FormData, name: str, *, strip: bool = True) -> str:
    value = form.get(name)
    if isinstance(value, str):
        return value.strip() if strip else value
    return ""


def field_list(form: FormData, name: str) -> list[str]:
    """Every text value of a repeated field (checkboxes), in form order."""
    return [value for value in form.getlist(name) if isinstance(value, str)]


async def field_file_or_text(form: FormData, name: str, file_name: str) -> str:
    """A PEM (or other text) given either in a textarea `name` or as an uploaded file `file_name`."""
    upload = form.get(file_name)
    if isinstance(upload, UploadFile) and upload.filename:
        try:
            data = await upload.read(1024 * 1024)
        finally:
            await upload.close()
        return data.decode("utf-8", errors="replace").strip()
    return field_text(form, name)


def field_errors(
    page: Page, session: Session, error: ApiError, *, default: str, fields: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A refused write, as a form shows it: rolled back, its message (translated) next to the form's field.

    Args:
        error: what the use case raised; its `field` names the field in the service's words.
        default: the form's field when the error names none.
        fields: the service's field names that the form names otherwise.
    """
    session.rollback()
    name = error.field or ""
    return {(fields or {}).get(name, name) or default: page.t(error.message)}


LoggedIn = Annotated[Page, Depends(current_page)]
Anonymous = Annotated[Page, Depends(anonymous_page)]


async def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """An HTML error page; it keeps the navigation when the visitor is signed in.

    The request's database transaction ends first: a refused write must not hold SQLite's write lock
    while its answer is built, and the page itself only reads.
    """
    await run(end_request_transactions, request)
    try:
        page = await current_page(request)
    except LoginRequired:
        page = Page(request, console_state(request), None, language(request), "", "")
    return page.render("error.html", status=status, status_code=status, message=page.t(message))


class ConsoleRoute(APIRoute):
    """Renders `ApiError`/`PageError` as HTML pages and `LoginRequired` as a redirect to the login page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                return login_redirect(request)
            except PageError as exc:
                return await error_page(request, exc.status, exc.message)
            except ApiError as exc:
                return await error_page(request, exc.status_code, exc.message)
            finally:
                await request.close()  # closes the uploaded files of a parsed form

        return console_handler
