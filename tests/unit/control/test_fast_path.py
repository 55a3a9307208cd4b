"""The GET fast path answers exactly like the route, and hands every doubtful request to it."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.unit.control.conftest import Platform, make_settings, open_platform

from mqttcloud.contracts import TlsSpec
from mqttcloud.control.db import Database
from mqttcloud.control.deployments import routes

API = "/public_api/v1"


class RouteCalls:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = (
            routes.get_deployment.__wrapped__ if hasattr(routes.get_deployment, "__wrapped__") else None
        )
        assert original is None
        self._load = routes._load_view

        def counting(*args: object) -> object:
            self.count += 1
            return self._load(*args)  # type: ignore[arg-type]  # forwarded unchanged

        monkeypatch.setattr(routes, "_load_view", counting)


@pytest.fixture
async def limited(database: Database, data_dir: Path, serverless_tls: TlsSpec) -> AsyncIterator[Platform]:
    settings = make_settings(data_dir, rate_limit_overrides={"deployments.get": "3/60"})
    async for opened in open_platform(database, settings, serverless_tls):
        yield opened


async def created(platform: Platform, key: tuple[str, str], **body: object) -> str:
    response = await platform.client.post(
        f"{API}/deployments", json={"projectID": "default", **body}, auth=key
    )
    deployment_id: str = response.json()["deploymentID"]
    return deployment_id


async def test_cached_answer_equals_route_answer(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    key = platform.key()
    deployment_id = await created(platform, key)
    calls = RouteCalls(monkeypatch)
    first = await platform.client.get(
        f"{API}/deployments/{deployment_id}", auth=key
    )  # route, fills the cache
    second = await platform.client.get(f"{API}/deployments/{deployment_id}", auth=key)  # fast path
    assert calls.count == 1
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second.headers["content-type"] == "application/json"
    await platform.client.post(
        f"{API}/deployments/{deployment_id}/stop", auth=key
    )  # a commit clears the cache
    assert (await platform.client.get(f"{API}/deployments/{deployment_id}", auth=key)).json()[
        "status"
    ] == "stopped"
    assert calls.count == 2


async def test_refusals_on_cached_objects_still_come_from_the_route(platform: Platform) -> None:
    key = platform.key()
    deployment_id = await created(platform, key)
    url = f"{API}/deployments/{deployment_id}"
    assert (await platform.client.get(url, auth=key)).status_code == 200  # cached now
    wrong = await platform.client.get(url, auth=(key[0], "wrong"))
    assert (wrong.status_code, wrong.json()["code"]) == (401, "UNAUTHORIZED")
    assert (await platform.client.get(url)).status_code == 401
    assert (await platform.client.get(url, auth=platform.key(scopes=["tls"]))).status_code == 403
    from mqttcloud.control.projects import service as projects

    with platform.database.session() as session:
        other = projects.create_project(session, name="other").id
    scoped = platform.key(projects=[other])
    assert (await platform.client.get(url, auth=scoped)).json()["code"] == "DEPLOYMENT_NOT_FOUND"


async def test_rate_limit_counts_once_per_request_on_both_paths(limited: Platform) -> None:
    key = limited.key()
    deployment_id = await created(limited, key)
    url = f"{API}/deployments/{deployment_id}"
    statuses = [(await limited.client.get(url, auth=key)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = await limited.client.get(url, auth=key)
    assert refused.json()["code"] == "TOO_MANY_REQUESTS"
    assert int(refused.headers["Retry-After"]) == 20
