"""Trace rows of one deployment: the rules on names, filters and windows, and the specs brokers run.

Rules: a name is unique in its deployment (EMQX's `^[A-Za-z][A-Za-z0-9_-]*$`, ≤ 256 characters); at
most `MAX_TRACES` per deployment; a window ends after it starts and lasts at most `MAX_DURATION`; a
stopped trace keeps its row (and its file in the broker) with `end_at` moved to the stop time.
Every write commits; callers run these functions in a worker thread.
"""

import datetime as dt
import ipaddress
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from mqttcloud.contracts import TraceSpec, TraceType
from mqttcloud.control.errors import BadRequest, Conflict, NotFound
from mqttcloud.control.trace.models import TraceRow
from mqttcloud.protocol import topics
from mqttcloud.protocol.errors import MQTTError

MAX_TRACES = 10  # per deployment, as EMQX Cloud
MAX_DURATION = dt.timedelta(days=7)
DEFAULT_DURATION = dt.timedelta(minutes=10)  # EMQX's default window
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def check_name(name: str) -> str:
    """Raises: BadRequest naming the field."""
    if not _NAME.fullmatch(name) or len(name) > 256:
        raise BadRequest(
            "name: must start with a letter and hold only letters, digits, '_' and '-' (at most 256)",
            code="INVALID_PARAMETER",
            field="name",
        )
    return name


def check_filter(kind: TraceType, value: str | None) -> str:
    """The client id, topic filter or IP address a trace of `kind` needs. Raises: BadRequest."""
    field = kind.value
    if not value:
        raise BadRequest(f"{field} is required for a {field} trace", code="INVALID_PARAMETER", field=field)
    if kind is TraceType.TOPIC:
        try:
            topics.validate_topic_filter(value)
        except MQTTError:
            raise BadRequest(
                f"topic: invalid topic filter {value!r}", code="INVALID_PARAMETER", field=field
            ) from None
    elif kind is TraceType.IP_ADDRESS:
        try:
            value = str(ipaddress.ip_address(value))
        except ValueError:
            raise BadRequest(
                f"ip_address: invalid IP address {value!r}", code="INVALID_PARAMETER", field=field
            ) from None
    return value


def traces(session: Session, *, deployment_id: str) -> list[TraceRow]:
    query = select(TraceRow).where(TraceRow.deployment_id == deployment_id).order_by(TraceRow.start_at.desc())
    return list(session.scalars(query))


def get(session: Session, *, deployment_id: str, name: str) -> TraceRow:
    """Raises: NotFound."""
    row = session.scalar(
        select(TraceRow).where(TraceRow.deployment_id == deployment_id, TraceRow.name == name)
    )
    if row is None:
        raise NotFound(f"Trace {name} not found", code="NOT_FOUND")
    return row


def records(session: Session, *, deployment_id: str) -> list[TraceSpec]:
    """What the deployment's broker runs: every trace, stopped ones too (their files stay readable)."""
    return [
        TraceSpec(
            name=row.name,
            type=TraceType(row.type),
            filter=row.filter,
            start_at=row.start_at.timestamp(),
            end_at=row.end_at.timestamp(),
            payload_encode=row.payload_encode,
        )
        for row in traces(session, deployment_id=deployment_id)
    ]


def create(
    session: Session,
    *,
    deployment_id: str,
    name: str,
    kind: TraceType,
    value: str | None,
    start_at: dt.datetime | None,
    end_at: dt.datetime | None,
    payload_encode: str,
    now: dt.datetime,
) -> TraceRow:
    """Raises: BadRequest (name, filter, window), Conflict (name taken, same filter, too many)."""
    check_name(name)
    value = check_filter(kind, value)
    start = max(start_at or now, now)  # a start in the past starts now (EMQX)
    end = end_at or start + DEFAULT_DURATION
    if end <= start:
        raise BadRequest(
            "end_at: must be after start_at and in the future", code="INVALID_PARAMETER", field="end_at"
        )
    if end - start > MAX_DURATION:
        raise BadRequest(
            f"end_at: a trace runs at most {MAX_DURATION.days} days", code="INVALID_PARAMETER", field="end_at"
        )
    existing = traces(session, deployment_id=deployment_id)
    if any(row.name == name for row in existing):
        raise Conflict(f"Trace {name} already exists", code="ALREADY_EXISTS")
    if any(row.type == kind.value and row.filter == value and row.end_at > now for row in existing):
        raise Conflict(f"A {kind.value} trace of {value!r} already runs", code="DUPLICATE_CONDITION")
    if len(existing) >= MAX_TRACES:
        raise Conflict(f"A deployment has at most {MAX_TRACES} traces", code="TOO_MANY_TRACES")
    row = TraceRow(
        deployment_id=deployment_id,
        name=name,
        type=kind.value,
        filter=value,
        payload_encode=payload_encode,
        start_at=start,
        end_at=end,
        enabled=True,
        created_at=now,
    )
    session.add(row)
    session.commit()
    return row


def stop(session: Session, *, deployment_id: str, name: str, now: dt.datetime) -> TraceRow:
    """Raises: NotFound."""
    row = get(session, deployment_id=deployment_id, name=name)
    row.enabled = False
    if row.end_at > now:
        row.end_at = max(now, row.start_at)
    session.commit()
    return row


def delete(session: Session, *, deployment_id: str, name: str) -> None:
    """Raises: NotFound."""
    session.delete(get(session, deployment_id=deployment_id, name=name))
    session.commit()


def status(row: TraceRow, now: dt.datetime) -> str:
    """EMQX's trace status: waiting before its window, running in it, stopped after it or once stopped."""
    if not row.enabled or now >= row.end_at:
        return "stopped"
    return "waiting" if now < row.start_at else "running"
