"""The console's audit log page (`/console/audit`): read-only, for root, Administrators and Auditors.

It lists what `audit.service.list_entries` returns, filtered by the same fields as
`GET /public_api/v1/audit_logs`; there is no form that changes an entry, because no service does.
"""

import datetime as dt
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from mqttcloud.control.audit import service as audit
from mqttcloud.control.console.pages import PREFIX, ConsoleRoute, LoggedIn, PageError, page_number, run
from mqttcloud.control.console.permissions import may_read_accounts
from mqttcloud.control.db import SessionDep

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

PAGE_SIZE = 50
# The stored keys of an entry's interface and actor kind, as the page names them (translated in i18n).
INTERFACE_LABELS = {
    "platform_api": "Platform API",
    "deployment_api": "Deployment API",
    "console": "Console",
    "cli": "Command line",
    "system": "System",
}
ACTOR_KIND_LABELS = {
    "account": "account",
    "platform_key": "platform API key",
    "deployment_key": "deployment API key",
    "anonymous": "anonymous",
}
FILTERS = ("actor", "action", "target", "result", "from", "since", "until")


def _day(value: str, *, end: bool) -> dt.datetime | None:
    """A `YYYY-MM-DD` field as the start of that day (or of the next one, for an "until" day), UTC."""
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None
    return dt.datetime.combine(day + dt.timedelta(days=1 if end else 0), dt.time(), dt.UTC)


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(request: Request, page: LoggedIn, session: SessionDep) -> Response:
    if not may_read_accounts(page.signed_in):  # root, Administrators and Auditors
        raise PageError(403, "Only Administrators and Auditors can read the audit log")
    values = {name: request.query_params.get(name, "").strip()[:255] for name in FILTERS}
    result = values["result"] if values["result"] in audit.RESULTS else None
    filters = audit.Filters(
        actor=values["actor"] or None,
        action=values["action"] or None,
        target=values["target"] or None,
        result=result,
        interface=values["from"] if values["from"] in INTERFACE_LABELS else None,
        since=_day(values["since"], end=False),
        until=_day(values["until"], end=True),
    )
    number = page_number(request)
    rows, total = await run(audit.list_entries, session, filters=filters, page=number, limit=PAGE_SIZE)
    return page.render(
        "audit.html",
        entries=rows,
        total=total,
        values=values,
        interfaces=INTERFACE_LABELS,
        actor_kinds=ACTOR_KIND_LABELS,
        page_number=number,
        page_size=PAGE_SIZE,
        query=urlencode({k: v for k, v in values.items() if v}),
    )
