"""The v4 shape of the Deployment API at `/api` (spec §2.3, rows 1-39 of §2.3.0; EMQX 4 conventions).

Every answer is an object with an integer `code` (0 = success); pages are
`{"meta": {"page", "limit", "count"[, "hasnext"]}, "data": [...], "code": 0}`. Errors carry the v4 result
code and a `message`, with the HTTP status of the v5 shape (choice for spec §5 item 12, see `errors.py`);
`V4Route` renders them, so the control plane's v5-style handler never sees a v4 route's error. Batch
operations answer 200 / `code` 0 with a per-item `code` (112: client not online).
"""

import asyncio
import datetime as dt
from collections.abc import Coroutine, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from mqttcloud.contracts import TenantId
from mqttcloud.control.broker_client import BrokerError, BrokerUnavailable
from mqttcloud.control.db import SessionDep
from mqttcloud.control.deployment_api import common, live
from mqttcloud.control.deployment_api.acl import service as acl
from mqttcloud.control.deployment_api.acl.models import AclRuleRow
from mqttcloud.control.deployment_api.auth import DeploymentContext, deployment_access, quotas_of
from mqttcloud.control.deployment_api.authn import service as authn
from mqttcloud.control.deployment_api.banned import service as banned
from mqttcloud.control.deployment_api.banned.models import BanRow
from mqttcloud.control.deployment_api.errors import (
    V4_CLIENT_NOT_ONLINE,
    V4_SUCCESS,
    ServiceUnavailable,
    V4Route,
    v4_code,
)
from mqttcloud.control.deployment_api.quotas import Quotas
from mqttcloud.control.deployment_api.schemas import (
    AclIn,
    ClientidIn,
    MqttPublishIn,
    MqttSubscribeIn,
    PasswordIn,
    UsernameIn,
)
from mqttcloud.control.deps import RuntimeDep
from mqttcloud.control.errors import BadRequest, Invalid, NotFound

OK: dict[str, Any] = {"code": V4_SUCCESS}


router = APIRouter(tags=["deployment API v4"], route_class=V4Route)

Authn = Annotated[DeploymentContext, Depends(deployment_access("authentication"))]
Authz = Annotated[DeploymentContext, Depends(deployment_access("authorization"))]
Clients = Annotated[DeploymentContext, Depends(deployment_access("clients"))]
Banned = Annotated[DeploymentContext, Depends(deployment_access("banned"))]
Subscriptions = Annotated[DeploymentContext, Depends(deployment_access("subscriptions"))]
Publish = Annotated[DeploymentContext, Depends(deployment_access("publish"))]
Metrics = Annotated[DeploymentContext, Depends(deployment_access("metrics"))]
QuotasDep = Annotated[Quotas, Depends(quotas_of)]


ModelT = TypeVar("ModelT", bound=BaseModel)


def _items(model: type[ModelT], body: object) -> list[ModelT]:
    """Validate an object or array body item by item. Raises: RequestValidationError (→ 422)."""
    try:
        return [model.model_validate(i) for i in (body if isinstance(body, list) else [body])]
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


def _page(data: list[Any], page: int, limit: int, count: int, *, hasnext: bool | None = None) -> JSONResponse:
    meta: dict[str, Any] = {"page": page, "limit": limit, "count": count}
    if hasnext is not None:
        meta["hasnext"] = hasnext
    return JSONResponse({"meta": meta, "data": data, "code": V4_SUCCESS})


# ------------------------------------------------------------------- rows 1-12: auth_username / auth_clientid


