"""Shadow service use cases: the one place each rule and write sequence on shadows is written.

The v4 routes, the console and the MQTT relay call these. Models: `shadowID` (8-64 letters, digits, `_`,
`-`; generated when absent; never changes), `shadowName` (3-50 letters, digits, `-`, `_`, `.`),
`description`; times `YYYY-MM-DD HH:MM` UTC. Each model has one JSON document: an object `data`, with
`createAt` / `lastTime` (epoch ms) and a `version` that every PUT or PATCH increments.

Rules:
- PUT replaces `data`; PATCH merges with `merge` (the documented multi-level rule: a new nested object
  must arrive empty first, `{"key": {}}`, then with content; in one step it is refused with HTTP 500).
- A document is at most `Quotas.max_shadow_document_bytes` as compact UTF-8 JSON and
  `MAX_DEPTH` levels deep; a deployment has at most `Quotas.max_shadows` models.
- Every write commits, then `change_document` publishes the new document on `shadow/{id}/reply` when
  the deployment's broker runs (so devices see API and console edits as they see their own).
"""

import asyncio
import base64
import datetime as dt
import json
import logging
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mqttcloud.contracts import PublishArgs, TenantId
from mqttcloud.control.broker_client import BrokerClient, BrokerError, BrokerUnavailable
from mqttcloud.control.deployment_api.shadows.models import Shadow
from mqttcloud.control.deployments.lifecycle import BrokerRuntime
from mqttcloud.control.errors import ApiError, BadRequest, Conflict, Invalid, NotFound

logger = logging.getLogger(__name__)

MAX_DEPTH = 32  # levels of nested objects and arrays in a document
MAX_DESCRIPTION = 1024
_SHADOW_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
_NAME = re.compile(r"[A-Za-z0-9._-]{3,50}")

Json = dict[str, object]


class Method(StrEnum):
    GET = "GET"
    PUT = "PUT"
    PATCH = "PATCH"


class NestedObjectInOneStep(ApiError):  # noqa: N818  (named for what the caller did, like NotFound)
    """A PATCH that introduces a new nested object with content at once: HTTP 500, as EMQX documents."""

    status_code: ClassVar[int] = 500
    default_code: ClassVar[str] = "SHADOW_NESTED_OBJECT"


@dataclass(frozen=True, slots=True)
class Document:
    data: Json
    created_ms: int
    updated_ms: int
    version: int

    def body(self) -> dict[str, object]:
        """The shadow JSON object, as the API answers and `shadow/{id}/reply` carries it."""
        return {
            "data": self.data,
            "createAt": self.created_ms,
            "lastTime": self.updated_ms,
            "version": self.version,
        }


# ------------------------------------------------------------------------------------------------ rules


def merge(data: Mapping[str, object], patch: Mapping[str, object], *, at: tuple[str, ...] = ()) -> Json:
    """`patch` merged into `data` (a new dict; neither argument changes).

    Objects merge key by key, at every level; any other value replaces what was there. A key that
    did not hold an object may receive an object only empty (`{}`): content goes in a later PATCH.

    Raises: NestedObjectInOneStep, naming the key (dotted path) that brought the new object.
    """
    merged = dict(data)
    for key, value in patch.items():
        current = merged.get(key)
        if isinstance(value, dict):
            if isinstance(current, dict):
                merged[key] = merge(current, value, at=(*at, key))
            elif value:
                path = ".".join((*at, key))
                raise NestedObjectInOneStep(
                    f"PATCH cannot add the new object {path!r} with content in one step: "
                    f'add it empty first ({{"{key}": {{}}}}), then its content',
                    field=path,
                )
            else:
                merged[key] = {}
        else:
            merged[key] = value
    return merged


def check_document(data: object, *, max_bytes: int, field: str = "data") -> str:
    """The compact JSON text of a valid document. Raises: BadRequest (not an object, too deep),
    Invalid (`QUOTA_EXCEEDED`: larger than `max_bytes`)."""
    if not isinstance(data, dict):
        raise BadRequest("the shadow document must be a JSON object", code="BAD_REQUEST", field=field)
    if _depth(data) > MAX_DEPTH:
        raise BadRequest(f"the shadow document nests more than {MAX_DEPTH} levels", field=field)
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    size = len(text.encode())
    if size > max_bytes:
        raise Invalid(
            f"quota exceeded: the shadow document is {size} bytes, at most {max_bytes} are allowed",
            code="QUOTA_EXCEEDED",
            field=field,
        )
    return text


