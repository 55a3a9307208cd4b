"""v4 presenter of the banned list: `/banned` (spec §2.3.4; times in Unix seconds)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from mqttcloud.control.deployment_api import common, schemas
from mqttcloud.control.deployment_api.banned import service as banned
from mqttcloud.control.deployment_api.banned.models import BanRow
from mqttcloud.control.deployment_api.banned.schemas import V4BanIn, V4BanOut
from mqttcloud.control.deployment_api.banned.v5 import new_ban
from mqttcloud.control.deployment_api.errors import V4Route
from mqttcloud.control.deployment_api.target import Target, target_dep

router = APIRouter(route_class=V4Route)
Banned = Annotated[Target, Depends(target_dep("banned"))]


def _out(row: BanRow) -> V4BanOut:
    return V4BanOut(
        who=row.who,
        as_=row.kind,
        reason=row.reason,
        by=row.by,
        at=int(row.at.timestamp()),
        until=int(row.until.timestamp()) if row.until is not None else None,
    )


@router.get("/banned")
async def list_banned(target: Banned, request: Request) -> JSONResponse:
    page, limit = common.paging(request.query_params, 10)
    rows, total = await banned.page(target, page=page, limit=limit)
    return schemas.v4_page(map(_out, rows), page, limit, total)


@router.post("/banned")
async def create_ban(body: V4BanIn, target: Banned) -> JSONResponse:
    """`who`, `as`, `reason` required; `by` "user", `at` now, `until` now + 300 s (Unix seconds)."""
    return schemas.v4_data(_out(await banned.create(target, new_ban(body))))


@router.delete("/banned/{kind}/{who}")
async def delete_ban(kind: str, who: str, target: Banned) -> JSONResponse:
    await banned.delete(target, kind=kind, who=who)
    return schemas.v4_ok()