def _auth_routes(kind: authn.Kind, path: str, model: type[UsernameIn] | type[ClientidIn]) -> None:
    key = kind  # the body / response field: "username" or "clientid"

    async def list_users(ctx: Authn, request: Request, session: SessionDep) -> JSONResponse:
        page, limit = common.paging(request.query_params, 10)
        rows, total = await asyncio.to_thread(
            authn.page, session, deployment_id=ctx.deployment_id, kind=kind, page=page, limit=limit
        )
        return _page([{key: r.user_id} for r in rows], page, limit, total)

    async def get_user(user_id: str, ctx: Authn, session: SessionDep) -> JSONResponse:
        row = await asyncio.to_thread(
            authn.find, session, deployment_id=ctx.deployment_id, kind=kind, user_id=user_id
        )
        if row is None:
            raise NotFound("User not found", code="USER_NOT_FOUND")
        return JSONResponse({"data": {key: row.user_id}, "code": V4_SUCCESS})

    async def create_users(
        *,
        body: Annotated[Any, Body()],
        ctx: Authn,
        session: SessionDep,
        runtime: RuntimeDep,
        quotas: QuotasDep,
    ) -> JSONResponse:
        """Object body: create one (`{"code": 0}`); array body: batch (`{"data": {id: "ok"}, "code": 0}`)."""
        items = _items(model, body)
        users = [authn.NewUser(user_id=getattr(i, key), password=i.password) for i in items]
        limit = quotas.auth_entries(serverless=ctx.serverless, connections=ctx.connections)
        if isinstance(body, list):
            results = await asyncio.to_thread(
                authn.create_many,
                session,
                deployment_id=ctx.deployment_id,
                kind=kind,
                users=users,
                max_entries=limit,
            )
            await live.push(runtime, ctx)
            return JSONResponse({"data": results, "code": V4_SUCCESS})
        await asyncio.to_thread(
            authn.create,
            session,
            deployment_id=ctx.deployment_id,
            kind=kind,
            user=users[0],
            max_entries=limit,
        )
        await live.push(runtime, ctx)
        return JSONResponse(OK)

    async def update_user(
        user_id: str, body: PasswordIn, ctx: Authn, session: SessionDep, runtime: RuntimeDep
    ) -> JSONResponse:
        if (
            await asyncio.to_thread(
                authn.find, session, deployment_id=ctx.deployment_id, kind=kind, user_id=user_id
            )
            is None
        ):
            raise NotFound("User not found", code="USER_NOT_FOUND")
        await asyncio.to_thread(
            authn.update,
            session,
            deployment_id=ctx.deployment_id,
            kind=kind,
            user_id=user_id,
            password=body.password,
        )
        await live.push(runtime, ctx)
        return JSONResponse(OK)

    async def delete_user(user_id: str, ctx: Authn, session: SessionDep, runtime: RuntimeDep) -> JSONResponse:
        if (
            await asyncio.to_thread(
                authn.find, session, deployment_id=ctx.deployment_id, kind=kind, user_id=user_id
            )
            is None
        ):
            raise NotFound("User not found", code="USER_NOT_FOUND")
        await asyncio.to_thread(
            authn.delete, session, deployment_id=ctx.deployment_id, kind=kind, user_id=user_id
        )
        await live.push(runtime, ctx)
        return JSONResponse(OK)

    router.add_api_route(path, list_users, methods=["GET"], name=f"v4_list_{kind}")
    router.add_api_route(path, create_users, methods=["POST"], name=f"v4_create_{kind}")
    router.add_api_route(f"{path}/{{user_id}}", get_user, methods=["GET"], name=f"v4_get_{kind}")
    router.add_api_route(f"{path}/{{user_id}}", update_user, methods=["PUT"], name=f"v4_update_{kind}")
    router.add_api_route(f"{path}/{{user_id}}", delete_user, methods=["DELETE"], name=f"v4_delete_{kind}")


_auth_routes("username", "/auth_username", UsernameIn)
_auth_routes("clientid", "/auth_clientid", ClientidIn)


# ---------------------------------------------------------------------------------- rows 13-24: ACL

_V4_ACTIONS = {"publish": "pub", "subscribe": "sub", "all": "pubsub"}


def _acl_target(item: AclIn) -> tuple[acl.TargetKind, str]:
    if item.clientid and item.username:
        raise BadRequest("a rule has a clientid or a username, not both", code="BAD_REQUEST")
    if item.clientid:
        return "clientid", item.clientid
    if item.username:
        return "username", item.username
    return "all", ""


def _acl_item(kind: str, target: str, topic: str, action: str, access: str) -> dict[str, Any]:
    item: dict[str, Any] = {"topic": topic, "action": action, "access": access}
    if kind == "all":
        item["all"] = "$all"
    else:
        item[kind] = target
    return item


def _acl_row(row: AclRuleRow) -> dict[str, Any]:
    return _acl_item(
        row.target_kind, row.target, row.topic, _V4_ACTIONS.get(row.action, row.action), row.permission
    )


