"""The v5 shape of the Deployment API at `/api/v5` (spec §2.2, §2.4; EMQX 5 conventions).

Success is the HTTP status (200/201/202/204) with bare objects or `{"data", "meta"}` pages, no `code`;
errors are `{"code": "UPPER_SNAKE", "message"}` from the control plane's one handler. Live endpoints
(clients, subscriptions, publish, metrics, stats) answer 503 SERVICE_UNAVAILABLE while the deployment is
stopped; users, ACL rules and bans are stored data, editable at any time and pushed to the running broker
after each write.
"""

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic_core import to_json
from sqlalchemy.orm import Session

from mqttcloud.contracts import SubscriptionFilter, TenantId
from mqttcloud.control.db import SessionDep
from mqttcloud.control.deployment_api import common, live
from mqttcloud.control.deployment_api.acl import service as acl
from mqttcloud.control.deployment_api.acl.models import AclRuleRow
from mqttcloud.control.deployment_api.auth import DeploymentContext, deployment_access, quotas_of
from mqttcloud.control.deployment_api.authn import service as authn
from mqttcloud.control.deployment_api.authn.models import DeploymentUser
from mqttcloud.control.deployment_api.banned import service as banned
from mqttcloud.control.deployment_api.banned.models import BanRow
from mqttcloud.control.deployment_api.quotas import Quotas
from mqttcloud.control.deployment_api.schemas import (
    AllRulesIn,
    BanIn,
    ClientRulesIn,
    ImportUser,
    PublishIn,
    RuleIn,
    SubscribeIn,
    TopicIn,
    UserIn,
    UserRulesIn,
    UserUpdate,
)
from mqttcloud.control.deps import RuntimeDep
from mqttcloud.control.errors import BadRequest, NotFound

router = APIRouter(tags=["deployment API v5"])

Clients = Annotated[DeploymentContext, Depends(deployment_access("clients"))]
Subscriptions = Annotated[DeploymentContext, Depends(deployment_access("subscriptions"))]
Publish = Annotated[DeploymentContext, Depends(deployment_access("publish"))]
Authn = Annotated[DeploymentContext, Depends(deployment_access("authentication"))]
Authz = Annotated[DeploymentContext, Depends(deployment_access("authorization"))]
Banned = Annotated[DeploymentContext, Depends(deployment_access("banned"))]
Metrics = Annotated[DeploymentContext, Depends(deployment_access("metrics"))]
QuotasDep = Annotated[Quotas, Depends(quotas_of)]

NO_SUBSCRIBERS = {"message": "no_matching_subscribers", "reason_code": 16}
_AUTHN = "/authentication/password_based:built_in_database"
_RULES = "/authorization/sources/built_in_database/rules"


def _tenant(ctx: DeploymentContext) -> TenantId:
    return TenantId(ctx.deployment_id)


def _no_content() -> Response:
    return Response(status_code=204)


# ------------------------------------------------------------------------------------ publish


async def _publish(ctx: DeploymentContext, runtime: Any, item: PublishIn) -> tuple[bool, dict[str, Any]]:
    args = common.publish_args(
        ctx.deployment_id,
        topic=item.topic,
        payload=item.payload,
        encoding=item.payload_encoding,
        qos=item.qos,
        retain=item.retain,
        clientid=item.clientid,
        properties=item.properties,
    )
    result = await live.call(live.client_for(runtime, ctx).publish(args))
    if result.matched == 0:
        return False, {"id": result.id, **NO_SUBSCRIBERS}
    return True, {"id": result.id}


@router.post("/publish")
async def publish(body: PublishIn, ctx: Publish, runtime: RuntimeDep) -> JSONResponse:
    """200 `{"id"}`, or 202 `no_matching_subscribers` (reason code 16) when nobody is subscribed."""
    matched, answer = await _publish(ctx, runtime, body)
    if not matched:
        return JSONResponse(NO_SUBSCRIBERS, status_code=202)
    return JSONResponse(answer)


