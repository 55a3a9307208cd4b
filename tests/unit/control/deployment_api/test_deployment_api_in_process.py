"""Deployment API in process (fake supervisor, no broker): keys, stored data, both error shapes."""

import base64
import time

import pytest
from httpx import Response
from tests.unit.control.conftest import Platform
from tests.unit.control.deployment_api.conftest import Api

from mqttcloud.contracts import AclAction, AclPermission, BanKind, TenantSpec
from mqttcloud.control.accounts.models import Account, Role
from mqttcloud.control.deployment_api.keys import service as keys
from mqttcloud.control.deployment_api.quotas import ApiRateLimiter, Quotas
from mqttcloud.control.deployments.schemas import DeploymentCreate
from mqttcloud.control.deployments.service import create_deployment
from mqttcloud.control.errors import Forbidden
from mqttcloud.passwords import verify_password

V5 = "/api/v5"
V4 = "/api"
AUTHN = f"{V5}/authentication/password_based%3Abuilt_in_database"
RULES = f"{V5}/authorization/sources/built_in_database/rules"


async def new_deployment(p: Platform, *, serverless: bool = False, connections: int = 1000) -> str:
    with p.database.session() as session:
        request = DeploymentCreate.model_validate(
            {
                "projectID": "default",
                "deploymentType": "serverless" if serverless else "dedicated",
                "connections": connections,
            }
        )
        deployment_id = create_deployment(session, settings=p.settings, request=request).id
    await p.supervisor.runtime.reconcile()
    return deployment_id


def new_key(p: Platform, deployment_id: str, permissions: list[str] | None = None) -> tuple[str, str]:
    with p.database.session() as session:
        created = keys.create_key(session, deployment_id=deployment_id, permissions=permissions)
        return created.key.app_id, created.secret


def tenant(p: Platform, deployment_id: str) -> TenantSpec:
    spec = p.supervisor.desired[deployment_id]
    return spec.tenants[0]


