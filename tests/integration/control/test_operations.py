"""A real `serve`: `/status` turns 503 when its database is gone, `/metrics` parses, writes are audited."""

import os
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import POSTGRES_ENV, drop_postgres_database
from tests.integration.control.harness import ServeProcess, poll


def root_client(serve: ServeProcess) -> httpx.Client:
    client = serve.client()
    client.base_url = httpx.URL(serve.base_url)
    return client


def test_status_is_503_once_the_database_is_gone(
    start_serve: Callable[..., ServeProcess], backend: str
) -> None:
    serve = start_serve(backend)
    with root_client(serve) as client:
        assert client.get("/status").status_code == 200
        assert client.get("/readyz").json()["status"] == "ready"
        if backend == "sqlite":
            (serve.data_dir / "mqttcloud.db").rename(serve.data_dir / "elsewhere.db")
        else:
            drop_postgres_database(os.environ[POSTGRES_ENV], serve.env["MQTTCLOUD_DATABASE_URL"])

        def refused() -> httpx.Response | None:
            response = client.get("/status")
            return response if response.status_code == 503 else None

        status = poll(refused, within=10, what="/status to answer 503")
        assert "not running" in status.text
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200
        families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
        assert families["mqttcloud_database_up"].samples[0].value == 0


def test_writes_reach_the_audit_log_of_a_running_platform(shared_serve: ServeProcess) -> None:
    key, secret = shared_serve.create_key()
    with shared_serve.client() as api:
        created = api.post("/deployments", json={"projectID": "default"}, auth=(key, secret))
        assert created.status_code == 201, created.text
        deployment_id = created.json()["deploymentID"]
        assert api.post("/deployments", json={"projectID": "default"}, auth=(key, "wrong")).status_code == 401

        def entries() -> list[dict[str, object]] | None:  # written by the writer task within a second
            page = api.get("/audit_logs", params={"actor": key}, auth=(key, secret))
            assert page.status_code == 200, page.text
            data: list[dict[str, object]] = page.json()["data"]
            return data if len(data) >= 2 else None

        denied, create = poll(entries, within=10, what="the audit entries")
        assert (create["operation"], create["http_status_code"]) == ("POST /public_api/v1/deployments", 201)
        assert deployment_id in str(create["target"])
        assert (denied["authenticated"], denied["http_status_code"]) == (False, 401)
        cli = api.get("/audit_logs", params={"from": "cli"}, auth=(key, secret)).json()["data"]
        assert any(e["target"] == f"key={key}" for e in cli)  # `mqttcloud apikey create` made the key
        with root_client(shared_serve) as plain:
            page = plain.get("/metrics").text
        requests = {
            tuple(sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(page)
            for s in family.samples
            if s.name == "mqttcloud_http_requests_total"
        }
        assert requests[(("method", "POST"), ("route", "/public_api/v1/deployments"), ("status", "201"))] >= 1
