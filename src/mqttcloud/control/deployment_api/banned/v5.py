"""v5 presenter of the banned list: `/banned`."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from mqttcloud.control.deployment_api import common, schemas
from mqttcloud.control.deployment_api.banned import service as banned
from mqttcloud.control.deployment_api.banned.models import BanRow
from mqttcloud.control.deployment_api.banned.schemas import BanIn, BanOut
from mqttcloud.control.deployment_api.target import Target, target_dep

router = APIRouter()
Banned = Annotated[Target, Depends(target_dep("banned"))]


def ban_out(row: BanRow) -> BanOut:
    return BanOut(
        as_=row.kind,
        who=row.who,
        by=row.by,
        reason=row.reason,
        at=common.iso(row.at.timestamp()),
        until=common.iso(row.until.timestamp()) if row.until is not None else "infinity",
    )


def new_ban(body: BanIn) -> banned.NewBan:
    """`until` "infinity" (as this API lists a ban without end) bans forever.

    Raises: BadRequest naming `at` or `until` when it is not a time between 1970 and 9999.
    """
    forever = body.until == "infinity"
    return banned.NewBan(
        kind=body.as_,
        who=body.who,
        reason=body.reason,
        by=body.by,
        at=None if body.at is None else common.to_datetime(body.at, "at"),
        until=None if body.until is None or forever else common.to_datetime(body.until, "until"),
        forever=forever,
    )


@router.get("/banned")
async def list_banned(target: Banned, request: Request) -> JSONResponse:
    page, limit = common.paging(request.query_params, 100)
    rows, total = await banned.page(target, page=page, limit=limit)
    return schemas.v5_page(map(ban_out, rows), schemas.meta(page, limit, total))


@router.post("/banned")
async def create_ban(body: BanIn, target: Banned) -> JSONResponse:
    """200 with the entry; 400 for a bad `as`; 409 ALREADY_EXISTS. Banned clients are kicked."""
    return JSONResponse(ban_out(await banned.create(target, new_ban(body))).dump())


@router.delete("/banned/{kind}/{who}", status_code=204)
async def delete_ban(kind: str, who: str, target: Banned) -> Response:
    await banned.delete(target, kind=kind, who=who)
    return Response(status_code=204)
