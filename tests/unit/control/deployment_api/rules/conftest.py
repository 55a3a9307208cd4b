"""A deployment with a full-access key on the in-process platform (fake supervisor, no broker)."""

import pytest
from tests.unit.control.conftest import Platform
from tests.unit.control.deployment_api.conftest import Api

from mqttcloud.contracts import RuleSpec
from mqttcloud.control.deployment_api.keys import service as keys
from mqttcloud.control.deployments.schemas import DeploymentCreate
from mqttcloud.control.deployments.service import create_deployment

Auth = tuple[str, str]


async def new_deployment(p: Platform, *, serverless: bool = False) -> tuple[str, Auth]:
    with p.database.session() as session:
        request = DeploymentCreate.model_validate(
            {"projectID": "default", "deploymentType": "serverless" if serverless else "dedicated"}
        )
        deployment_id = create_deployment(session, settings=p.settings, request=request).id
        created = keys.create_key(session, deployment_id=deployment_id)
        auth = created.key.app_id, created.secret
    await p.supervisor.runtime.reconcile()
    return deployment_id, auth


def pushed_rules(p: Platform, deployment_id: str) -> list[RuleSpec]:
    """The rules of the deployment's tenant in the spec last handed to the supervisor."""
    for spec in p.supervisor.desired.values():
        for tenant in spec.tenants:
            if tenant.tenant_id == deployment_id:
                return tenant.rules
    raise AssertionError(f"no tenant {deployment_id} in the desired specs")


@pytest.fixture
def platform(api: Api) -> Platform:
    return api.platform


@pytest.fixture
async def dedicated(platform: Platform) -> tuple[str, Auth]:
    return await new_deployment(platform)
