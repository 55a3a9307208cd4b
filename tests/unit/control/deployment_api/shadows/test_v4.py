"""The shadow service's v4 routes in process (fake supervisor, no broker): CRUD, documents, errors, quotas."""

import dataclasses
import re

import pytest
from httpx import Response
from tests.unit.control.conftest import Platform
from tests.unit.control.deployment_api.conftest import Api

from mqttcloud.control.deployment_api.keys import service as keys
from mqttcloud.control.deployment_api.quotas import Quotas
from mqttcloud.control.deployments.schemas import DeploymentCreate
from mqttcloud.control.deployments.service import create_deployment

Auth = tuple[str, str]
FORM = {"Content-Type": "application/x-www-form-urlencoded"}  # what `curl -d` sends


async def new_deployment(p: Platform, *, serverless: bool = False) -> Auth:
    with p.database.session() as session:
        request = DeploymentCreate.model_validate(
            {"projectID": "default", "deploymentType": "serverless" if serverless else "dedicated"}
        )
        deployment_id = create_deployment(session, settings=p.settings, request=request).id
        created = keys.create_key(session, deployment_id=deployment_id)
        auth = created.key.app_id, created.secret
    await p.supervisor.runtime.reconcile()
    return auth


@pytest.fixture
def platform(api: Api) -> Platform:
    return api.platform


@pytest.fixture
async def auth(platform: Platform) -> Auth:
    return await new_deployment(platform)


