"""v5 presenter of the authentication users: `/authentication/password_based:built_in_database/users`."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse

from mqttcloud.control.deployment_api import common, schemas
from mqttcloud.control.deployment_api.authn import service as authn
from mqttcloud.control.deployment_api.authn.models import DeploymentUser
from mqttcloud.control.deployment_api.authn.schemas import ImportUser, UserIn, UserOut, UserUpdate
from mqttcloud.control.deployment_api.target import Target, target_dep
from mqttcloud.control.errors import BadRequest

router = APIRouter()
Authn = Annotated[Target, Depends(target_dep("authentication"))]
USERS = "/authentication/password_based:built_in_database/users"


def _user(row: DeploymentUser) -> UserOut:
    return UserOut(user_id=row.user_id, is_superuser=row.is_superuser)


@router.get(USERS)
async def list_users(target: Authn, request: Request) -> JSONResponse:
    """Paged; `like_user_id` (substring) and `is_superuser` filters."""
    page, limit = common.paging(request.query_params, 100)
    rows, total = await authn.page(
        target,
        kind="username",
        page=page,
        limit=limit,
        like=common.param(request.query_params, "like_user_id") or None,
        is_superuser=common.bool_param(request.query_params, "is_superuser"),
    )
    return schemas.v5_page(map(_user, rows), schemas.meta(page, limit, total))


@router.get(USERS + "/{user_id}")
async def get_user(user_id: str, target: Authn) -> JSONResponse:
    row = await authn.get(target, kind="username", user_id=user_id)
    return JSONResponse({"data": _user(row).dump()})


@router.post(USERS, status_code=201)
async def create_user(body: UserIn, target: Authn) -> JSONResponse:
    """201 `{"user_id", "is_superuser"}`; 409 ALREADY_EXISTS; 422 QUOTA_EXCEEDED."""
    user = authn.NewUser(user_id=body.user_id, password=body.password, is_superuser=body.is_superuser)
    row = await authn.create(target, kind="username", user=user)
    return JSONResponse(_user(row).dump(), status_code=201)


@router.post("/authentication/password_based:built_in_database/import_users", status_code=204)
async def import_users(
    body: Annotated[list[ImportUser], Body()], target: Authn, request: Request
) -> Response:
    """`?type=plain` (clear passwords, hashed here) or `?type=hash` (`password_hash` + `salt`, sha256 with
    the salt as prefix, EMQX's default). Existing users are kept. 204."""
    kind = request.query_params.get("type", "plain")
    if kind not in {"plain", "hash"}:
        raise BadRequest("type must be plain or hash", code="BAD_REQUEST", field="type")
    users = []
    for item in body:
        if kind == "plain" and not item.password:
            raise BadRequest(
                f"user {item.user_id}: password is required", code="BAD_REQUEST", field="password"
            )
        if kind == "hash" and not item.password_hash:
            raise BadRequest(
                f"user {item.user_id}: password_hash is required", code="BAD_REQUEST", field="password_hash"
            )
        users.append(
            authn.NewUser(
                user_id=item.user_id,
                password=item.password if kind == "plain" else None,
                password_hash=item.password_hash if kind == "hash" else None,
                salt=item.salt,
                is_superuser=item.is_superuser,
            )
        )
    await authn.create_many(target, kind="username", users=users)
    return Response(status_code=204)


@router.put(USERS + "/{user_id}", status_code=204)
async def update_user(user_id: str, body: UserUpdate, target: Authn) -> Response:
    """204 (spec §5 item 16: the docs also print a body; EMQX 5 answers 200 with it — we follow the
    documented status)."""
    await authn.update(
        target, kind="username", user_id=user_id, password=body.password, is_superuser=body.is_superuser
    )
    return Response(status_code=204)


@router.delete(USERS + "/{user_id}", status_code=204)
async def delete_user(user_id: str, target: Authn) -> Response:
    await authn.delete(target, kind="username", user_id=user_id)
    return Response(status_code=204)