@router.post("/acl")
async def create_acl(
    *, body: Annotated[Any, Body()], ctx: Authz, session: SessionDep, runtime: RuntimeDep, quotas: QuotasDep
) -> JSONResponse:
    """Object: one rule → `{"data": {rule, "result": "ok"}}`; array: `{"data": [...]}` in request order."""
    items = _items(AclIn, body)
    parsed = [(_acl_target(i), acl.parse_rule(i.topic, i.action, i.access), i) for i in items]

    def write() -> None:
        for (kind, target), rule, _item in parsed:
            acl.add_rule(
                session,
                deployment_id=ctx.deployment_id,
                kind=kind,
                target=target,
                rule=rule,
                max_entries=quotas.acl_entries(serverless=ctx.serverless, connections=ctx.connections),
                max_per_target=quotas.max_rules_per_target,
            )

    await asyncio.to_thread(write)
    await live.push(runtime, ctx)
    data = [
        {**_acl_item(kind, target, i.topic, i.action, i.access), "result": "ok"}
        for (kind, target), _rule, i in parsed
    ]
    return JSONResponse({"data": data if isinstance(body, list) else data[0], "code": V4_SUCCESS})


def _acl_kind(kind: str) -> acl.TargetKind:
    if kind == "clientid":
        return "clientid"
    if kind == "username":
        return "username"
    if kind == "$all":
        return "all"
    raise NotFound("Path not found", code="NOT_FOUND")


@router.get("/acl/{kind}")
async def list_acl(kind: str, ctx: Authz, request: Request, session: SessionDep) -> JSONResponse:
    """`/acl/clientid`, `/acl/username`, `/acl/$all`: paged single rules."""
    target_kind = _acl_kind(kind)
    page, limit = common.paging(request.query_params, 10)
    rows, total = await asyncio.to_thread(
        acl.rules_page, session, deployment_id=ctx.deployment_id, kind=target_kind, page=page, limit=limit
    )
    return _page([_acl_row(r) for r in rows], page, limit, total)


@router.get("/acl/{kind}/{target}")
async def get_acl(kind: str, target: str, ctx: Authz, session: SessionDep) -> JSONResponse:
    target_kind = _acl_kind(kind)
    if target_kind == "all":
        raise NotFound("Path not found", code="NOT_FOUND")
    rows = await asyncio.to_thread(
        acl.rules_of, session, deployment_id=ctx.deployment_id, kind=target_kind, target=target
    )
    return JSONResponse({"data": [_acl_row(r) for r in rows], "code": V4_SUCCESS})


@router.delete("/acl/$all/topic/{topic:path}")
async def delete_all_acl(topic: str, ctx: Authz, session: SessionDep, runtime: RuntimeDep) -> JSONResponse:
    await asyncio.to_thread(
        acl.delete_rule, session, deployment_id=ctx.deployment_id, kind="all", target="", topic=topic
    )
    await live.push(runtime, ctx)
    return JSONResponse(OK)


@router.delete("/acl/{kind}/{target}/topic/{topic:path}")
async def delete_acl(
    *, kind: str, target: str, topic: str, ctx: Authz, session: SessionDep, runtime: RuntimeDep
) -> JSONResponse:
    """`{topic}` arrives URL-decoded (`topic%2fA` → `topic/A`)."""
    target_kind = _acl_kind(kind)
    await asyncio.to_thread(
        acl.delete_rule,
        session,
        deployment_id=ctx.deployment_id,
        kind=target_kind,
        target=target,
        topic=topic,
    )
    await live.push(runtime, ctx)
    return JSONResponse(OK)


# ------------------------------------------------------------------------------ rows 25-27: clients


@router.get("/clients")
async def list_clients(ctx: Clients, request: Request, runtime: RuntimeDep) -> JSONResponse:
    page, limit = common.paging(request.query_params, 10_000)
    filters = common.client_filter(request.query_params)
    client = live.client_for(runtime, ctx)
    if filters is None:
        return _page([], page, limit, 0, hasnext=False)
    result = await live.call(client.list_clients_raw(ctx_tenant(ctx), filters, page, limit))
    rows = [common.client_v4_raw(raw) for raw in result["data"]]
    return _page(rows, page, limit, result["count"], hasnext=bool(result.get("hasnext")))


def ctx_tenant(ctx: DeploymentContext) -> TenantId:
    return TenantId(ctx.deployment_id)


@router.get("/clients/{clientid}")
async def get_client(clientid: str, ctx: Clients, runtime: RuntimeDep) -> JSONResponse:
    """`{"data": [client], "code": 0}`: an array with one element, as documented."""
    info = await live.call(live.client_for(runtime, ctx).get_client(ctx_tenant(ctx), clientid))
    return JSONResponse({"data": [common.client_v4(info)], "code": V4_SUCCESS})


@router.delete("/clients/{clientid}")
async def kick_client(clientid: str, ctx: Clients, runtime: RuntimeDep) -> JSONResponse:
    await live.call(live.client_for(runtime, ctx).kick(ctx_tenant(ctx), clientid))
    return JSONResponse(OK)


