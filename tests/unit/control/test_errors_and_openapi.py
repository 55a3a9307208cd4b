"""One error body everywhere (500 included, without internals) and the OpenAPI document."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.unit.control.conftest import Platform, make_settings, open_platform

from mqttcloud.contracts import TlsSpec
from mqttcloud.control.db import Database
from mqttcloud.control.projects import service as projects

API = "/public_api/v1"


@pytest.fixture
async def lenient_platform(
    database: Database, data_dir: Path, serverless_tls: TlsSpec
) -> AsyncIterator[Platform]:
    async for opened in open_platform(
        database, make_settings(data_dir), serverless_tls, raise_app_exceptions=False
    ):
        yield opened


async def test_unexpected_error_is_500_without_internals(
    lenient_platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("password=hunter2 at /secret/path")

    monkeypatch.setattr(projects, "list_projects", explode)
    response = await lenient_platform.client.get(f"{API}/projects", auth=lenient_platform.key())
    assert response.status_code == 500
    assert response.json() == {"code": "INTERNAL_ERROR", "message": "Internal server error"}
    assert "hunter2" not in response.text


async def test_openapi_document_lists_every_endpoint_with_error_bodies(platform: Platform) -> None:
    response = await platform.client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    document = response.json()
    platform_paths = {
        f"{API}/projects",
        f"{API}/deployments",
        f"{API}/deployments/{{deployment_id}}",
        f"{API}/deployments/{{deployment_id}}/start",
        f"{API}/deployments/{{deployment_id}}/stop",
        f"{API}/deployments/{{deployment_id}}/tls",
    }
    assert set(document["paths"]) >= platform_paths
    paths = {path: document["paths"][path] for path in platform_paths}
    error_ref = "#/components/schemas/ErrorResponse"
    assert set(document["components"]["schemas"]["ErrorResponse"]["properties"]) == {"code", "message"}
    for path, operations in paths.items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for status in ("401", "429", "500"):
                schema = responses[status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": error_ref}, (path, method, status)
            assert "Retry-After" in responses["429"]["headers"]
            if "{deployment_id}" in path:
                assert "404" in responses
                assert responses["422"]["content"]["application/json"]["schema"] == {"$ref": error_ref}
            assert "HTTPValidationError" not in str(responses)
            assert operation["security"] == [{"HTTPBasic": []}]
    assert paths[f"{API}/deployments/{{deployment_id}}/start"]["post"]["responses"].keys() >= {"201", "422"}
    assert paths[f"{API}/deployments/{{deployment_id}}/tls"]["delete"]["responses"].keys() >= {"204"}
    assert paths[f"{API}/deployments/{{deployment_id}}/tls"]["post"]["responses"].keys() >= {
        "200",
        "400",
        "422",
    }
