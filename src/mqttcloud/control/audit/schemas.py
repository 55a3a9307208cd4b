"""Audit log listing as the Platform API shows it: field names follow EMQX's audit log API."""

import datetime as dt
import json

from pydantic import BaseModel, Field

from mqttcloud.control.audit.models import AuditEntry


class AuditEntryOut(BaseModel):
    id: int
    created_at: dt.datetime
    from_: str = Field(alias="from", description="platform_api, deployment_api, console, cli or system")
    source_kind: str = Field(description="platform_key, deployment_key, account, anonymous or system")
    source: str = Field(description="key id, App ID or user name of the actor; empty when anonymous")
    authenticated: bool = Field(description="false: the source was presented but not verified")
    source_ip: str | None
    http_method: str
    operation: str = Field(description="method and route template, e.g. POST /public_api/v1/deployments")
    target: str = Field(description="ids the action concerned, name=value separated by spaces")
    http_request: dict[str, object] = Field(description="the request body's fields, secrets redacted")
    http_status_code: int
    operation_result: str = Field(description="success or failure")
    error_code: str | None

    model_config = {"populate_by_name": True}

    @classmethod
    def of(cls, row: AuditEntry) -> "AuditEntryOut":
        summary = json.loads(row.summary) if row.summary else {}
        return cls(
            id=row.id,
            created_at=row.at,
            from_=row.interface,
            source_kind=row.actor_kind,
            source=row.actor_id,
            authenticated=row.authenticated,
            source_ip=row.source_ip,
            http_method=row.method,
            operation=row.action,
            target=row.target,
            http_request=summary if isinstance(summary, dict) else {},
            http_status_code=row.status,
            operation_result="success" if row.status < 400 else "failure",
            error_code=row.error_code,
        )


class Meta(BaseModel):
    page: int
    limit: int
    count: int
    hasnext: bool


class AuditLogPage(BaseModel):
    data: list[AuditEntryOut]
    meta: Meta