# ------------------------------------------------------------------------------- rows 28-30: banned


def _ban(row: BanRow) -> dict[str, Any]:
    return {
        "who": row.who,
        "as": row.kind,
        "reason": row.reason,
        "by": row.by,
        "at": int(row.at.timestamp()),
        "until": int(row.until.timestamp()) if row.until is not None else None,
    }


@router.get("/banned")
async def list_banned(ctx: Banned, request: Request, session: SessionDep) -> JSONResponse:
    page, limit = common.paging(request.query_params, 10)
    rows, total = await asyncio.to_thread(
        banned.page,
        session,
        deployment_id=ctx.deployment_id,
        page=page,
        limit=limit,
        now=dt.datetime.now(dt.UTC),
    )
    return _page([_ban(r) for r in rows], page, limit, total)


@router.post("/banned")
async def create_ban(
    body: Annotated[dict[str, Any], Body()], ctx: Banned, session: SessionDep, runtime: RuntimeDep
) -> JSONResponse:
    """`who`, `as`, `reason` required; `by` "user", `at` now, `until` now + 300 s (Unix seconds)."""
    missing = [name for name in ("who", "as", "reason") if name not in body]
    if missing:
        raise Invalid(f"missing {', '.join(missing)}", code="MISSING_PARAMETER")

    def moment(name: str) -> dt.datetime | None:
        value = body.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise BadRequest(f"{name} must be a Unix time in seconds", code="BAD_REQUEST")
        return dt.datetime.fromtimestamp(common.parse_time(value, name), dt.UTC)

    ban = banned.NewBan(
        kind=str(body["as"]),
        who=str(body["who"]),
        reason=str(body["reason"]),
        by=str(body.get("by") or "user"),
        at=moment("at"),
        until=moment("until"),
    )
    row = await asyncio.to_thread(
        banned.create, session, deployment_id=ctx.deployment_id, ban=ban, now=dt.datetime.now(dt.UTC)
    )
    await live.push(runtime, ctx)
    return JSONResponse({"code": V4_SUCCESS, "data": _ban(row)})


@router.delete("/banned/{kind}/{who}")
async def delete_ban(
    kind: str, who: str, ctx: Banned, session: SessionDep, runtime: RuntimeDep
) -> JSONResponse:
    await asyncio.to_thread(banned.delete, session, deployment_id=ctx.deployment_id, kind=kind, who=who)
    await live.push(runtime, ctx)
    return JSONResponse(OK)


# ------------------------------------------------------------------------ rows 31-32: subscriptions


@router.get("/subscriptions")
async def list_subscriptions(ctx: Subscriptions, request: Request, runtime: RuntimeDep) -> JSONResponse:
    page, limit = common.paging(request.query_params, 10_000)
    client = live.client_for(runtime, ctx)
    filters = common.subscription_filter(request.query_params)
    result = await live.call(client.list_subscriptions(ctx_tenant(ctx), filters, page, limit))
    return _page(
        [common.subscription_v4(s) for s in result.data], page, limit, result.count, hasnext=result.hasnext
    )


@router.get("/subscriptions/{clientid}")
async def client_subscriptions(clientid: str, ctx: Subscriptions, runtime: RuntimeDep) -> JSONResponse:
    result = await live.call(live.client_for(runtime, ctx).client_subscriptions(ctx_tenant(ctx), clientid))
    return JSONResponse({"data": [common.subscription_v4(s) for s in result.data], "code": V4_SUCCESS})


# ---------------------------------------------------------------------- rows 33-38: mqtt/subscribe, publish


def _topics(topic: str | None, topics: str | None) -> list[str]:
    names = [t.strip() for t in (topics or "").split(",") if t.strip()]
    if topic:
        names.insert(0, topic)
    if not names:
        raise Invalid("topic or topics is required", code="MISSING_PARAMETER")
    return names


async def _item_code(call: Coroutine[Any, Any, object]) -> int:
    """Per-item result code of a batch: 0, or the v4 code of the error (112: client not online)."""
    try:
        await call
    except BrokerUnavailable as exc:
        raise ServiceUnavailable(f"Deployment is not reachable: {exc}", code="SERVICE_UNAVAILABLE") from None
    except BrokerError as exc:
        error = live.api_error(exc)
        return v4_code(error.status_code, error.code)
    return V4_SUCCESS


