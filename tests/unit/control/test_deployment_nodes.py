"""The `nodes` extension of a deployment: set on create, changed by `PUT /deployments/{id}` and in the
console, refused for Serverless, audited, stored on every database backend."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import select
from tests.unit.control.conftest import ROOT_PASSWORD, Platform, build_app, make_settings, open_platform

from mqttcloud.contracts import ClusterSpec, TlsSpec
from mqttcloud.control.accounts import service as accounts
from mqttcloud.control.audit.log import AuditLog
from mqttcloud.control.audit.models import AuditEntry
from mqttcloud.control.db import Database
from mqttcloud.control.deployments.models import Deployment
from mqttcloud.control.supervisor import BrokerStatus

API = "/public_api/v1"


async def create(p: Platform, auth: tuple[str, str], **body: object) -> dict[str, object]:
    response = await p.client.post(f"{API}/deployments", json={"projectID": "default", **body}, auth=auth)
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


def assert_invalid(response: Response, status: int, code: str, mention: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == code
    assert mention in body["message"]


async def test_created_deployment_has_one_node_by_default(platform: Platform) -> None:
    body = await create(platform, platform.key())
    assert body["nodes"] == 1


async def test_create_with_nodes_stores_and_shows_them(platform: Platform) -> None:
    key = platform.key()
    body = await create(platform, key, nodes=3)
    assert body["nodes"] == 3
    deployment_id = str(body["deploymentID"])
    shown = (await platform.client.get(f"{API}/deployments/{deployment_id}", auth=key)).json()
    assert shown["nodes"] == 3
    listed = (await platform.client.get(f"{API}/deployments", auth=key)).json()
    assert [d["nodes"] for d in listed] == [3]
    with platform.database.session() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        assert row.nodes == 3


@pytest.mark.parametrize("nodes", [0, -1, 17, "three", 1.5, None])
async def test_create_with_bad_nodes_is_422_naming_the_field(platform: Platform, nodes: object) -> None:
    response = await platform.client.post(
        f"{API}/deployments", json={"projectID": "default", "nodes": nodes}, auth=platform.key()
    )
    assert_invalid(response, 422, "INVALID_PARAMETERS", "nodes")


async def test_serverless_refuses_more_than_one_node(platform: Platform) -> None:
    key = platform.key()
    response = await platform.client.post(
        f"{API}/deployments",
        json={"projectID": "default", "deploymentType": "serverless", "nodes": 2},
        auth=key,
    )
    assert_invalid(response, 422, "INVALID_PARAMETERS", "Serverless")
    deployment_id = (await create(platform, key, deploymentType="serverless"))["deploymentID"]
    changed = await platform.client.put(f"{API}/deployments/{deployment_id}", json={"nodes": 3}, auth=key)
    assert_invalid(changed, 422, "INVALID_PARAMETERS", "nodes must be 1")
    same = await platform.client.put(f"{API}/deployments/{deployment_id}", json={"nodes": 1}, auth=key)
    assert same.status_code == 200, same.text


async def test_put_changes_nodes_and_answers_the_deployment(platform: Platform) -> None:
    key = platform.key()
    deployment_id = (await create(platform, key))["deploymentID"]
    response = await platform.client.put(f"{API}/deployments/{deployment_id}", json={"nodes": 4}, auth=key)
    assert response.status_code == 200, response.text
    assert response.json()["deploymentID"] == deployment_id
    assert response.json()["nodes"] == 4
    shown = (await platform.client.get(f"{API}/deployments/{deployment_id}", auth=key)).json()
    assert shown["nodes"] == 4  # the cached view was dropped by the commit


@pytest.mark.parametrize(
    ("body", "mention"),
    [({}, "nodes"), ({"nodes": 0}, "nodes"), ({"nodes": 17}, "nodes"), ({"nodes": "x"}, "nodes")],
)
async def test_put_with_bad_nodes_is_422(platform: Platform, body: dict[str, object], mention: str) -> None:
    key = platform.key()
    deployment_id = (await create(platform, key))["deploymentID"]
    response = await platform.client.put(f"{API}/deployments/{deployment_id}", json=body, auth=key)
    assert_invalid(response, 422, "INVALID_PARAMETERS", mention)


async def test_put_malformed_json_is_400_and_unknown_deployment_404(platform: Platform) -> None:
    key = platform.key()
    deployment_id = (await create(platform, key))["deploymentID"]
    malformed = await platform.client.put(
        f"{API}/deployments/{deployment_id}",
        content=b'{"nodes": ',
        headers={"Content-Type": "application/json"},
        auth=key,
    )
    assert_invalid(malformed, 400, "BAD_REQUEST", "JSON")
    missing = await platform.client.put(f"{API}/deployments/nosuch", json={"nodes": 2}, auth=key)
    assert_invalid(missing, 404, "DEPLOYMENT_NOT_FOUND", "nosuch")


async def test_put_needs_the_deployments_scope_and_project(platform: Platform) -> None:
    from mqttcloud.control.projects import service as projects

    key = platform.key()
    deployment_id = (await create(platform, key))["deploymentID"]
    tls_only = platform.key(scopes=["tls"])
    forbidden = await platform.client.put(
        f"{API}/deployments/{deployment_id}", json={"nodes": 2}, auth=tls_only
    )
    assert_invalid(forbidden, 403, "FORBIDDEN", "")
    with platform.database.session() as session:
        other = projects.create_project(session, name="other").id
    elsewhere = platform.key(projects=[other])
    hidden = await platform.client.put(
        f"{API}/deployments/{deployment_id}", json={"nodes": 2}, auth=elsewhere
    )
    assert_invalid(hidden, 404, "DEPLOYMENT_NOT_FOUND", str(deployment_id))


@pytest.fixture
async def audited_app(
    database: Database, data_dir: Path, serverless_tls: TlsSpec
) -> AsyncIterator[tuple[Platform, AuditLog]]:
    settings = make_settings(data_dir, use_tls=False)
    app, supervisors = build_app(database, settings, serverless_tls)
    with database.session() as session:
        accounts.ensure_root(session, password=ROOT_PASSWORD)
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://platform.test") as client:
            yield Platform(client, database, settings, supervisors[0]), app.state.audit_log


async def test_put_is_audited(audited_app: tuple[Platform, AuditLog]) -> None:
    platform, log = audited_app
    key = platform.key()
    deployment_id = (await create(platform, key))["deploymentID"]
    response = await platform.client.put(f"{API}/deployments/{deployment_id}", json={"nodes": 2}, auth=key)
    assert response.status_code == 200
    await log.flush()
    with platform.database.read_session() as session:
        entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    put = entries[-1]
    assert put.action == "PUT /public_api/v1/deployments/{deployment_id}"
    assert put.target.startswith(f"deployment_id={deployment_id}")
    assert put.status == 200
    assert '"nodes":2' in put.summary


# -- nodes as brokers (a fake supervisor records the specs) -----------------------------------------

NATS = "nats://127.0.0.1:4222"


@pytest.fixture
async def clustered(database: Database, data_dir: Path, serverless_tls: TlsSpec) -> AsyncIterator[Platform]:
    """A platform told where NATS is (`MQTTCLOUD_NATS_URL`): nothing is started for it."""
    async for opened in open_platform(database, make_settings(data_dir, nats_url=NATS), serverless_tls):
        yield opened


def broker_ids(platform: Platform) -> list[str]:
    return sorted(platform.supervisor.desired)


async def test_each_node_is_a_broker_with_its_own_name_dirs_and_the_same_ports(clustered: Platform) -> None:
    body = await create(clustered, clustered.key(), nodes=3)
    deployment_id = str(body["deploymentID"])
    assert broker_ids(clustered) == [deployment_id, f"{deployment_id}.2", f"{deployment_id}.3"]
    specs = [clustered.supervisor.desired[b] for b in broker_ids(clustered)]
    assert [s.node_name for s in specs] == [
        f"emqx@{deployment_id}",
        f"emqx@{deployment_id}.2",
        f"emqx@{deployment_id}.3",
    ]
    assert len({s.data_dir for s in specs}) == len({s.ready_file for s in specs}) == 3
    assert all(s.listeners == specs[0].listeners and s.tenants == specs[0].tenants for s in specs)
    assert all(s.admin == specs[0].admin and s.admin.port == 0 for s in specs)  # each its own port
    assert {s.cluster for s in specs} == {ClusterSpec(nats_url=NATS, name=deployment_id)}
    assert body["status"] == "running"  # every node reported running


async def test_changing_nodes_adds_and_stops_only_those_nodes(clustered: Platform) -> None:
    key = clustered.key()
    deployment_id = str((await create(clustered, key, nodes=3))["deploymentID"])
    second = clustered.supervisor.desired[f"{deployment_id}.2"]
    one = await clustered.client.put(f"{API}/deployments/{deployment_id}", json={"nodes": 1}, auth=key)
    assert one.json()["status"] == "running"
    assert broker_ids(clustered) == [deployment_id]
    assert clustered.supervisor.desired[deployment_id].cluster is None  # one node needs no NATS
    two = await clustered.client.put(f"{API}/deployments/{deployment_id}", json={"nodes": 2}, auth=key)
    assert two.json()["status"] == "running"
    assert broker_ids(clustered) == [deployment_id, f"{deployment_id}.2"]
    assert clustered.supervisor.desired[f"{deployment_id}.2"] == second
    three = await clustered.client.put(f"{API}/deployments/{deployment_id}", json={"nodes": 3}, auth=key)
    assert three.status_code == 200
    assert clustered.supervisor.desired[f"{deployment_id}.2"] == second  # node 2 kept as it was


async def test_deployment_runs_only_when_every_node_runs(clustered: Platform) -> None:
    clustered.supervisor.auto = False
    key = clustered.key()
    deployment_id = str((await create(clustered, key, nodes=2))["deploymentID"])
    nodes = (deployment_id, f"{deployment_id}.2")

    async def status() -> object:
        return (await clustered.client.get(f"{API}/deployments/{deployment_id}", auth=key)).json()["status"]

    for node in nodes:
        await clustered.supervisor.report(node, BrokerStatus.STARTING)
    await clustered.supervisor.report(nodes[0], BrokerStatus.RUNNING)
    assert await status() == "starting"
    await clustered.supervisor.report(nodes[1], BrokerStatus.RUNNING)
    assert await status() == "running"
    await clustered.supervisor.report(nodes[1], BrokerStatus.STARTING, "restarting in 0.5 s")
    assert await status() == "starting"
    await clustered.supervisor.report(nodes[1], BrokerStatus.FAILED, "5 crashes; last: exited with code 1")
    await clustered.supervisor.report(nodes[0], BrokerStatus.RUNNING, "pid 7, generation 2")
    shown = (await clustered.client.get(f"{API}/deployments/{deployment_id}", auth=key)).json()
    assert shown["status"] == "failed"
    assert "5 crashes" in shown["statusReason"]  # the failed node's reason stays


async def test_without_nats_server_a_multi_node_deployment_fails_and_others_run(
    database: Database, data_dir: Path, serverless_tls: TlsSpec
) -> None:
    settings = make_settings(data_dir, nats_server=str(data_dir / "no-such-nats-server"))
    async for platform in open_platform(database, settings, serverless_tls):
        key = platform.key()
        single = str((await create(platform, key))["deploymentID"])
        multi = str((await create(platform, key, nodes=2))["deploymentID"])
        shown = (await platform.client.get(f"{API}/deployments/{multi}", auth=key)).json()
        assert shown["status"] == "failed"
        assert "nats-server is not installed" in shown["statusReason"]
        assert "MQTTCLOUD_NATS_URL" in shown["statusReason"]
        assert broker_ids(platform) == [single]
        assert (await platform.client.get(f"{API}/deployments/{single}", auth=key)).json()[
            "status"
        ] == "running"
        back = await platform.client.put(f"{API}/deployments/{multi}", json={"nodes": 1}, auth=key)
        assert back.json()["status"] == "running"  # one node needs no NATS: it runs at once
        assert broker_ids(platform) == sorted([single, multi])
