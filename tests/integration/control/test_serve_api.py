"""The Platform API of a real `mqttcloud serve` over HTTPS (platform CA), on SQLite and PostgreSQL."""

import ssl
from collections.abc import Callable

import httpx
import pytest
from tests.integration.control.harness import ServeProcess, poll


def test_banner_names_every_entry_point(shared_serve: ServeProcess) -> None:
    serve = shared_serve
    for text in ("Console:", "/public_api/v1", "/api/v5", "/api ", "Root login:", "MQTTCLOUD_ROOT_PASSWORD"):
        assert text in serve.banner
    assert serve.ca_path.exists()


def test_https_is_signed_by_the_platform_ca(shared_serve: ServeProcess) -> None:
    serve = shared_serve
    with serve.client() as client:
        assert client.get("/openapi.json").status_code == 200
    with httpx.Client(verify=ssl.create_default_context()) as untrusting, pytest.raises(httpx.ConnectError):
        untrusting.get(f"{serve.api}/openapi.json")


def test_platform_api_end_to_end(shared_serve: ServeProcess) -> None:
    serve = shared_serve
    key = serve.create_key()  # written by another process while serve runs
    with serve.client() as client:
        assert client.get("/projects").status_code == 401
        wrong = client.get("/projects", auth=(key[0], "wrong"))
        unknown = client.get("/projects", auth=("0000000000000000", key[1]))
        assert wrong.status_code == unknown.status_code == 401
        assert (
            wrong.json() == unknown.json() == {"code": "UNAUTHORIZED", "message": "Invalid API key or secret"}
        )
        assert client.get("/projects", auth=key).json()[0]["projectID"] == "default"
        assert client.get("/nowhere", auth=key).json() == {"code": "NOT_FOUND", "message": "Path not found"}
        bad_json = client.post(
            "/deployments", content=b"{", headers={"Content-Type": "application/json"}, auth=key
        )
        assert (bad_json.status_code, bad_json.json()["code"]) == (400, "BAD_REQUEST")
        assert client.post("/deployments", json={}, auth=key).status_code == 422

        created = client.post("/deployments", json={"projectID": "default"}, auth=key)
        assert created.status_code == 201
        deployment_id = created.json()["deploymentID"]
        running = poll(
            lambda: (
                (r := client.get(f"/deployments/{deployment_id}", auth=key).json())["status"] == "running"
                and r
            ),
            what="deployment running",
        )
        assert running["endpoints"]["mqtt"].startswith("127.0.0.1:")
        assert deployment_id in [d["deploymentID"] for d in client.get("/deployments", auth=key).json()]
        refused = client.post(f"/deployments/{deployment_id}/start", auth=key)
        assert (refused.status_code, refused.json()["code"]) == (422, "INVALID_DEPLOYMENT_STATE")
        assert client.get(f"/deployments/{deployment_id}/tls", auth=key).status_code == 404

        tls_only = serve.create_key("--scope", "tls")
        assert client.get("/deployments", auth=tls_only).status_code == 403

        assert client.delete(f"/deployments/{deployment_id}", auth=key).status_code == 204
        assert client.get(f"/deployments/{deployment_id}", auth=key).status_code == 404


def test_emqx_rate_limit_profile_answers_429(start_serve: Callable[..., ServeProcess]) -> None:
    serve = start_serve(
        extra_env={"MQTTCLOUD_RATE_LIMIT_PROFILE": "emqx", "MQTTCLOUD_RATE_LIMITS": "projects.list=2/60"}
    )
    key = serve.create_key()
    with serve.client() as client:
        statuses = [client.get("/projects", auth=key).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        limited = client.get("/projects", auth=key)
        assert limited.json()["code"] == "TOO_MANY_REQUESTS"
        assert 1 <= int(limited.headers["Retry-After"]) <= 30
