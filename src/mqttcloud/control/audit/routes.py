"""`GET /public_api/v1/audit_logs`: the audit log through the Platform API (an extension of EMQX's).

Access: a platform key with the `deployments` scope that reaches every project. Entries span projects
and accounts, so a key limited to some projects is refused (403) rather than shown a partial log.
There is no write, update or delete route: entries are made by the platform and removed by retention.
"""

import asyncio
import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from mqttcloud.control.api_keys.models import Scope
from mqttcloud.control.audit import service
from mqttcloud.control.audit.schemas import AuditEntryOut, AuditLogPage, Meta
from mqttcloud.control.auth import Principal, platform_access
from mqttcloud.control.db import SessionDep
from mqttcloud.control.errors import Forbidden, error_responses

router = APIRouter(tags=["audit log"])

ReadKey = Annotated[Principal, Depends(platform_access(Scope.DEPLOYMENTS, "audit_logs.list"))]
RESULT_PATTERN = r"^(success|failure|[1-5][0-9][0-9])$"


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """A time without a zone is read as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


@router.get("/audit_logs", responses=error_responses(400, 401, 403, 422, 429, 500))
async def list_audit_logs(
    *,
    principal: ReadKey,
    session: SessionDep,
    actor: Annotated[str | None, Query(max_length=128, description="key id, App ID or user name")] = None,
    action: Annotated[str | None, Query(max_length=200, description="part of the operation")] = None,
    target: Annotated[str | None, Query(max_length=255, description="part of the target ids")] = None,
    result: Annotated[
        str | None, Query(pattern=RESULT_PATTERN, description="success, failure or a status")
    ] = None,
    interface: Annotated[
        str | None, Query(alias="from", pattern=r"^(platform_api|deployment_api|console|cli|system)$")
    ] = None,
    since: Annotated[
        dt.datetime | None, Query(description="from this time on (ISO 8601; UTC if no zone)")
    ] = None,
    until: Annotated[
        dt.datetime | None, Query(description="before this time (ISO 8601; UTC if no zone)")
    ] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditLogPage:
    """Audit log entries, newest first, filtered by actor, operation, target, result, interface and time."""
    if principal.project_ids is not None:
        raise Forbidden("Reading the audit log needs an API key that reaches every project", code="FORBIDDEN")
    filters = service.Filters(
        actor=actor,
        action=action,
        target=target,
        result=result,
        interface=interface,
        since=_utc(since),
        until=_utc(until),
    )
    rows, total = await asyncio.to_thread(
        service.list_entries, session, filters=filters, page=page, limit=limit
    )
    return AuditLogPage(
        data=[AuditEntryOut.of(row) for row in rows],
        meta=Meta(page=page, limit=limit, count=total, hasnext=page * limit < total),
    )