@router.post("/publish/bulk")
async def publish_bulk(
    body: Annotated[list[PublishIn], Body()], ctx: Publish, runtime: RuntimeDep
) -> JSONResponse:
    """200 with one `{"id"}` per message in request order (an unmatched one also carries the 202 body);
    202 `no_matching_subscribers` when no message matched anyone."""
    if not body:
        raise BadRequest("empty message list", code="BAD_REQUEST")
    answers = [await _publish(ctx, runtime, item) for item in body]
    if not any(matched for matched, _ in answers):
        return JSONResponse(NO_SUBSCRIBERS, status_code=202)
    return JSONResponse([answer for _, answer in answers])


# ------------------------------------------------------------------------------------ clients


@router.get("/clients")
async def list_clients(ctx: Clients, request: Request, runtime: RuntimeDep) -> Response:
    """Connected clients with every §2.2.1 filter; `page`/`limit` or `_page`/`_limit`."""
    page, limit = common.paging(request.query_params, 100)
    filters = common.client_filter(request.query_params)
    client = live.client_for(runtime, ctx)
    if filters is None:
        return JSONResponse({"meta": common.meta(page, limit, 0), "data": []})
    result = await live.call(client.list_clients_raw(_tenant(ctx), filters, page, limit))
    body = {
        "meta": common.meta(page, limit, result["count"], hasnext=bool(result.get("hasnext"))),
        "data": [common.client_v5_raw(raw) for raw in result["data"]],
    }
    # Encoded by pydantic-core: ~4x cheaper than JSONResponse's json.dumps for a page of clients.
    return Response(to_json(body), media_type="application/json")


@router.get("/clients/{clientid}")
async def get_client(clientid: str, ctx: Clients, runtime: RuntimeDep) -> JSONResponse:
    """One client as a bare object (the en example; spec §5 item 14)."""
    client = live.client_for(runtime, ctx)
    return JSONResponse(common.client_v5(await live.call(client.get_client(_tenant(ctx), clientid))))


@router.delete("/clients/{clientid}", status_code=204)
async def kick_client(clientid: str, ctx: Clients, runtime: RuntimeDep) -> Response:
    """Kick: ends the connection and the session (204)."""
    await live.call(live.client_for(runtime, ctx).kick(_tenant(ctx), clientid))
    return _no_content()


@router.get("/clients/{clientid}/subscriptions")
async def client_subscriptions(clientid: str, ctx: Clients, runtime: RuntimeDep) -> JSONResponse:
    client = live.client_for(runtime, ctx)
    result = await live.call(client.client_subscriptions(_tenant(ctx), clientid))
    return JSONResponse({"data": [common.subscription_v5(s) for s in result.data]})


async def _subscribe(
    ctx: DeploymentContext, runtime: Any, clientid: str, item: SubscribeIn
) -> dict[str, Any]:
    client = live.client_for(runtime, ctx)
    sub = await live.call(
        client.subscribe(
            _tenant(ctx), clientid, item.topic, qos=item.qos, nl=item.nl, rap=item.rap, rh=item.rh
        )
    )
    return {"clientid": clientid, **common.subscription_v5(sub)}


@router.post("/clients/{clientid}/subscribe")
async def subscribe(clientid: str, body: SubscribeIn, ctx: Clients, runtime: RuntimeDep) -> JSONResponse:
    return JSONResponse(await _subscribe(ctx, runtime, clientid, body))


@router.post("/clients/{clientid}/subscribe/bulk")
async def subscribe_bulk(
    clientid: str, body: Annotated[list[SubscribeIn], Body()], ctx: Clients, runtime: RuntimeDep
) -> JSONResponse:
    return JSONResponse({"data": [await _subscribe(ctx, runtime, clientid, item) for item in body]})


@router.post("/clients/{clientid}/unsubscribe", status_code=204)
async def unsubscribe(clientid: str, body: TopicIn, ctx: Clients, runtime: RuntimeDep) -> Response:
    await live.call(live.unsubscribe(live.client_for(runtime, ctx), _tenant(ctx), clientid, body.topic))
    return _no_content()


@router.post("/clients/{clientid}/unsubscribe/bulk", status_code=204)
async def unsubscribe_bulk(
    clientid: str, body: Annotated[list[TopicIn], Body()], ctx: Clients, runtime: RuntimeDep
) -> Response:
    client = live.client_for(runtime, ctx)
    for item in body:
        await live.call(live.unsubscribe(client, _tenant(ctx), clientid, item.topic))
    return _no_content()


