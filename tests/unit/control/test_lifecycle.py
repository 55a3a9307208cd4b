"""Supervisor reports → database: Serverless tenants follow the shared broker, deleted brokers are cleaned."""

from tests.unit.control.conftest import Platform

from mqttcloud.control.supervisor import BrokerStatus

API = "/public_api/v1"


async def status(platform: Platform, auth: tuple[str, str], deployment_id: str) -> str:
    value: str = (await platform.client.get(f"{API}/deployments/{deployment_id}", auth=auth)).json()["status"]
    return value


async def test_shared_broker_failure_fails_only_running_serverless_tenants(platform: Platform) -> None:
    key = platform.key()
    body = {"projectID": "default", "deploymentType": "serverless"}
    running = (await platform.client.post(f"{API}/deployments", json=body, auth=key)).json()["deploymentID"]
    stopped = (await platform.client.post(f"{API}/deployments", json=body, auth=key)).json()["deploymentID"]
    assert (await platform.client.post(f"{API}/deployments/{stopped}/stop", auth=key)).status_code == 201
    assert await status(platform, key, stopped) == "stopped"  # the applied spec disabled the tenant
    assert [t.enabled for t in platform.supervisor.desired["serverless"].tenants] == [
        t.tenant_id == running for t in platform.supervisor.desired["serverless"].tenants
    ]
    await platform.supervisor.report("serverless", BrokerStatus.FAILED, "crashed 5 times")
    assert await status(platform, key, running) == "failed"
    assert await status(platform, key, stopped) == "stopped"


async def test_last_serverless_stop_stops_the_shared_broker(platform: Platform) -> None:
    key = platform.key()
    body = {"projectID": "default", "deploymentType": "serverless"}
    deployment_id = (await platform.client.post(f"{API}/deployments", json=body, auth=key)).json()[
        "deploymentID"
    ]
    assert "serverless" in platform.supervisor.desired
    await platform.client.post(f"{API}/deployments/{deployment_id}/stop", auth=key)
    assert "serverless" not in platform.supervisor.desired
    assert await status(platform, key, deployment_id) == "stopped"


async def test_deleted_deployment_directory_is_removed_once_its_broker_stopped(platform: Platform) -> None:
    key = platform.key()
    deployment_id = (
        await platform.client.post(f"{API}/deployments", json={"projectID": "default"}, auth=key)
    ).json()["deploymentID"]
    broker_dir = platform.settings.brokers_dir / deployment_id
    (broker_dir / "data").mkdir(parents=True)
    platform.supervisor.auto = False
    await platform.client.delete(f"{API}/deployments/{deployment_id}", auth=key)
    assert broker_dir.exists()  # still running until the supervisor says it stopped
    await platform.supervisor.report(deployment_id, BrokerStatus.STOPPED)
    assert not broker_dir.exists()


async def test_stale_reports_do_not_override_the_desired_state(platform: Platform) -> None:
    """A `stopped` report for a deployment the user wants running (e.g. at platform shutdown) is ignored."""
    key = platform.key()
    deployment_id = (
        await platform.client.post(f"{API}/deployments", json={"projectID": "default"}, auth=key)
    ).json()["deploymentID"]
    await platform.supervisor.report(deployment_id, BrokerStatus.STOPPED)
    assert await status(platform, key, deployment_id) == "running"
