"""Deployment API: ACL topics must be valid topic filters (both API shapes); v5 bans may last forever."""

import pytest
from tests.unit.control.conftest import Platform
from tests.unit.control.deployment_api.conftest import Api
from tests.unit.control.deployment_api.test_deployment_api_in_process import (
    RULES,
    V4,
    V5,
    new_deployment,
    new_key,
    tenant,
    v5_error,
)

INVALID_FILTERS = ["a/#/b", "a/b#", "a/+b/c", "eq a/#/b"]


@pytest.fixture
def platform(api: Api) -> Platform:
    return api.platform


@pytest.fixture
async def deployment(platform: Platform) -> tuple[str, tuple[str, str]]:
    deployment_id = await new_deployment(platform)
    return deployment_id, new_key(platform, deployment_id)


@pytest.mark.parametrize("topic", INVALID_FILTERS)
async def test_v5_rule_with_an_invalid_filter_is_refused(
    platform: Platform,
    deployment: tuple[str, tuple[str, str]],
    topic: str,
) -> None:
    deployment_id, auth = deployment
    body = {"rules": [{"topic": topic, "action": "all", "permission": "deny"}]}
    response = await platform.client.post(f"{RULES}/all", json=body, auth=auth)
    v5_error(response, 400, "BAD_REQUEST")
    assert "not a valid topic filter" in response.json()["message"]
    assert list(tenant(platform, deployment_id).acl) == []


@pytest.mark.parametrize("topic", INVALID_FILTERS)
async def test_v4_rule_with_an_invalid_filter_is_refused(
    platform: Platform,
    deployment: tuple[str, tuple[str, str]],
    topic: str,
) -> None:
    _deployment_id, auth = deployment
    body = {"username": "u1", "topic": topic, "action": "sub", "access": "allow"}
    response = await platform.client.post(f"{V4}/acl", json=body, auth=auth)
    assert response.status_code == 400, response.text
    assert "not a valid topic filter" in response.json()["message"]
    assert (await platform.client.get(f"{V4}/acl/username", auth=auth)).json()["data"] == []


async def test_valid_filters_with_placeholders_and_eq_are_kept(
    platform: Platform,
    deployment: tuple[str, tuple[str, str]],
) -> None:
    deployment_id, auth = deployment
    topics = ["devices/${clientid}/#", "a/%u/+", "eq a/+/#", "$share/g/t/#", "+"]
    rules = [{"topic": t, "action": "all", "permission": "allow"} for t in topics]
    assert (await platform.client.post(f"{RULES}/all", json={"rules": rules}, auth=auth)).status_code == 204
    assert [r.topic for r in tenant(platform, deployment_id).acl] == topics


async def test_v5_ban_until_infinity_has_no_end(
    platform: Platform,
    deployment: tuple[str, tuple[str, str]],
) -> None:
    deployment_id, auth = deployment
    body = {"as": "clientid", "who": "forever", "until": "infinity"}
    created = await platform.client.post(f"{V5}/banned", json=body, auth=auth)
    assert created.status_code == 200, created.text
    assert created.json()["until"] == "infinity"
    [ban] = tenant(platform, deployment_id).banned
    assert (ban.who, ban.until) == ("forever", None)
    listed = (await platform.client.get(f"{V4}/banned", auth=auth)).json()["data"]
    assert listed[0]["until"] is None
