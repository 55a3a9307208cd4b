"""Audit log use cases: write a batch, list with filters and paging, purge by retention.

Rule: these are the only functions that touch `audit_log`, and none of them updates a row: entries are
inserted once and deleted only when older than the retention period.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.orm import Session

from mqttcloud.control.audit.models import AuditEntry

RESULTS = ("success", "failure")


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An entry not yet stored (built by the middleware or the CLI; written in batches)."""

    at: dt.datetime
    interface: str
    actor_kind: str
    actor_id: str
    authenticated: bool
    source_ip: str | None
    method: str
    action: str
    target: str
    summary: str
    status: int
    error_code: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Filters:
    """What `list_entries` keeps; None: no condition. `target` matches any part of the target text."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    result: str | None = None  # "success" (status < 400), "failure", or an HTTP status ("403")
    interface: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def write_entries(session: Session, entries: Sequence[NewEntry]) -> None:
    """Insert a batch in one statement and commit."""
    if not entries:
        return
    session.execute(
        insert(AuditEntry),
        [
            {
                "at": e.at,
                "interface": e.interface,
                "actor_kind": e.actor_kind,
                "actor_id": e.actor_id[:128],
                "authenticated": e.authenticated,
                "source_ip": e.source_ip,
                "method": e.method[:8],
                "action": e.action[:200],
                "target": e.target[:255],
                "summary": e.summary,
                "status": e.status,
                "error_code": e.error_code,
            }
            for e in entries
        ],
    )
    session.commit()


def _filtered(query: Select[AuditEntry], filters: Filters) -> Select[AuditEntry]:
    if filters.actor is not None:
        query = query.where(AuditEntry.actor_id == filters.actor)
    if filters.action is not None:
        query = query.where(AuditEntry.action.contains(filters.action, autoescape=True))
    if filters.target is not None:
        query = query.where(AuditEntry.target.contains(filters.target, autoescape=True))
    if filters.interface is not None:
        query = query.where(AuditEntry.interface == filters.interface)
    if filters.result == "success":
        query = query.where(AuditEntry.status < 400)
    elif filters.result == "failure":
        query = query.where(AuditEntry.status >= 400)
    elif filters.result is not None:
        query = query.where(AuditEntry.status == int(filters.result))
    if filters.since is not None:
        query = query.where(AuditEntry.at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEntry.at < filters.until)
    return query


def list_entries(
    session: Session, *, filters: Filters, page: int, limit: int
) -> tuple[list[AuditEntry], int]:
    """One page of matching entries, newest first, and how many match in all."""
    query = _filtered(select(AuditEntry), filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).offset((page - 1) * limit).limit(limit)
    )
    return list(rows), total


def purge_before(session: Session, *, cutoff: dt.datetime) -> int:
    """Delete the entries older than `cutoff` (retention); returns how many."""
    result = session.execute(delete(AuditEntry).where(AuditEntry.at < cutoff))
    session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # CursorResult of a DELETE has rowcount