def _depth(value: object) -> int:
    """Nesting depth, iteratively (a hostile document must not exhaust the Python stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:
                stack.extend(
                    (child, level + 1) for child in (item.values() if isinstance(item, dict) else item)
                )
    return deepest


def parse_json(raw: bytes | str, *, field: str = "body") -> object:
    """JSON text (whatever the request's Content-Type said). Raises: BadRequest (`INVALID_JSON`)."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("the body is not valid JSON", code="INVALID_JSON", field=field) from None


def check_shadow_id(shadow_id: str) -> str:
    if not _SHADOW_ID.fullmatch(shadow_id):
        raise Invalid(
            "shadowID must be 8 to 64 letters, digits, '_' or '-'",
            code="INVALID_PARAMETERS",
            field="shadowID",
        )
    return shadow_id


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise Invalid(
            "shadowName must be 3 to 50 letters, digits, '-', '_' or '.'",
            code="INVALID_PARAMETERS",
            field="shadowName",
        )
    return name


def check_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION:
        raise Invalid(
            f"description must be at most {MAX_DESCRIPTION} characters",
            code="INVALID_PARAMETERS",
            field="description",
        )
    return description


def minute(value: dt.datetime) -> str:
    """`YYYY-MM-DD HH:MM`, UTC (the shadow API's time format)."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")


def broker_of(runtime: BrokerRuntime, broker_id: str) -> BrokerClient | None:
    """The running broker's admin client (asked for each use: a restarted broker has a new one)."""
    supervisor = runtime.supervisor
    return None if supervisor is None else supervisor.client(broker_id)


def reply_topic(shadow_id: str) -> str:
    return f"shadow/{shadow_id}/reply"


def document_of(row: Shadow) -> Document:
    data = json.loads(row.document)
    assert isinstance(data, dict)
    return Document(data, row.document_created_ms, row.document_updated_ms, row.version)


# ------------------------------------------------------------------------------------------- models


def page(session: Session, *, deployment_id: str, page: int, limit: int) -> tuple[list[Shadow], int]:
    """One page of the deployment's models, oldest first, and how many there are."""
    total = session.scalar(
        select(func.count()).select_from(Shadow).where(Shadow.deployment_id == deployment_id)
    )
    rows = session.scalars(
        select(Shadow)
        .where(Shadow.deployment_id == deployment_id)
        .order_by(Shadow.id)
        .offset((page - 1) * limit)
        .limit(limit)
    )
    return list(rows), total or 0


def get(session: Session, *, deployment_id: str, shadow_id: str, for_update: bool = False) -> Shadow:
    """Raises: NotFound (`SHADOW_NOT_FOUND`)."""
    query = select(Shadow).where(Shadow.deployment_id == deployment_id, Shadow.shadow_id == shadow_id)
    row = session.scalar(query.with_for_update() if for_update else query)
    if row is None:
        raise NotFound(f"shadow {shadow_id} not found", code="SHADOW_NOT_FOUND", field="shadowID")
    return row


def create(
    session: Session,
    *,
    deployment_id: str,
    name: str,
    description: str = "",
    shadow_id: str | None = None,
    max_shadows: int,
) -> Shadow:
    """Raises: Invalid (fields, `QUOTA_EXCEEDED`), Conflict (`ALREADY_EXISTS`: the shadowID is taken)."""
    check_name(name)
    check_description(description)
    if shadow_id is None or shadow_id == "":
        shadow_id = secrets.token_hex(8)
    check_shadow_id(shadow_id)
    count = session.scalar(
        select(func.count()).select_from(Shadow).where(Shadow.deployment_id == deployment_id)
    )
    if (count or 0) >= max_shadows:
        raise Invalid(
            f"quota exceeded: at most {max_shadows} shadow models per deployment",
            code="QUOTA_EXCEEDED",
            field="shadowID",
        )
    taken = session.scalar(
        select(Shadow.id).where(Shadow.deployment_id == deployment_id, Shadow.shadow_id == shadow_id)
    )
    if taken is not None:
        raise Conflict(f"shadow {shadow_id} already exists", code="ALREADY_EXISTS", field="shadowID")
    now = dt.datetime.now(dt.UTC)
    now_ms = int(now.timestamp() * 1000)
    row = Shadow(
        deployment_id=deployment_id,
        shadow_id=shadow_id,
        name=name,
        description=description,
        created_at=now,
        updated_at=now,
        document="{}",
        document_created_ms=now_ms,
        document_updated_ms=now_ms,
        version=0,
    )
    session.add(row)
    session.commit()
    return row


def update(session: Session, *, deployment_id: str, shadow_id: str, name: str, description: str) -> Shadow:
    """Change the name and description (the ID never changes). Raises: NotFound, Invalid."""
    check_name(name)
    check_description(description)
    row = get(session, deployment_id=deployment_id, shadow_id=shadow_id, for_update=True)
    row.name = name
    row.description = description
    row.updated_at = dt.datetime.now(dt.UTC)
    session.commit()
    return row


def delete(session: Session, *, deployment_id: str, shadow_id: str) -> None:
    """Raises: NotFound."""
    session.delete(get(session, deployment_id=deployment_id, shadow_id=shadow_id))
    session.commit()


# ----------------------------------------------------------------------------------------- documents


def write_document(
    session: Session,
    *,
    deployment_id: str,
    shadow_id: str,
    method: Method,
    payload: object,
    max_bytes: int,
    now_ms: int | None = None,
) -> Document:
    """Apply one GET, PUT or PATCH to the shadow's document and commit; returns the document after it.

    The row is locked (PostgreSQL `FOR UPDATE`; SQLite takes its write lock at BEGIN), so writes from
    the API and from devices each see the previous one and the version counts every write.

    Raises: NotFound, BadRequest (payload not an object), Invalid (`QUOTA_EXCEEDED`),
    NestedObjectInOneStep (PATCH).
    """
    row = get(session, deployment_id=deployment_id, shadow_id=shadow_id, for_update=method is not Method.GET)
    current = document_of(row)
    if method is Method.GET:
        return current
    if not isinstance(payload, dict):
        raise BadRequest("the shadow document must be a JSON object", code="BAD_REQUEST", field="payload")
    data = payload if method is Method.PUT else merge(current.data, payload)
    row.document = check_document(data, max_bytes=max_bytes)
    row.version += 1
    row.document_updated_ms = int(time.time() * 1000) if now_ms is None else now_ms
    session.commit()
    return document_of(row)


async def change_document(
    session: Session,
    *,
    broker: BrokerClient | None,
    deployment_id: str,
    shadow_id: str,
    method: Method,
    payload: object,
    max_bytes: int,
) -> Document:
    """`write_document` in a worker thread, then the new document on `shadow/{id}/reply` (API and console
    writes; `broker` None when the deployment's broker does not run). Raises: as `write_document`."""
    document = await asyncio.to_thread(
        lambda: write_document(
            session,
            deployment_id=deployment_id,
            shadow_id=shadow_id,
            method=method,
            payload=payload,
            max_bytes=max_bytes,
        )
    )
    if broker is not None and method is not Method.GET:
        await reply(broker, tenant=TenantId(deployment_id), shadow_id=shadow_id, body=document.body())
    return document


async def reply(
    broker: BrokerClient, *, tenant: TenantId, shadow_id: str, body: Mapping[str, object]
) -> bool:
    """Publish `body` (JSON) on `shadow/{id}/reply`, QoS 1. A broker that cannot take it is logged, not an
    error: the document is stored, and devices read it with GET. Returns whether it was published."""
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    args = PublishArgs(
        tenant=tenant,
        topic=reply_topic(shadow_id),
        payload_b64=base64.b64encode(payload).decode("ascii"),
        qos=1,
        content_type="application/json",
    )
    try:
        await broker.publish(args)
    except (BrokerUnavailable, BrokerError) as exc:
        logger.warning("shadow %s of %s: reply not published: %s", shadow_id, tenant, exc)
        return False
    return True
