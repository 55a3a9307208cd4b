"""`/status`, `/healthz`, `/readyz` and `/metrics` in process (a real `serve` is in tests/integration)."""

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient
from prometheus_client.parser import text_string_to_metric_families
from tests.unit.control.conftest import Platform

from mqttcloud.broker.metrics import METRIC_NAMES
from mqttcloud.control.app import create_app
from mqttcloud.control.config import Settings
from mqttcloud.control.health.exposition import BrokerRestarts
from mqttcloud.control.supervisor import BrokerStatus

GAUGES = ("connections.count", "subscriptions.count", "topics.count", "retained.count")  # broker stats


@pytest.fixture
async def own_sqlite(data_dir: Path) -> AsyncIterator[AsyncClient]:
    """A platform that owns its SQLite file in `data_dir` (the test can take the file away)."""
    app = create_app(Settings(data_dir=data_dir), supervisor_factory=None)
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://platform.test") as client:
            yield client


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page, parsed by the reference parser."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_status_turns_503_when_the_sqlite_file_is_gone(own_sqlite: AsyncClient, data_dir: Path) -> None:
    assert (await own_sqlite.get("/status")).status_code == 200
    database = data_dir / "mqttcloud.db"
    moved = data_dir / "moved-away.db"
    database.rename(moved)
    try:
        status = await own_sqlite.get("/status")
        assert status.status_code == 503
        assert "not running" in status.text
        as_json = await own_sqlite.get("/status", params={"format": "json"})
        assert as_json.status_code == 503
        assert as_json.json()["status"] == "not_running"
        ready = await own_sqlite.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"].startswith("unreachable")
        assert (await own_sqlite.get("/healthz")).status_code == 200  # the process itself is alive
        metrics = samples((await own_sqlite.get("/metrics")).text)
        assert metrics[("mqttcloud_database_up", ())] == 0
    finally:
        moved.rename(database)
    assert (await own_sqlite.get("/status")).status_code == 200
    assert (await own_sqlite.get("/readyz")).status_code == 200


async def test_readyz_reports_the_supervisor_and_the_schema(platform: Platform) -> None:
    ready = await platform.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "supervisor": "ok"},
    }


async def test_readyz_without_brokers_does_not_wait_for_a_supervisor(own_sqlite: AsyncClient) -> None:
    ready = await own_sqlite.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["supervisor"] == "disabled"


async def test_metrics_parse_and_count_routes_by_template(platform: Platform) -> None:
    key, secret = platform.key()
    body = {"projectID": "default", "deploymentType": "serverless"}
    deployment = await platform.client.post("/public_api/v1/deployments", json=body, auth=(key, secret))
    assert deployment.status_code == 201, deployment.text
    deployment_id = deployment.json()["deploymentID"]
    for _ in range(3):  # the first read fills the view cache; the next ones take the fast path
        got = await platform.client.get(f"/public_api/v1/deployments/{deployment_id}", auth=(key, secret))
        assert got.status_code == 200
    assert (
        await platform.client.get("/public_api/v1/deployments/nope", auth=(key, "bad"))
    ).status_code == 401

    page = await platform.client.get("/metrics")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain; version=0.0.4")
    metrics = samples(page.text)
    template = "/public_api/v1/deployments/{deployment_id}"
    requests = "mqttcloud_http_requests_total"
    ok = (("method", "GET"), ("route", template), ("status", "200"))
    assert metrics[(requests, ok)] == 3
    assert metrics[(requests, (("method", "GET"), ("route", template), ("status", "401")))] == 1
    create = (("method", "POST"), ("route", "/public_api/v1/deployments"), ("status", "201"))
    assert metrics[(requests, create)] == 1
    histogram = (("method", "GET"), ("route", template))
    assert metrics[("mqttcloud_http_request_duration_seconds_count", histogram)] == 4
    assert metrics[("mqttcloud_http_request_duration_seconds_bucket", (("le", "+Inf"), *histogram))] == 4
    assert metrics[("mqttcloud_deployments", (("status", "running"),))] == 1
    assert metrics[("mqttcloud_deployments", (("status", "failed"),))] == 0
    assert metrics[("mqttcloud_database_up", ())] == 1
    assert deployment_id not in page.text
    assert key not in page.text


async def test_broker_restarts_are_counted_from_supervisor_reports(platform: Platform) -> None:
    body = {"projectID": "default"}
    created = await platform.client.post("/public_api/v1/deployments", json=body, auth=platform.key())
    assert created.status_code == 201, created.text
    broker_id = str(created.json()["deploymentID"])
    await platform.supervisor.report(broker_id, BrokerStatus.STARTING, "restarting in 1 s after: crash")
    await platform.supervisor.report(broker_id, BrokerStatus.RUNNING)
    metrics = samples((await platform.client.get("/metrics")).text)
    assert metrics[("mqttcloud_broker_restarts_total", ())] == 1


def test_a_stop_then_start_is_not_a_restart() -> None:
    restarts = BrokerRestarts()
    for status in (
        BrokerStatus.STARTING,
        BrokerStatus.RUNNING,
        BrokerStatus.STOPPING,
        BrokerStatus.STOPPED,
        BrokerStatus.STARTING,
        BrokerStatus.RUNNING,
    ):
        restarts.on_status("b1", status)
    assert restarts.total == 0
    for status in (BrokerStatus.STOPPING, BrokerStatus.STARTING, BrokerStatus.STARTING, BrokerStatus.RUNNING):
        restarts.on_status("b1", status)  # a restart for a changed spec, reported twice while starting
    assert restarts.total == 1


def test_the_grafana_dashboard_reads_only_metrics_that_exist(platform_metric_names: set[str]) -> None:
    """Every `mqttcloud_*` family the dashboard queries is on /metrics; every `emqx_*` one is a broker
    counter (`broker.metrics.METRIC_NAMES`) or gauge under the `/prometheus/stats` naming."""
    dashboard = json.loads((Path(__file__).parents[3] / "docs" / "grafana" / "mqttcloud.json").read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in expressions for name in re.findall(r"\b((?:mqttcloud|emqx)_[a-z_]+)\{", expr)}
    broker = {"emqx_" + n.replace(".", "_") for n in (*METRIC_NAMES, *GAUGES)}
    suffixes = ("_bucket", "_count", "_sum")
    known = platform_metric_names | {f"{n}{s}" for n in platform_metric_names for s in suffixes} | broker
    assert used, "no metric found in the dashboard"
    assert used <= known, used - known


@pytest.fixture
async def platform_metric_names(platform: Platform) -> set[str]:
    await platform.client.get("/healthz")
    text = (await platform.client.get("/metrics")).text
    return {family.name for family in text_string_to_metric_families(text)} | set(
        re.findall(r"^# TYPE (\S+)", text, re.MULTILINE)
    )
