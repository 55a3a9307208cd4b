"""Alarm rows: raise, clear and list. Rule: at most one active row per key; every write commits."""

import datetime as dt
from collections.abc import Collection, Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mqttcloud.control.alarms.conditions import AlarmKey, Condition
from mqttcloud.control.alarms.models import AlarmRow
from mqttcloud.control.deployments.models import Deployment


def active(session: Session) -> dict[AlarmKey, AlarmRow]:
    rows = session.scalars(select(AlarmRow).where(AlarmRow.deactivated_at.is_(None)))
    return {(row.deployment_id, row.name): row for row in rows}


def apply(
    session: Session, *, raised: Iterable[Condition], cleared: Iterable[AlarmKey], now: dt.datetime
) -> tuple[list[AlarmRow], list[AlarmRow]]:
    """Insert raised alarms and close cleared ones; returns the rows (raised, cleared)."""
    current = active(session)
    new_rows = [
        AlarmRow(
            deployment_id=c.deployment_id,
            name=c.name,
            message=c.message,
            details=dict(c.details),
            activated_at=now,
            deactivated_at=None,
        )
        for c in raised
        if c.key not in current
    ]
    session.add_all(new_rows)
    closed = [current[key] for key in cleared if key in current]
    for row in closed:
        row.deactivated_at = now
    session.commit()
    return new_rows, closed


def alarms(
    session: Session, *, deployment_id: str | None = None, activated: bool | None = None, limit: int = 1000
) -> list[AlarmRow]:
    """Newest first; `deployment_id` None lists every alarm (platform-wide ones included)."""
    query = select(AlarmRow).order_by(AlarmRow.activated_at.desc(), AlarmRow.id.desc()).limit(limit)
    if deployment_id is not None:
        query = query.where(AlarmRow.deployment_id == deployment_id)
    if activated is True:
        query = query.where(AlarmRow.deactivated_at.is_(None))
    elif activated is False:
        query = query.where(AlarmRow.deactivated_at.is_not(None))
    return list(session.scalars(query))


def visible(
    session: Session,
    *,
    project_ids: Collection[str] | None,
    deployment_id: str | None = None,
    activated: bool | None = None,
    limit: int = 1000,
) -> list[tuple[AlarmRow, str | None]]:
    """The alarms of the deployments of `project_ids` (None: every project, and the platform-wide alarms
    too), newest first, each with its deployment's name (None for a platform-wide alarm)."""
    query = (
        select(AlarmRow, Deployment.name)
        .outerjoin(Deployment, AlarmRow.deployment_id == Deployment.id)
        .order_by(AlarmRow.activated_at.desc(), AlarmRow.id.desc())
        .limit(limit)
    )
    if project_ids is not None:
        query = query.where(Deployment.project_id.in_(list(project_ids)))
    if deployment_id is not None:
        query = query.where(AlarmRow.deployment_id == deployment_id)
    if activated is True:
        query = query.where(AlarmRow.deactivated_at.is_(None))
    elif activated is False:
        query = query.where(AlarmRow.deactivated_at.is_not(None))
    return [(row, name) for row, name in session.execute(query)]


def purge_deactivated(session: Session, *, deployment_id: str) -> int:
    """EMQX `DELETE /alarms`: forget the deployment's cleared alarms."""
    result = session.execute(
        delete(AlarmRow).where(AlarmRow.deployment_id == deployment_id, AlarmRow.deactivated_at.is_not(None))
    )
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult of a DELETE has rowcount


def as_dict(row: AlarmRow, *, node: str, now: dt.datetime) -> dict[str, object]:
    """EMQX 5 alarm shape (`duration` in ms), plus `deployment_id`."""
    end = row.deactivated_at or now
    return {
        "node": node,
        "name": row.name,
        "message": row.message,
        "details": row.details,
        "duration": int((end - row.activated_at).total_seconds() * 1000),
        "activate_at": row.activated_at.isoformat(timespec="milliseconds"),
        "deactivate_at": row.deactivated_at.isoformat(timespec="milliseconds")
        if row.deactivated_at
        else "infinity",
        "activated": row.deactivated_at is None,
        "deployment_id": row.deployment_id,
    }