async def _subscribe_all(
    ctx: DeploymentContext, runtime: Any, item: MqttSubscribeIn, *, subscribe: bool
) -> int:
    client = live.client_for(runtime, ctx)
    code = V4_SUCCESS
    for topic in _topics(item.topic, item.topics):
        call: Coroutine[Any, Any, object]
        if subscribe:
            call = client.subscribe(ctx_tenant(ctx), item.clientid, topic, qos=item.qos)
        else:
            call = live.unsubscribe(client, ctx_tenant(ctx), item.clientid, topic)
        code = await _item_code(call) or code
    return code


def _raise_for(code: int) -> None:
    if code == V4_CLIENT_NOT_ONLINE:
        raise NotFound("Client not online", code="CLIENTID_NOT_FOUND")
    if code != V4_SUCCESS:
        raise BadRequest("Illegal topic or parameters", code="BAD_TOPIC")


@router.post("/mqtt/subscribe")
async def mqtt_subscribe(body: MqttSubscribeIn, ctx: Clients, runtime: RuntimeDep) -> JSONResponse:
    _raise_for(await _subscribe_all(ctx, runtime, body, subscribe=True))
    return JSONResponse(OK)


@router.post("/mqtt/unsubscribe")
async def mqtt_unsubscribe(body: MqttSubscribeIn, ctx: Clients, runtime: RuntimeDep) -> JSONResponse:
    _raise_for(await _subscribe_all(ctx, runtime, body, subscribe=False))
    return JSONResponse(OK)


async def _batch(
    ctx: DeploymentContext, runtime: Any, body: Sequence[MqttSubscribeIn], *, subscribe: bool
) -> JSONResponse:
    data = []
    for item in body:
        code = await _subscribe_all(ctx, runtime, item, subscribe=subscribe)
        data.append({"clientid": item.clientid, "topic": item.topic or item.topics, "code": code})
    return JSONResponse({"data": data, "code": V4_SUCCESS})


@router.post("/mqtt/subscribe_batch")
async def mqtt_subscribe_batch(
    body: Annotated[list[MqttSubscribeIn], Body()], ctx: Clients, runtime: RuntimeDep
) -> JSONResponse:
    return await _batch(ctx, runtime, body, subscribe=True)


@router.post("/mqtt/unsubscribe_batch")
async def mqtt_unsubscribe_batch(
    body: Annotated[list[MqttSubscribeIn], Body()], ctx: Clients, runtime: RuntimeDep
) -> JSONResponse:
    return await _batch(ctx, runtime, body, subscribe=False)


async def _publish(ctx: DeploymentContext, runtime: Any, item: MqttPublishIn) -> int:
    client = live.client_for(runtime, ctx)
    code = V4_SUCCESS
    for topic in _topics(item.topic, item.topics):
        args = common.publish_args(
            ctx.deployment_id,
            topic=topic,
            payload=item.payload,
            encoding=item.encoding,
            qos=item.qos,
            retain=item.retain,
            clientid=item.clientid,
        )
        code = await _item_code(client.publish(args)) or code
    return code


@router.post("/mqtt/publish")
async def mqtt_publish(body: MqttPublishIn, ctx: Publish, runtime: RuntimeDep) -> JSONResponse:
    """`{"code": 0}` whether or not anyone is subscribed (EMQX 4 behaviour)."""
    code = await _publish(ctx, runtime, body)
    if code != V4_SUCCESS:
        raise BadRequest("Illegal topic or parameters", code="BAD_TOPIC")
    return JSONResponse(OK)


@router.post("/mqtt/publish_batch")
async def mqtt_publish_batch(
    body: Annotated[list[MqttPublishIn], Body()], ctx: Publish, runtime: RuntimeDep
) -> JSONResponse:
    data = [{"topic": item.topic or item.topics, "code": await _publish(ctx, runtime, item)} for item in body]
    return JSONResponse({"data": data, "code": V4_SUCCESS})


# ------------------------------------------------------------------------------------ row 39: metrics


@router.get("/metrics")
async def metrics(ctx: Metrics, runtime: RuntimeDep) -> JSONResponse:
    """`{"data": [{"node", "metrics": {...}}], "code": 0}`: one element per node (we run one)."""
    values = (await live.call(live.client_for(runtime, ctx).metrics(ctx_tenant(ctx)))).values
    return JSONResponse(
        {"data": [{"node": ctx.node, "metrics": common.v4_metrics(values)}], "code": V4_SUCCESS}
    )


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False)
async def not_found(path: str) -> Response:
    raise NotFound("Path not found", code="NOT_FOUND")
