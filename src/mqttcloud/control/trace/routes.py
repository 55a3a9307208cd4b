"""`/api/v5/trace` (EMQX 5 log trace): create, list, stop, delete, view, download. Thin: each route calls
one `service` function. Keys need the `trace` permission group."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from mqttcloud.control.deployment_api.target import Target, target_dep
from mqttcloud.control.trace import service
from mqttcloud.control.trace.schemas import TraceIn

router = APIRouter()
Traces = Annotated[Target, Depends(target_dep("trace"))]


@router.get("/trace")
async def list_traces(target: Traces) -> JSONResponse:
    return JSONResponse(await service.list_traces(target))


@router.post("/trace")
async def create_trace(target: Traces, body: TraceIn) -> JSONResponse:
    return JSONResponse(await service.create(target, body))


@router.put("/trace/{name}/stop")
async def stop_trace(target: Traces, name: str) -> JSONResponse:
    return JSONResponse(await service.stop(target, name))


@router.delete("/trace/{name}")
async def delete_trace(target: Traces, name: str) -> Response:
    await service.delete(target, name)
    return Response(status_code=204)


@router.get("/trace/{name}/log_detail")
async def log_detail(target: Traces, name: str) -> JSONResponse:
    return JSONResponse(await service.log_detail(target, name))


@router.get("/trace/{name}/log")
async def view_log(
    target: Traces,
    name: str,
    position: Annotated[int, Query(ge=0)] = 0,
    size: Annotated[int, Query(alias="bytes", ge=1, le=4 * 1024 * 1024)] = 1000,
) -> JSONResponse:
    data, after = await service.read_log(target, name, position=position, size=size)
    return JSONResponse(
        {"items": data.decode("utf-8", "replace"), "meta": {"position": after, "bytes": size}}
    )


@router.get("/trace/{name}/download")
async def download(target: Traces, name: str) -> Response:
    body = await service.download(target, name)
    headers = {"Content-Disposition": f'attachment; filename="{name}.zip"'}
    return Response(body, media_type="application/octet-stream", headers=headers)