def v4_error(response: Response, status: int, code: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message"}, body
    assert body["code"] == code, body
    message: str = body["message"]
    return message


async def test_create_get_list_update_delete(platform: Platform, auth: Auth) -> None:
    c = platform.client
    body = '{"description": "123","shadowID": "test_shadow","shadowName": "test"}'
    created = await c.post("/api/shadows", content=body, headers=FORM, auth=auth)
    assert created.status_code == 200, created.text
    model = created.json()
    assert set(model) == {"description", "updatedAt", "shadowID", "createdAt", "shadowName"}
    assert model["shadowID"] == "test_shadow"
    assert model["shadowName"] == "test"
    assert model["description"] == "123"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", model["createdAt"])
    assert (await c.get("/api/shadows/test_shadow", auth=auth)).json() == model

    generated = (await c.post("/api/shadows", json={"shadowName": "second"}, auth=auth)).json()
    assert re.fullmatch(r"[0-9a-f]{16}", generated["shadowID"])
    assert generated["description"] == ""

    for path in ("/api/shadows", "/api/shadows/"):
        listed = await c.get(path, params={"_page": 1, "_limit": 10}, auth=auth)
        assert listed.status_code == 200, listed.text  # the trailing slash is served, not redirected
        assert listed.json() == {"items": [model, generated], "meta": {"limit": 10, "page": 1, "count": 2}}
    second_page = (await c.get("/api/shadows", params={"_page": 2, "_limit": 1}, auth=auth)).json()
    assert second_page == {"items": [generated], "meta": {"limit": 1, "page": 2, "count": 2}}

    updated = await c.put(
        "/api/shadows/test_shadow",
        content='{"description": "","shadowName": "renamed"}',
        headers=FORM,
        auth=auth,
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["shadowName"] == "renamed"
    assert updated.json()["shadowID"] == "test_shadow"

    deleted = await c.delete("/api/shadows/test_shadow", auth=auth)
    assert deleted.status_code == 204
    v4_error(await c.get("/api/shadows/test_shadow", auth=auth), 404, 102)
    v4_error(await c.delete("/api/shadows/test_shadow", auth=auth), 404, 102)


async def test_document_put_patch_get_and_versions(platform: Platform, auth: Auth) -> None:
    c = platform.client
    await c.post("/api/shadows", json={"shadowID": "lamp-0001", "shadowName": "lamp"}, auth=auth)
    fresh = (await c.get("/api/shadows/lamp-0001/json", auth=auth)).json()
    assert fresh["data"] == {}
    assert fresh["version"] == 0
    assert fresh["createAt"] == fresh["lastTime"]

    put = await c.put(
        "/api/shadows/lamp-0001/json",
        content='{"color": "blue","state": 1,"power": 0}',
        headers=FORM,
        auth=auth,
    )
    assert put.status_code == 200, put.text
    assert put.json()["data"] == {"color": "blue", "state": 1, "power": 0}
    assert put.json()["version"] == 1

    patched = (
        await c.patch("/api/shadows/lamp-0001/json", content='{"specs": 2}', headers=FORM, auth=auth)
    ).json()
    assert patched["data"] == {"color": "blue", "state": 1, "power": 0, "specs": 2}
    assert patched["version"] == 2
    assert patched["createAt"] == fresh["createAt"]
    assert patched["lastTime"] >= fresh["lastTime"]

    # the multi-level rule: new object with content in one step is HTTP 500 and changes nothing
    message = v4_error(
        await c.patch("/api/shadows/lamp-0001/json", json={"key": {"a": 100}}, auth=auth), 500, 102
    )
    assert "'key'" in message
    assert (await c.get("/api/shadows/lamp-0001/json", auth=auth)).json() == patched
    step1 = (await c.patch("/api/shadows/lamp-0001/json", json={"key": {}}, auth=auth)).json()
    step2 = (await c.patch("/api/shadows/lamp-0001/json", json={"key": {"a": 100}}, auth=auth)).json()
    assert step1["data"]["key"] == {}
    assert step2["data"]["key"] == {"a": 100}
    assert step2["version"] == 4

    replaced = (await c.put("/api/shadows/lamp-0001/json", json={"only": True}, auth=auth)).json()
    assert replaced["data"] == {"only": True}
    assert replaced["version"] == 5


async def test_bad_input_gets_clear_4xx(platform: Platform, auth: Auth) -> None:
    c = platform.client
    v4_error(await c.post("/api/shadows", content="{nope", headers=FORM, auth=auth), 400, 109)
    assert "shadowName" in v4_error(
        await c.post("/api/shadows", json={"description": "x"}, auth=auth), 422, 107
    )
    assert "shadowID" in v4_error(
        await c.post("/api/shadows", json={"shadowName": "ok-name", "shadowID": "a/b+#"}, auth=auth), 422, 108
    )
    assert "shadowName" in v4_error(
        await c.post("/api/shadows", json={"shadowName": "x"}, auth=auth), 422, 108
    )
    await c.post("/api/shadows", json={"shadowName": "dup", "shadowID": "dup-0001"}, auth=auth)
    v4_error(
        await c.post("/api/shadows", json={"shadowName": "dup", "shadowID": "dup-0001"}, auth=auth), 409, 113
    )
    v4_error(await c.put("/api/shadows/dup-0001/json", json=[1, 2], auth=auth), 400, 108)
    v4_error(await c.put("/api/shadows/dup-0001/json", content="{", headers=FORM, auth=auth), 400, 109)
    v4_error(await c.patch("/api/shadows/none-0001/json", json={"a": 1}, auth=auth), 404, 102)
    v4_error(await c.get("/api/shadows", params={"_page": "x"}, auth=auth), 400, 108)


async def test_quotas_on_models_and_document_size(api: Api, auth: Auth) -> None:
    c = api.platform.client
    api.app.state.deployment_api_quotas = dataclasses.replace(
        Quotas(), max_shadows=1, max_shadow_document_bytes=64
    )
    assert (await c.post("/api/shadows", json={"shadowName": "one"}, auth=auth)).status_code == 200
    assert "at most 1" in v4_error(
        await c.post("/api/shadows", json={"shadowName": "two"}, auth=auth), 422, 108
    )
    shadow_id = (await c.get("/api/shadows", auth=auth)).json()["items"][0]["shadowID"]
    big = {"k": "x" * 64}
    message = v4_error(await c.put(f"/api/shadows/{shadow_id}/json", json=big, auth=auth), 422, 108)
    assert "at most 64" in message
    assert (await c.get(f"/api/shadows/{shadow_id}/json", auth=auth)).json()["version"] == 0


async def test_keys_reach_only_their_own_deployment_and_serverless_is_refused(
    platform: Platform, auth: Auth
) -> None:
    c = platform.client
    other = await new_deployment(platform)
    await c.post("/api/shadows", json={"shadowName": "mine", "shadowID": "mine-0001"}, auth=auth)
    v4_error(await c.get("/api/shadows/mine-0001", auth=other), 404, 102)
    assert (await c.get("/api/shadows", auth=other)).json()["meta"]["count"] == 0
    v4_error(await c.get("/api/shadows"), 401, 103)
    serverless = await new_deployment(platform, serverless=True)
    assert "Dedicated" in v4_error(await c.get("/api/shadows", auth=serverless), 403, 102)


async def test_key_permissions_cover_the_shadows_group(platform: Platform) -> None:
    auth = await new_deployment(platform)
    with platform.database.session() as session:
        deployment_id = keys.find_by_app_id(session, app_id=auth[0])
        assert deployment_id is not None
        created = keys.create_key(
            session, deployment_id=deployment_id.deployment_id, permissions=["GET:shadows"]
        )
        read_only = created.key.app_id, created.secret
    assert (await platform.client.get("/api/shadows", auth=read_only)).status_code == 200
    v4_error(
        await platform.client.post("/api/shadows", json={"shadowName": "nope"}, auth=read_only), 403, 102
    )