# ------------------------------------------------------------------------------ subscriptions


@router.get("/subscriptions")
async def list_subscriptions(ctx: Subscriptions, request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Filters: `clientid`, `qos`, `share` (group), `topic`, `match_topic` / `_match_topic`."""
    page, limit = common.paging(request.query_params, 100)
    filters: SubscriptionFilter = common.subscription_filter(request.query_params)
    client = live.client_for(runtime, ctx)
    result = await live.call(client.list_subscriptions(_tenant(ctx), filters, page, limit))
    return JSONResponse(
        {
            "meta": common.meta(page, limit, result.count, hasnext=result.hasnext),
            "data": [common.subscription_v5(s) for s in result.data],
        }
    )


# ------------------------------------------------------------------------------ authentication


def _user(row: DeploymentUser) -> dict[str, Any]:
    return {"user_id": row.user_id, "is_superuser": row.is_superuser}


@router.get(f"{_AUTHN}/users")
async def list_users(ctx: Authn, request: Request, session: SessionDep) -> JSONResponse:
    """Paged; `like_user_id` (substring) and `is_superuser` filters."""
    page, limit = common.paging(request.query_params, 100)
    rows, total = await asyncio.to_thread(
        authn.page,
        session,
        deployment_id=ctx.deployment_id,
        kind="username",
        page=page,
        limit=limit,
        like=common.param(request.query_params, "like_user_id") or None,
        is_superuser=common.bool_param(request.query_params, "is_superuser"),
    )
    return JSONResponse({"data": [_user(r) for r in rows], "meta": common.meta(page, limit, total)})


@router.get(f"{_AUTHN}/users/{{user_id}}")
async def get_user(user_id: str, ctx: Authn, session: SessionDep) -> JSONResponse:
    row = await asyncio.to_thread(
        authn.get, session, deployment_id=ctx.deployment_id, kind="username", user_id=user_id
    )
    return JSONResponse({"data": _user(row)})


@router.post(f"{_AUTHN}/users", status_code=201)
async def create_user(
    *, body: UserIn, ctx: Authn, session: SessionDep, runtime: RuntimeDep, quotas: QuotasDep
) -> JSONResponse:
    """201 `{"user_id", "is_superuser"}`; 409 ALREADY_EXISTS; 422 QUOTA_EXCEEDED."""
    user = authn.NewUser(user_id=body.user_id, password=body.password, is_superuser=body.is_superuser)
    row = await asyncio.to_thread(
        authn.create,
        session,
        deployment_id=ctx.deployment_id,
        kind="username",
        user=user,
        max_entries=quotas.auth_entries(serverless=ctx.serverless, connections=ctx.connections),
    )
    await live.push(runtime, ctx)
    return JSONResponse(_user(row), status_code=201)


@router.post(f"{_AUTHN}/import_users", status_code=204)
async def import_users(
    *,
    body: Annotated[list[ImportUser], Body()],
    ctx: Authn,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    quotas: QuotasDep,
) -> Response:
    """`?type=plain` (clear passwords, hashed here) or `?type=hash` (`password_hash` + `salt`, sha256 with
    the salt as prefix, EMQX's default). Existing users are kept. 204."""
    kind = request.query_params.get("type", "plain")
    if kind not in {"plain", "hash"}:
        raise BadRequest("type must be plain or hash", code="BAD_REQUEST")
    users = []
    for item in body:
        if kind == "plain" and not item.password:
            raise BadRequest(f"user {item.user_id}: password is required", code="BAD_REQUEST")
        if kind == "hash" and not item.password_hash:
            raise BadRequest(f"user {item.user_id}: password_hash is required", code="BAD_REQUEST")
        users.append(
            authn.NewUser(
                user_id=item.user_id,
                password=item.password if kind == "plain" else None,
                password_hash=item.password_hash if kind == "hash" else None,
                salt=item.salt,
                is_superuser=item.is_superuser,
            )
        )
    await asyncio.to_thread(
        authn.create_many,
        session,
        deployment_id=ctx.deployment_id,
        kind="username",
        users=users,
        max_entries=quotas.auth_entries(serverless=ctx.serverless, connections=ctx.connections),
    )
    await live.push(runtime, ctx)
    return _no_content()


@router.put(f"{_AUTHN}/users/{{user_id}}", status_code=204)
async def update_user(
    user_id: str, body: UserUpdate, ctx: Authn, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """204 (spec §5 item 16: the docs also print a body; EMQX 5 answers 200 with it — we follow the
    documented status)."""
    await asyncio.to_thread(
        authn.update,
        session,
        deployment_id=ctx.deployment_id,
        kind="username",
        user_id=user_id,
        password=body.password,
        is_superuser=body.is_superuser,
    )
    await live.push(runtime, ctx)
    return _no_content()


@router.delete(f"{_AUTHN}/users/{{user_id}}", status_code=204)
async def delete_user(user_id: str, ctx: Authn, session: SessionDep, runtime: RuntimeDep) -> Response:
    await asyncio.to_thread(
        authn.delete, session, deployment_id=ctx.deployment_id, kind="username", user_id=user_id
    )
    await live.push(runtime, ctx)
    return _no_content()


# ------------------------------------------------------------------------------- authorization


def _rule(row: AclRuleRow) -> dict[str, Any]:
    return {"topic": row.topic, "action": row.action, "permission": row.permission}


def _rules(items: Sequence[RuleIn]) -> list[acl.Rule]:
    return [acl.parse_rule(r.topic, r.action, r.permission) for r in items]


async def _set_rules(
    ctx: DeploymentContext,
    *,
    session: Session,
    runtime: Any,
    quotas: Quotas,
    kind: acl.TargetKind,
    targets: Sequence[tuple[str, list[acl.Rule]]],
) -> None:
    def write() -> None:
        for target, rules in targets:
            acl.set_rules(
                session,
                deployment_id=ctx.deployment_id,
                kind=kind,
                target=target,
                rules=rules,
                max_entries=quotas.acl_entries(serverless=ctx.serverless, connections=ctx.connections),
                max_per_target=quotas.max_rules_per_target,
            )

    await asyncio.to_thread(write)
    await live.push(runtime, ctx)


@router.post(f"{_RULES}/clients", status_code=204)
async def create_client_rules(
    *,
    body: Annotated[ClientRulesIn | list[ClientRulesIn], Body()],
    ctx: Authz,
    session: SessionDep,
    runtime: RuntimeDep,
    quotas: QuotasDep,
) -> Response:
    """Object (docs) or array (EMQX 5) body, spec §5 item 15; sets each client's rules. 204."""
    items = body if isinstance(body, list) else [body]
    await _set_rules(
        ctx,
        session=session,
        runtime=runtime,
        quotas=quotas,
        kind="clientid",
        targets=[(i.clientid, _rules(i.rules)) for i in items],
    )
    return _no_content()


@router.post(f"{_RULES}/users", status_code=204)
async def create_user_rules(
    *,
    body: Annotated[UserRulesIn | list[UserRulesIn], Body()],
    ctx: Authz,
    session: SessionDep,
    runtime: RuntimeDep,
    quotas: QuotasDep,
) -> Response:
    items = body if isinstance(body, list) else [body]
    await _set_rules(
        ctx,
        session=session,
        runtime=runtime,
        quotas=quotas,
        kind="username",
        targets=[(i.username, _rules(i.rules)) for i in items],
    )
    return _no_content()


@router.post(f"{_RULES}/all", status_code=204)
async def set_all_rules(
    *, body: AllRulesIn, ctx: Authz, session: SessionDep, runtime: RuntimeDep, quotas: QuotasDep
) -> Response:
    await _set_rules(
        ctx, session=session, runtime=runtime, quotas=quotas, kind="all", targets=[("", _rules(body.rules))]
    )
    return _no_content()


async def _list_targets(
    ctx: DeploymentContext, request: Request, session: Session, kind: acl.TargetKind, key: str
) -> JSONResponse:
    page, limit = common.paging(request.query_params, 100)
    like = common.param(request.query_params, f"like_{key}") or None
    rows, total = await asyncio.to_thread(
        acl.targets_page,
        session,
        deployment_id=ctx.deployment_id,
        kind=kind,
        page=page,
        limit=limit,
        like=like,
    )
    meta = common.meta(page, limit, total)
    if like:
        del meta["count"]  # spec §4 item 17: count only without a fuzzy filter
    return JSONResponse(
        {"data": [{key: t, "rules": [_rule(r) for r in rules]} for t, rules in rows], "meta": meta}
    )


@router.get(f"{_RULES}/clients")
async def list_client_rules(ctx: Authz, request: Request, session: SessionDep) -> JSONResponse:
    return await _list_targets(ctx, request, session, "clientid", "clientid")


@router.get(f"{_RULES}/users")
async def list_user_rules(ctx: Authz, request: Request, session: SessionDep) -> JSONResponse:
    return await _list_targets(ctx, request, session, "username", "username")


@router.get(f"{_RULES}/all")
async def get_all_rules(ctx: Authz, session: SessionDep) -> JSONResponse:
    rows = await asyncio.to_thread(
        acl.rules_of, session, deployment_id=ctx.deployment_id, kind="all", target=""
    )
    return JSONResponse({"rules": [_rule(r) for r in rows]})


async def _target_rules(
    ctx: DeploymentContext, session: Session, kind: acl.TargetKind, target: str
) -> list[dict[str, Any]]:
    rows = await asyncio.to_thread(
        acl.rules_of, session, deployment_id=ctx.deployment_id, kind=kind, target=target
    )
    if not rows:
        raise NotFound("Not Found", code="NOT_FOUND")
    return [_rule(r) for r in rows]


@router.get(f"{_RULES}/clients/{{clientid}}")
async def get_client_rules(clientid: str, ctx: Authz, session: SessionDep) -> JSONResponse:
    return JSONResponse(
        {"clientid": clientid, "rules": await _target_rules(ctx, session, "clientid", clientid)}
    )


@router.get(f"{_RULES}/users/{{username}}")
async def get_user_rules(username: str, ctx: Authz, session: SessionDep) -> JSONResponse:
    return JSONResponse(
        {"username": username, "rules": await _target_rules(ctx, session, "username", username)}
    )


@router.put(f"{_RULES}/clients/{{clientid}}", status_code=204)
async def put_client_rules(
    *,
    clientid: str,
    body: ClientRulesIn,
    ctx: Authz,
    session: SessionDep,
    runtime: RuntimeDep,
    quotas: QuotasDep,
) -> Response:
    if body.clientid != clientid:
        raise BadRequest("clientid in the body does not match the path", code="BAD_REQUEST")
    await _set_rules(
        ctx,
        session=session,
        runtime=runtime,
        quotas=quotas,
        kind="clientid",
        targets=[(clientid, _rules(body.rules))],
    )
    return _no_content()


@router.put(f"{_RULES}/users/{{username}}", status_code=204)
async def put_user_rules(
    *,
    username: str,
    body: UserRulesIn,
    ctx: Authz,
    session: SessionDep,
    runtime: RuntimeDep,
    quotas: QuotasDep,
) -> Response:
    if body.username != username:
        raise BadRequest("username in the body does not match the path", code="BAD_REQUEST")
    await _set_rules(
        ctx,
        session=session,
        runtime=runtime,
        quotas=quotas,
        kind="username",
        targets=[(username, _rules(body.rules))],
    )
    return _no_content()


async def _delete_target(
    ctx: DeploymentContext, session: Session, runtime: Any, kind: acl.TargetKind, target: str
) -> Response:
    await asyncio.to_thread(
        acl.delete_target, session, deployment_id=ctx.deployment_id, kind=kind, target=target
    )
    await live.push(runtime, ctx)
    return _no_content()


@router.delete(f"{_RULES}/clients/{{clientid}}", status_code=204)
async def delete_client_rules(
    clientid: str, ctx: Authz, session: SessionDep, runtime: RuntimeDep
) -> Response:
    return await _delete_target(ctx, session, runtime, "clientid", clientid)


@router.delete(f"{_RULES}/users/{{username}}", status_code=204)
async def delete_user_rules(username: str, ctx: Authz, session: SessionDep, runtime: RuntimeDep) -> Response:
    return await _delete_target(ctx, session, runtime, "username", username)


@router.delete(f"{_RULES}/all", status_code=204)
async def delete_all_rules(
    *, ctx: Authz, session: SessionDep, runtime: RuntimeDep, quotas: QuotasDep
) -> Response:
    await _set_rules(ctx, session=session, runtime=runtime, quotas=quotas, kind="all", targets=[("", [])])
    return _no_content()


# -------------------------------------------------------------------------------------- banned


def _ban(row: BanRow) -> dict[str, Any]:
    return {
        "as": row.kind,
        "who": row.who,
        "by": row.by,
        "reason": row.reason,
        "at": common.iso(row.at.timestamp()),
        "until": common.iso(row.until.timestamp()) if row.until is not None else "infinity",
    }


def _moment(value: int | float | str | None, name: str) -> dt.datetime | None:
    if value is None:
        return None
    return dt.datetime.fromtimestamp(common.parse_time(value, name), dt.UTC)


@router.get("/banned")
async def list_banned(ctx: Banned, request: Request, session: SessionDep) -> JSONResponse:
    page, limit = common.paging(request.query_params, 100)
    rows, total = await asyncio.to_thread(
        banned.page,
        session,
        deployment_id=ctx.deployment_id,
        page=page,
        limit=limit,
        now=dt.datetime.now(dt.UTC),
    )
    return JSONResponse({"data": [_ban(r) for r in rows], "meta": common.meta(page, limit, total)})


@router.post("/banned")
async def create_ban(body: BanIn, ctx: Banned, session: SessionDep, runtime: RuntimeDep) -> JSONResponse:
    """200 with the entry; 400 for a bad `as`; 409 ALREADY_EXISTS. Banned clients are kicked."""
    ban = banned.NewBan(
        kind=body.as_,
        who=body.who,
        reason=body.reason,
        by=body.by,
        at=_moment(body.at, "at"),
        until=_moment(body.until, "until"),
    )
    row = await asyncio.to_thread(
        banned.create, session, deployment_id=ctx.deployment_id, ban=ban, now=dt.datetime.now(dt.UTC)
    )
    await live.push(runtime, ctx)
    return JSONResponse(_ban(row))


@router.delete("/banned/{kind}/{who}", status_code=204)
async def delete_ban(kind: str, who: str, ctx: Banned, session: SessionDep, runtime: RuntimeDep) -> Response:
    await asyncio.to_thread(banned.delete, session, deployment_id=ctx.deployment_id, kind=kind, who=who)
    await live.push(runtime, ctx)
    return _no_content()


# ------------------------------------------------------------------------------------- metrics


@router.get("/metrics")
async def metrics(ctx: Metrics, request: Request, runtime: RuntimeDep) -> JSONResponse:
    """EMQX 5: a list with one object per node, or one object with `aggregate=true`."""
    values = (await live.call(live.client_for(runtime, ctx).metrics(_tenant(ctx)))).values
    if common.bool_param(request.query_params, "aggregate"):
        return JSONResponse(values)
    return JSONResponse([{"node": ctx.node, **values}])


@router.get("/stats")
async def stats(ctx: Metrics, request: Request, runtime: RuntimeDep) -> JSONResponse:
    values = (await live.call(live.client_for(runtime, ctx).stats(_tenant(ctx)))).values
    if common.bool_param(request.query_params, "aggregate"):
        return JSONResponse(values)
    return JSONResponse([{"node": ctx.node, **values}])


@router.get("/prometheus/stats")
async def prometheus_stats(ctx: Metrics, runtime: RuntimeDep) -> PlainTextResponse:
    """Prometheus text format: stats as gauges, metrics as counters, names `emqx_<name with _>`."""
    client = live.client_for(runtime, ctx)
    stats_values = (await live.call(client.stats(_tenant(ctx)))).values
    metric_values = (await live.call(client.metrics(_tenant(ctx)))).values
    lines: list[str] = []
    for kind, values in (("gauge", stats_values), ("counter", metric_values)):
        for name in sorted(values):
            metric = "emqx_" + name.replace(".", "_").replace("-", "_")
            lines += [f"# TYPE {metric} {kind}", f'{metric}{{node="{ctx.node}"}} {values[name]}']
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False)
async def not_found(path: str) -> Response:
    """Unknown `/api/v5/...` paths: 404 in the v5 shape (before the v4 catch-all could claim them)."""
    raise NotFound("Path not found", code="NOT_FOUND")