def v5_error(response: Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message"}, body
    assert body["code"] == code
    assert body["message"]


def v4_error(response: Response, status: int, code: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message"}, body
    assert body["code"] == code
    assert body["message"]


@pytest.fixture
def platform(api: Api) -> Platform:
    return api.platform


@pytest.fixture
async def deployment(platform: Platform) -> tuple[str, tuple[str, str]]:
    deployment_id = await new_deployment(platform)
    return deployment_id, new_key(platform, deployment_id)


# -- keys and authentication -----------------------------------------------------------------------


def test_secret_is_stored_hashed_and_shown_once(platform: Platform) -> None:
    with platform.database.session() as session:
        request = DeploymentCreate.model_validate({"projectID": "default"})
        deployment_id = create_deployment(session, settings=platform.settings, request=request).id
        created = keys.create_key(session, deployment_id=deployment_id, note="ci")
        assert created.secret not in created.key.secret_hash
        assert len(created.key.secret_hash) == 64
        listed = keys.list_keys(session, deployment_id=deployment_id)
        assert [k.app_id for k in listed] == [created.key.app_id]
        keys.delete_key(session, deployment_id=deployment_id, app_id=created.key.app_id)
        assert keys.list_keys(session, deployment_id=deployment_id) == []


@pytest.mark.parametrize("permission", ["GET", "FETCH:clients", "GET:nothing"])
def test_bad_permission_is_rejected(permission: str) -> None:
    with pytest.raises(Exception, match="permission"):
        keys.check_permissions([permission])


async def test_missing_and_wrong_credentials_are_401_in_both_shapes(
    platform: Platform, deployment: tuple[str, tuple[str, str]]
) -> None:
    _, (app_id, _secret) = deployment
    v5_error(await platform.client.get(f"{V5}/banned"), 401, "BAD_API_KEY_OR_SECRET")
    v5_error(await platform.client.get(f"{V5}/banned", auth=(app_id, "wrong")), 401, "BAD_API_KEY_OR_SECRET")
    v4_error(await platform.client.get(f"{V4}/banned", auth=("nobody", "x")), 401, 103)


async def test_platform_key_is_401_here_and_deployment_key_is_401_on_platform_api(
    platform: Platform, deployment: tuple[str, tuple[str, str]]
) -> None:
    _, auth = deployment
    platform_key = platform.key()
    v5_error(await platform.client.get(f"{V5}/banned", auth=platform_key), 401, "BAD_API_KEY_OR_SECRET")
    response = await platform.client.get("/public_api/v1/deployments", auth=auth)
    assert response.status_code == 401


async def test_key_reaches_only_its_own_deployment(platform: Platform) -> None:
    first = await new_deployment(platform)
    second = await new_deployment(platform)
    auth_first, auth_second = new_key(platform, first), new_key(platform, second)
    body = {"user_id": "alice", "password": "pw"}
    assert (await platform.client.post(f"{AUTHN}/users", json=body, auth=auth_first)).status_code == 201
    assert (await platform.client.get(f"{AUTHN}/users/alice", auth=auth_second)).status_code == 404
    assert [u.user_id for u in tenant(platform, first).users] == ["alice"]
    assert tenant(platform, second).users == []


async def test_key_permissions_by_method_and_group_give_403(platform: Platform) -> None:
    deployment_id = await new_deployment(platform)
    auth = new_key(platform, deployment_id, ["GET:authentication", "*:banned"])
    assert (await platform.client.get(f"{AUTHN}/users", auth=auth)).status_code == 200
    body = {"user_id": "u", "password": "p"}
    v5_error(await platform.client.post(f"{AUTHN}/users", json=body, auth=auth), 403, "FORBIDDEN")
    v4_error(await platform.client.get(f"{V4}/acl/clientid", auth=auth), 403, 102)
    ban = {"as": "clientid", "who": "c", "reason": "r"}
    assert (await platform.client.post(f"{V4}/banned", json=ban, auth=auth)).status_code == 200


async def test_api_rate_limit_is_429_with_retry_after(
    api: Api, platform: Platform, deployment: tuple[str, tuple[str, str]]
) -> None:
    _, auth = deployment
    api.app.state.deployment_api_limiter = ApiRateLimiter(qps=1, burst=2)
    for _ in range(2):
        assert (await platform.client.get(f"{V5}/banned", auth=auth)).status_code == 200
    limited = await platform.client.get(f"{V5}/banned", auth=auth)
    v5_error(limited, 429, "TOO_MANY_REQUESTS")
    assert int(limited.headers["retry-after"]) >= 1
    v4_error(await platform.client.get(f"{V4}/banned", auth=auth), 429, 102)


# -- built-in users ---------------------------------------------------------------------------------


async def test_v5_users_crud_with_encoded_and_raw_colon(
    platform: Platform, deployment: tuple[str, tuple[str, str]]
) -> None:
    deployment_id, auth = deployment
    created = await platform.client.post(
        f"{AUTHN}/users", json={"user_id": "user1", "password": "pw1"}, auth=auth
    )
    assert created.status_code == 201
    assert created.json() == {"user_id": "user1", "is_superuser": False}
    raw = f"{V5}/authentication/password_based:built_in_database/users/user1"
    assert (await platform.client.get(raw, auth=auth)).json() == {
        "data": {"user_id": "user1", "is_superuser": False}
    }
    v5_error(
        await platform.client.post(f"{AUTHN}/users", json={"user_id": "user1", "password": "x"}, auth=auth),
        409,
        "ALREADY_EXISTS",
    )
    users = tenant(platform, deployment_id).users
    assert verify_password(users[0], b"pw1")
    assert users[0].salt
    assert users[0].algorithm == "sha256"
    assert (
        await platform.client.put(f"{AUTHN}/users/user1", json={"password": "pw2"}, auth=auth)
    ).status_code == 204
    assert verify_password(tenant(platform, deployment_id).users[0], b"pw2")
    imported = await platform.client.post(
        f"{AUTHN}/import_users",
        params={"type": "plain"},
        json=[{"user_id": "user2", "password": "a"}, {"user_id": "user3", "password": "b"}],
        auth=auth,
    )
    assert imported.status_code == 204
    page = (await platform.client.get(f"{AUTHN}/users", params={"_page": 1, "_limit": 2}, auth=auth)).json()
    assert page["meta"] == {"page": 1, "limit": 2, "hasnext": True, "count": 3}
    assert [u["user_id"] for u in page["data"]] == ["user1", "user2"]
    assert (await platform.client.delete(f"{AUTHN}/users/user1", auth=auth)).status_code == 204
    v5_error(await platform.client.get(f"{AUTHN}/users/user1", auth=auth), 404, "NOT_FOUND")
    v5_error(await platform.client.delete(f"{AUTHN}/users/user1", auth=auth), 404, "NOT_FOUND")


async def test_v5_user_body_errors_are_400_and_422(
    platform: Platform, deployment: tuple[str, tuple[str, str]]
) -> None:
    _, auth = deployment
    bad_json = await platform.client.post(
        f"{AUTHN}/users", content=b"{nope", headers={"content-type": "application/json"}, auth=auth
    )
    v5_error(bad_json, 400, "BAD_REQUEST")
    v5_error(
        await platform.client.post(f"{AUTHN}/users", json={"user_id": "x"}, auth=auth),
        422,
        "INVALID_PARAMETERS",
    )
    v5_error(await platform.client.get(f"{AUTHN}/users", params={"limit": 0}, auth=auth), 400, "BAD_REQUEST")


async def test_v4_auth_username_and_clientid(
    platform: Platform, deployment: tuple[str, tuple[str, str]]
) -> None:
    deployment_id, auth = deployment
    assert (
        await platform.client.post(
            f"{V4}/auth_username", json={"username": "user_test", "password": "password"}, auth=auth
        )
    ).json() == {"code": 0}
    batch = await platform.client.post(
        f"{V4}/auth_username",
        json=[{"username": "api_user1", "password": "a"}, {"username": "api_user2", "password": "b"}],
        auth=auth,
    )
    assert batch.json() == {"data": {"api_user1": "ok", "api_user2": "ok"}, "code": 0}
    listed = (await platform.client.get(f"{V4}/auth_username", auth=auth)).json()
    assert listed == {
        "meta": {"page": 1, "limit": 10, "count": 3},
        "data": [{"username": "user_test"}, {"username": "api_user1"}, {"username": "api_user2"}],
        "code": 0,
    }
    assert (await platform.client.get(f"{V4}/auth_username/api_user1", auth=auth)).json() == {
        "data": {"username": "api_user1"},
        "code": 0,
    }
    assert (
        await platform.client.put(f"{V4}/auth_username/api_user1", json={"password": "new"}, auth=auth)
    ).json() == {"code": 0}
    assert (await platform.client.delete(f"{V4}/auth_username/api_user1", auth=auth)).json() == {"code": 0}
    v4_error(await platform.client.get(f"{V4}/auth_username/api_user1", auth=auth), 404, 105)
    v4_error(
        await platform.client.post(
            f"{V4}/auth_username", json={"username": "user_test", "password": "x"}, auth=auth
        ),
        409,
        113,
    )
    v4_error(await platform.client.post(f"{V4}/auth_username", json={"username": "x"}, auth=auth), 422, 107)
    bad = await platform.client.post(
        f"{V4}/auth_username", content=b"[", headers={"content-type": "application/json"}, auth=auth
    )
    v4_error(bad, 400, 109)
    assert (
        await platform.client.post(
            f"{V4}/auth_clientid", json={"clientid": "test", "password": "password"}, auth=auth
        )
    ).json() == {"code": 0}
    kinds = {(u.kind, u.user_id) for u in tenant(platform, deployment_id).users}
    assert kinds == {("username", "user_test"), ("username", "api_user2"), ("clientid", "test")}


async def test_auth_quota_is_enforced(
    api: Api, platform: Platform, deployment: tuple[str, tuple[str, str]]
) -> None:
    _, auth = deployment
    api.app.state.deployment_api_quotas = Quotas(dedicated_entries_per_session=0)
    v5_error(
        await platform.client.post(f"{AUTHN}/users", json={"user_id": "a", "password": "b"}, auth=auth),
        422,
        "QUOTA_EXCEEDED",
    )
    v4_error(
        await platform.client.post(f"{V4}/auth_username", json={"username": "a", "password": "b"}, auth=auth),
        422,
        108,
    )


# -- ACL ------------------------------------------------------------------------------------------


async def test_v5_acl_rules_reach_the_spec_in_order(
    platform: Platform, deployment: tuple[str, tuple[str, str]]
) -> None:
    deployment_id, auth = deployment
    rules = [
        {"action": "publish", "permission": "allow", "topic": "test/topic/1"},
        {"action": "subscribe", "permission": "allow", "topic": "test/topic/2"},
        {"action": "all", "permission": "deny", "topic": "eq test/#"},
    ]
    assert (
        await platform.client.post(
            f"{RULES}/clients", json={"clientid": "client1", "rules": rules}, auth=auth
        )
    ).status_code == 204
    assert (
        await platform.client.post(
            f"{RULES}/users",
            json=[{"username": "user1", "rules": [{"topic": "a", "action": "pub", "permission": "deny"}]}],
            auth=auth,
        )
    ).status_code == 204
    assert (
        await platform.client.post(
            f"{RULES}/all",
            json={"rules": [{"topic": "#", "action": "pubsub", "permission": "deny"}]},
            auth=auth,
        )
    ).status_code == 204
    assert (await platform.client.get(f"{RULES}/clients/client1", auth=auth)).json() == {
        "clientid": "client1",
        "rules": rules,
    }
    listed = (await platform.client.get(f"{RULES}/users", auth=auth)).json()
    assert listed["data"] == [
        {"username": "user1", "rules": [{"topic": "a", "action": "publish", "permission": "deny"}]}
    ]
    assert listed["meta"]["count"] == 1
    assert (
        "count"
        not in (
            await platform.client.get(f"{RULES}/users", params={"like_username": "us"}, auth=auth)
        ).json()["meta"]
    )
    acl = tenant(platform, deployment_id).acl
    assert [(r.username, r.clientid, r.topic, r.action, r.permission) for r in acl] == [
        ("user1", None, "a", AclAction.PUBLISH, AclPermission.DENY),
        (None, "client1", "test/topic/1", AclAction.PUBLISH, AclPermission.ALLOW),
        (None, "client1", "test/topic/2", AclAction.SUBSCRIBE, AclPermission.ALLOW),
        (None, "client1", "eq test/#", AclAction.ALL, AclPermission.DENY),
        (None, None, "#", AclAction.ALL, AclPermission.DENY),
    ]
    assert (await platform.client.delete(f"{RULES}/clients/client1", auth=auth)).status_code == 204
    v5_error(await platform.client.get(f"{RULES}/clients/client1", auth=auth), 404, "NOT_FOUND")
    v5_error(
        await platform.client.post(
            f"{RULES}/all",
            json={"rules": [{"topic": "#", "action": "jump", "permission": "deny"}]},
            auth=auth,
        ),
        400,
        "BAD_REQUEST",
    )


async def test_v4_acl_documented_examples(
    platform: Platform, deployment: tuple[str, tuple[str, str]]
) -> None:
    _, auth = deployment
    one = await platform.client.post(
        f"{V4}/acl",
        json={"clientid": "client1", "topic": "a/b", "action": "sub", "access": "allow"},
        auth=auth,
    )
    assert one.json() == {
        "data": {"topic": "a/b", "result": "ok", "clientid": "client1", "action": "sub", "access": "allow"},
        "code": 0,
    }
    everyone = await platform.client.post(
        f"{V4}/acl", json={"topic": "a/b", "action": "pub", "access": "allow"}, auth=auth
    )
    assert everyone.json()["data"]["all"] == "$all"
    batch = await platform.client.post(
        f"{V4}/acl",
        json=[
            {"clientid": "emqx_c_1", "topic": "topic/A", "action": "pub", "access": "allow"},
            {"username": "emqx_u_1", "topic": "topic/A", "action": "sub", "access": "allow"},
        ],
        auth=auth,
    )
    assert [item["result"] for item in batch.json()["data"]] == ["ok", "ok"]
    listed = (await platform.client.get(f"{V4}/acl/username", auth=auth)).json()
    assert listed == {
        "meta": {"page": 1, "limit": 10, "count": 1},
        "data": [{"username": "emqx_u_1", "topic": "topic/A", "action": "sub", "access": "allow"}],
        "code": 0,
    }
    assert (await platform.client.get(f"{V4}/acl/$all", auth=auth)).json()["data"] == [
        {"topic": "a/b", "all": "$all", "action": "pub", "access": "allow"}
    ]
    assert (await platform.client.get(f"{V4}/acl/clientid/emqx_c_1", auth=auth)).json()["data"][0][
        "topic"
    ] == "topic/A"
    assert (
        await platform.client.delete(f"{V4}/acl/clientid/emqx_c_1/topic/topic%2FA", auth=auth)
    ).json() == {"code": 0}
    assert (await platform.client.delete(f"{V4}/acl/$all/topic/a%2Fb", auth=auth)).json() == {"code": 0}
    v4_error(await platform.client.delete(f"{V4}/acl/$all/topic/a%2Fb", auth=auth), 404, 102)


# -- bans -----------------------------------------------------------------------------------------


async def test_bans_both_shapes_and_defaults(
    platform: Platform, deployment: tuple[str, tuple[str, str]]
) -> None:
    deployment_id, auth = deployment
    created = (
        await platform.client.post(
            f"{V4}/banned", json={"who": "example", "as": "clientid", "reason": "example"}, auth=auth
        )
    ).json()
    assert created["code"] == 0
    assert created["data"]["by"] == "user"
    assert created["data"]["until"] - created["data"]["at"] == 300
    v5 = await platform.client.post(
        f"{V5}/banned", json={"as": "username", "who": "bob", "until": "2099-01-01T00:00:00Z"}, auth=auth
    )
    assert v5.status_code == 200
    assert v5.json()["until"] == "2099-01-01T00:00:00.000+00:00"
    bans = {(b.kind, b.who) for b in tenant(platform, deployment_id).banned}
    assert bans == {(BanKind.CLIENTID, "example"), (BanKind.USERNAME, "bob")}
    v5_error(
        await platform.client.post(f"{V5}/banned", json={"as": "username", "who": "bob"}, auth=auth),
        409,
        "ALREADY_EXISTS",
    )
    v5_error(
        await platform.client.post(f"{V5}/banned", json={"as": "nose", "who": "x"}, auth=auth),
        400,
        "BAD_REQUEST",
    )
    v4_error(await platform.client.post(f"{V4}/banned", json={"who": "x"}, auth=auth), 422, 107)
    listed = (await platform.client.get(f"{V4}/banned", auth=auth)).json()
    assert listed["meta"] == {"page": 1, "limit": 10, "count": 2}
    assert (await platform.client.delete(f"{V4}/banned/clientid/example", auth=auth)).json() == {"code": 0}
    assert (await platform.client.delete(f"{V5}/banned/username/bob", auth=auth)).status_code == 204
    v5_error(await platform.client.delete(f"{V5}/banned/username/bob", auth=auth), 404, "NOT_FOUND")


# -- live endpoints without a running broker ----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/clients"), ("GET", "/subscriptions"), ("GET", "/metrics"), ("DELETE", "/clients/c")],
)
async def test_live_endpoints_are_503_without_a_running_broker(
    platform: Platform, deployment: tuple[str, tuple[str, str]], method: str, path: str
) -> None:
    _, auth = deployment
    v5_error(await platform.client.request(method, f"{V5}{path}", auth=auth), 503, "SERVICE_UNAVAILABLE")
    v4_error(await platform.client.request(method, f"{V4}{path}", auth=auth), 503, 101)


async def test_unknown_paths_are_404_in_each_shape(platform: Platform) -> None:
    v5_error(await platform.client.get(f"{V5}/nothing/here"), 404, "NOT_FOUND")
    v4_error(await platform.client.get(f"{V4}/nothing"), 404, 102)


async def test_publish_body_errors(platform: Platform, deployment: tuple[str, tuple[str, str]]) -> None:
    _, auth = deployment
    v5_error(
        await platform.client.post(f"{V5}/publish", json={"topic": "t", "qos": 3}, auth=auth),
        422,
        "INVALID_PARAMETERS",
    )
    v4_error(
        await platform.client.post(f"{V4}/mqtt/publish", json={"topic": "t", "encoding": "rot13"}, auth=auth),
        422,
        108,
    )
    payload = base64.b64encode(b"x").decode()
    assert payload == "eA=="


async def test_openapi_documents_both_apis_separately(platform: Platform) -> None:
    platform_doc = (await platform.client.get("/public_api/v1/openapi.json")).json()
    assert "/public_api/v1/deployments" in platform_doc["paths"]
    deployment_doc = (await platform.client.get(f"{V5}/openapi.json")).json()
    assert "/v5/clients" in deployment_doc["paths"]
    assert "/auth_username" in deployment_doc["paths"]


async def test_serverless_tenant_gets_its_users_acl_and_bans(platform: Platform) -> None:
    deployment_id = await new_deployment(platform, serverless=True)
    auth = new_key(platform, deployment_id)
    body = {"user_id": "sl-user", "password": "pw"}
    assert (await platform.client.post(f"{AUTHN}/users", json=body, auth=auth)).status_code == 201
    rules = {"rules": [{"topic": "#", "action": "all", "permission": "deny"}]}
    assert (await platform.client.post(f"{RULES}/all", json=rules, auth=auth)).status_code == 204
    ban = {"as": "clientid", "who": "bad", "reason": "r"}
    assert (await platform.client.post(f"{V4}/banned", json=ban, auth=auth)).status_code == 200
    spec = platform.supervisor.desired["serverless"]
    (tenant_spec,) = [t for t in spec.tenants if t.tenant_id == deployment_id]
    assert [u.user_id for u in tenant_spec.users] == ["sl-user"]
    assert [r.topic for r in tenant_spec.acl] == ["#"]
    assert [b.who for b in tenant_spec.banned] == ["bad"]


async def test_expired_bans_are_neither_listed_nor_enforced(
    platform: Platform, deployment: tuple[str, tuple[str, str]]
) -> None:
    deployment_id, auth = deployment
    now = int(time.time())
    old = {"who": "old", "as": "clientid", "reason": "r", "at": now - 600, "until": now - 300}
    assert (await platform.client.post(f"{V4}/banned", json=old, auth=auth)).status_code == 200
    listed = (await platform.client.get(f"{V4}/banned", auth=auth)).json()
    assert listed["meta"]["count"] == 0
    assert tenant(platform, deployment_id).banned == []


@pytest.mark.parametrize(
    ("role", "projects", "allowed"),
    [
        (Role.ROOT, [], True),
        (Role.ADMINISTRATOR, [], True),
        (Role.PROJECT_ADMINISTRATOR, ["default"], True),
        (Role.PROJECT_USER, ["default"], True),
        (Role.PROJECT_USER, ["elsewhere"], False),
        (Role.ACCOUNTANT, ["default"], False),
        (Role.AUDITOR, ["default"], False),
    ],
)
def test_who_may_manage_deployment_keys(
    platform: Platform, role: Role, projects: list[str], allowed: bool
) -> None:
    """Spec §1.9 "REST API configuration": project administrators and users (of the project) may."""
    actor = Account(username="someone", password_hash="x", role=role, project_ids=projects)
    with platform.database.session() as session:
        request = DeploymentCreate.model_validate({"projectID": "default"})
        deployment_id = create_deployment(session, settings=platform.settings, request=request).id
        if allowed:
            created = keys.create_key(session, deployment_id=deployment_id, actor=actor)
            keys.delete_key(session, deployment_id=deployment_id, app_id=created.key.app_id, actor=actor)
        else:
            with pytest.raises(Forbidden):
                keys.create_key(session, deployment_id=deployment_id, actor=actor)
