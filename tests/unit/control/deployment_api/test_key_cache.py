"""The deployment key cache forgets a key as soon as it, or its deployment, changes in this process."""

from tests.unit.control.conftest import Platform
from tests.unit.control.deployment_api.conftest import Api
from tests.unit.control.deployment_api.test_deployment_api_in_process import (
    V5,
    new_deployment,
    new_key,
    v5_error,
)

from mqttcloud.control.deployment_api.keys import service as keys
from mqttcloud.control.deployments.models import Deployment

USERS = f"{V5}/authentication/password_based:built_in_database/users"


async def test_deleted_key_stops_working_at_once(api: Api) -> None:
    platform: Platform = api.platform
    deployment_id = await new_deployment(platform)
    auth = new_key(platform, deployment_id)
    other = new_key(platform, deployment_id)
    assert (await platform.client.get(USERS, auth=auth)).status_code == 200  # now cached
    assert (await platform.client.get(USERS, auth=other)).status_code == 200
    with platform.database.session() as session:
        keys.delete_key(session, deployment_id=deployment_id, app_id=auth[0])
    v5_error(await platform.client.get(USERS, auth=auth), 401, "BAD_API_KEY_OR_SECRET")
    assert (await platform.client.get(USERS, auth=other)).status_code == 200


async def test_stopping_the_deployment_refreshes_the_cached_context(api: Api) -> None:
    platform: Platform = api.platform
    deployment_id = await new_deployment(platform)
    auth = new_key(platform, deployment_id)
    running = await platform.client.get(f"{V5}/clients", auth=auth)
    v5_error(running, 503, "SERVICE_UNAVAILABLE")  # no broker in process: "not running"
    assert "not running" in running.json()["message"]
    with platform.database.session() as session:
        deployment = session.get(Deployment, deployment_id)
        assert deployment is not None
        deployment.desired_running = False
        session.commit()
    stopped = await platform.client.get(f"{V5}/clients", auth=auth)
    v5_error(stopped, 503, "SERVICE_UNAVAILABLE")
    assert stopped.json()["message"] == "Deployment is stopped"
