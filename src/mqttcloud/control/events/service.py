"""Client event history use cases: store a broker's batch, query with filters and paging, purge.

Rule: these are the only functions that touch `client_events`, and none updates a row: events are
inserted once and deleted only when older than the retention period or past the per-deployment cap
(oldest first).
"""

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.orm import Session

from mqttcloud.contracts import ClientEvent, EventKind
from mqttcloud.control.events.models import MAX_CLIENTID, ClientEventRow


@dataclass(frozen=True, slots=True, kw_only=True)
class Filters:
    """What `list_events` keeps; None: no condition. `like_clientid` matches any part of the id."""

    clientid: str | None = None
    like_clientid: str | None = None
    username: str | None = None
    ip_address: str | None = None
    event: EventKind | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One stored event, as the presenters show it."""

    id: int
    at: dt.datetime
    event: str
    clientid: str
    username: str | None
    ip_address: str | None
    port: int | None
    reason_code: int | None
    reason: str | None
    detail: dict[str, object]


def write_events(session: Session, *, deployment_id: str, events: Sequence[ClientEvent]) -> None:
    """Insert a broker's batch in one statement and commit."""
    if not events:
        return
    session.execute(
        insert(ClientEventRow),
        [
            {
                "deployment_id": deployment_id,
                "at": dt.datetime.fromtimestamp(e.at, dt.UTC),
                "event": e.event.value,
                "clientid": e.clientid[:MAX_CLIENTID],
                "username": None if e.username is None else e.username[:MAX_CLIENTID],
                "ip_address": e.ip_address,
                "port": e.port,
                "reason_code": e.reason_code,
                "reason": None if e.reason is None else e.reason[:64],
                "detail": json.dumps(e.detail, separators=(",", ":")),
            }
            for e in events
        ],
    )
    session.commit()


def _filtered(query: Select[ClientEventRow], deployment_id: str, f: Filters) -> Select[ClientEventRow]:
    query = query.where(ClientEventRow.deployment_id == deployment_id)
    if f.clientid is not None:
        query = query.where(ClientEventRow.clientid == f.clientid)
    if f.like_clientid is not None:
        query = query.where(ClientEventRow.clientid.contains(f.like_clientid, autoescape=True))
    if f.username is not None:
        query = query.where(ClientEventRow.username == f.username)
    if f.ip_address is not None:
        query = query.where(ClientEventRow.ip_address == f.ip_address)
    if f.event is not None:
        query = query.where(ClientEventRow.event == f.event.value)
    if f.since is not None:
        query = query.where(ClientEventRow.at >= f.since)
    if f.until is not None:
        query = query.where(ClientEventRow.at < f.until)
    return query


def list_events(
    session: Session, *, deployment_id: str, filters: Filters, page: int, limit: int
) -> tuple[list[StoredEvent], int]:
    """One page of matching events, newest first, and how many match in all."""
    query = _filtered(select(ClientEventRow), deployment_id, filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(ClientEventRow.at.desc(), ClientEventRow.id.desc())
        .offset((page - 1) * limit)
        .limit(limit)
    )
    return [_stored(row) for row in rows], total


def _stored(row: ClientEventRow) -> StoredEvent:
    try:
        detail = json.loads(row.detail)
    except ValueError:
        detail = {}
    return StoredEvent(
        id=row.id,
        at=row.at,
        event=row.event,
        clientid=row.clientid,
        username=row.username,
        ip_address=row.ip_address,
        port=row.port,
        reason_code=row.reason_code,
        reason=row.reason,
        detail=detail if isinstance(detail, dict) else {},
    )


def purge(session: Session, *, cutoff: dt.datetime, max_per_deployment: int) -> int:
    """Delete events older than `cutoff`, then each deployment's oldest past `max_per_deployment`.

    Returns how many rows went."""
    removed = int(session.execute(delete(ClientEventRow).where(ClientEventRow.at < cutoff)).rowcount or 0)  # type: ignore[attr-defined]  # CursorResult of a DELETE has rowcount
    counts = session.execute(
        select(ClientEventRow.deployment_id, func.count())
        .group_by(ClientEventRow.deployment_id)
        .having(func.count() > max_per_deployment)
    ).all()
    for deployment_id, _count in counts:
        # the id of the newest row past the cap: it and every older one go
        boundary = session.scalar(
            select(ClientEventRow.id)
            .where(ClientEventRow.deployment_id == deployment_id)
            .order_by(ClientEventRow.id.desc())
            .offset(max_per_deployment)
            .limit(1)
        )
        if boundary is not None:
            result = session.execute(
                delete(ClientEventRow).where(
                    ClientEventRow.deployment_id == deployment_id, ClientEventRow.id <= boundary
                )
            )
            removed += int(result.rowcount or 0)  # type: ignore[attr-defined]  # as above
    session.commit()
    return removed
