"""Use cases of log traces, on a deployment's `Target`: stored rows (`store.py`), files in its broker.

A write commits in a worker thread, then pushes the new spec to the running broker (`Target.write`), so
a created trace runs as soon as its window opens. Log sizes, log pages and downloads come from the
broker's `trace_log` op; a stopped deployment lists its traces with size 0 and answers 503 to reads.
"""

import base64
import datetime as dt
import io
import zipfile

from mqttcloud.contracts import TraceLogArgs, TraceLogResult
from mqttcloud.control.deployment_api import common, live
from mqttcloud.control.deployment_api.errors import ServiceUnavailable
from mqttcloud.control.deployment_api.target import Target
from mqttcloud.control.errors import NotFound
from mqttcloud.control.trace import store
from mqttcloud.control.trace.models import TraceRow
from mqttcloud.control.trace.schemas import TraceIn

MAX_DOWNLOAD = 64 * 1024 * 1024  # bytes of one trace file a download reads
CHUNK = 4 * 1024 * 1024  # bytes per trace_log call


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_dict(row: TraceRow, *, node: str, size: int, now: dt.datetime) -> dict[str, object]:
    return {
        "name": row.name,
        "type": row.type,
        row.type: row.filter,
        "start_at": common.iso(row.start_at.timestamp()),
        "end_at": common.iso(row.end_at.timestamp()),
        "status": store.status(row, now),
        "payload_encode": row.payload_encode,
        "log_size": {node: size},
    }


async def _log(target: Target, name: str, offset: int = 0, limit: int = 0) -> TraceLogResult:
    client = live.client_for(target.runtime, target.deployment)
    args = TraceLogArgs(tenant=target.tenant, name=name, offset=offset, limit=limit)
    try:
        return await live.call(client.call("trace_log", args, TraceLogResult))
    except ServiceUnavailable:  # the broker has not applied the spec with this trace yet
        raise
    except NotFound:
        return TraceLogResult(size=0, mtime=None)


async def _size(target: Target, name: str) -> int:
    try:
        return (await _log(target, name)).size
    except ServiceUnavailable:
        return 0


async def list_traces(target: Target) -> list[dict[str, object]]:
    rows = await target.read(lambda s: store.traces(s, deployment_id=target.deployment_id))
    now = _now()
    return [as_dict(row, node=target.node, size=await _size(target, row.name), now=now) for row in rows]


async def create(target: Target, body: TraceIn) -> dict[str, object]:
    """Raises: BadRequest, Conflict (see `store.create`)."""
    start = None if body.start_at is None else common.to_datetime(body.start_at, "start_at")
    end = None if body.end_at is None else common.to_datetime(body.end_at, "end_at")
    value = {"clientid": body.clientid, "topic": body.topic, "ip_address": body.ip_address}[body.type.value]
    now = _now()
    row = await target.write(
        lambda s: store.create(
            s,
            deployment_id=target.deployment_id,
            name=body.name,
            kind=body.type,
            value=value,
            start_at=start,
            end_at=end,
            payload_encode=body.payload_encode,
            now=now,
        )
    )
    return as_dict(row, node=target.node, size=0, now=now)


async def stop(target: Target, name: str) -> dict[str, object]:
    """Raises: NotFound."""
    now = _now()
    row = await target.write(lambda s: store.stop(s, deployment_id=target.deployment_id, name=name, now=now))
    return as_dict(row, node=target.node, size=await _size(target, name), now=now)


async def delete(target: Target, name: str) -> None:
    """Raises: NotFound."""
    await target.write(lambda s: store.delete(s, deployment_id=target.deployment_id, name=name))


async def _existing(target: Target, name: str) -> TraceRow:
    return await target.read(lambda s: store.get(s, deployment_id=target.deployment_id, name=name))


async def read_log(target: Target, name: str, *, position: int, size: int) -> tuple[bytes, int]:
    """Up to `size` bytes of the file from `position`, and the position after them.
    Raises: NotFound, ServiceUnavailable."""
    await _existing(target, name)
    result = await _log(target, name, position, size)
    data = base64.b64decode(result.data_b64)
    return data, position + len(data)


async def log_detail(target: Target, name: str) -> list[dict[str, object]]:
    """EMQX `log_detail`: one entry per node with the file's size and last write."""
    await _existing(target, name)
    result = await _log(target, name)
    mtime = common.iso(result.mtime) if result.mtime is not None else None
    return [{"node": target.node, "size": result.size, "mtime": mtime}]


async def file_bytes(target: Target, name: str) -> bytes:
    """The whole file (at most `MAX_DOWNLOAD` bytes). Raises: NotFound, ServiceUnavailable."""
    await _existing(target, name)
    parts: list[bytes] = []
    offset = 0
    while offset < MAX_DOWNLOAD:
        result = await _log(target, name, offset, CHUNK)
        data = base64.b64decode(result.data_b64)
        if not data:
            break
        parts.append(data)
        offset += len(data)
    return b"".join(parts)


async def download(target: Target, name: str) -> bytes:
    """A zip holding `<node>-trace_<name>.log`, as EMQX's download."""
    data = await file_bytes(target, name)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{target.node}-trace_{name}.log", data)
    return buffer.getvalue()
