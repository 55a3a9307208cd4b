"""v4 presenter of the authentication users: `/auth_username` and `/auth_clientid` (spec §2.3.1)."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from mqttcloud.control.deployment_api import common, schemas
from mqttcloud.control.deployment_api.authn import service as authn
from mqttcloud.control.deployment_api.authn.schemas import ClientidIn, PasswordIn, UsernameIn
from mqttcloud.control.deployment_api.errors import V4Route
from mqttcloud.control.deployment_api.target import Target, target_dep
from mqttcloud.control.errors import NotFound

router = APIRouter(route_class=V4Route)
Authn = Annotated[Target, Depends(target_dep("authentication"))]


async def _existing(target: Target, kind: authn.Kind, user_id: str) -> None:
    """v4 answers an unknown user with its own code (105, `USER_NOT_FOUND`). Raises: NotFound."""
    try:
        await authn.get(target, kind=kind, user_id=user_id)
    except NotFound:
        raise NotFound("User not found", code="USER_NOT_FOUND", field="user_id") from None


def _routes(kind: authn.Kind, path: str, model: type[UsernameIn] | type[ClientidIn]) -> None:
    async def list_users(target: Authn, request: Request) -> JSONResponse:
        page, limit = common.paging(request.query_params, 10)
        rows, total = await authn.page(target, kind=kind, page=page, limit=limit)
        return schemas.v4_page([{kind: r.user_id} for r in rows], page, limit, total)

    async def get_user(user_id: str, target: Authn) -> JSONResponse:
        await _existing(target, kind, user_id)
        return schemas.v4_data({kind: user_id})

    async def create_users(body: Annotated[Any, Body()], target: Authn) -> JSONResponse:
        """Object body: create one (`{"code": 0}`); array body: batch (`{"data": {id: "ok"}, "code": 0}`)."""
        users = [
            authn.NewUser(
                user_id=i.username if isinstance(i, UsernameIn) else i.clientid, password=i.password
            )
            for i in schemas.one_or_many(model, body)
        ]
        if isinstance(body, list):
            return schemas.v4_data(await authn.create_many(target, kind=kind, users=users))
        await authn.create(target, kind=kind, user=users[0])
        return schemas.v4_ok()

    async def update_user(user_id: str, body: PasswordIn, target: Authn) -> JSONResponse:
        await _existing(target, kind, user_id)
        await authn.update(target, kind=kind, user_id=user_id, password=body.password)
        return schemas.v4_ok()

    async def delete_user(user_id: str, target: Authn) -> JSONResponse:
        await _existing(target, kind, user_id)
        await authn.delete(target, kind=kind, user_id=user_id)
        return schemas.v4_ok()

    router.add_api_route(path, list_users, methods=["GET"], name=f"v4_list_{kind}")
    router.add_api_route(path, create_users, methods=["POST"], name=f"v4_create_{kind}")
    router.add_api_route(f"{path}/{{user_id}}", get_user, methods=["GET"], name=f"v4_get_{kind}")
    router.add_api_route(f"{path}/{{user_id}}", update_user, methods=["PUT"], name=f"v4_update_{kind}")
    router.add_api_route(f"{path}/{{user_id}}", delete_user, methods=["DELETE"], name=f"v4_delete_{kind}")


_routes("username", "/auth_username", UsernameIn)
_routes("clientid", "/auth_clientid", ClientidIn)
