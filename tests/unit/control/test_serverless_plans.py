"""Serverless plan quotas: §1.10 defaults, operator overrides (MQTTCLOUD_SERVERLESS_LIMITS), per tenant."""

from pathlib import Path

import pytest
from tests.certs import default_pki

from mqttcloud.contracts import Limits, TlsSpec
from mqttcloud.control.config import Settings
from mqttcloud.control.deployments.models import Deployment, DeploymentStatus, DeploymentType
from mqttcloud.control.deployments.spec_builder import SERVERLESS_LIMITS, SharedSecrets, serverless_spec
from mqttcloud.control.errors import ConfigError
from mqttcloud.control.serverless.plans import apply_overrides, parse_limit_overrides


def serverless(deployment_id: str, *, connections: int = 1000, tps: int = 1000) -> Deployment:
    return Deployment(
        id=deployment_id,
        name="s",
        project_id="default",
        deployment_type=DeploymentType.SERVERLESS,
        platform="local",
        region="local",
        connections=connections,
        tps=tps,
        status=DeploymentStatus.RUNNING,
        desired_running=True,
        allow_anonymous=True,  # asked for; Serverless never allows it
        admin_token="unused",
    )


def shared() -> SharedSecrets:
    pki = default_pki()
    return SharedSecrets("token", TlsSpec(cert_pem=pki.server_chain_pem, key_pem=pki.server.key_pem))


def test_defaults_are_the_spec_quotas_and_deployment_rows_give_connections_and_tps(tmp_path: Path) -> None:
    spec = serverless_spec(
        Settings(data_dir=tmp_path), [serverless("s1234567", connections=7, tps=300)], shared()
    )
    assert spec is not None
    [tenant] = spec.tenants
    assert tenant.allow_anonymous is False
    limits = tenant.limits
    assert (limits.max_subscriptions_per_client, limits.max_packet_size, limits.max_publish_rate) == (
        10,
        1024 * 1024,
        10.0,
    )
    assert (limits.max_retained, limits.max_clientid_len, limits.max_topic_levels) == (2000, 1024, 10)
    assert (limits.max_connections, limits.max_tenant_rate) == (7, 300.0)


def test_operator_overrides_apply_to_every_serverless_tenant(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "MQTTCLOUD_DATA_DIR": str(tmp_path),
            "MQTTCLOUD_SERVERLESS_LIMITS": "max_subscriptions_per_client=20, max_publish_rate=50",
        }
    )
    spec = serverless_spec(settings, [serverless("s1234567"), serverless("s7654321")], shared())
    assert spec is not None
    for tenant in spec.tenants:
        assert tenant.limits.max_subscriptions_per_client == 20
        assert tenant.limits.max_publish_rate == 50.0
        assert tenant.limits.max_packet_size == SERVERLESS_LIMITS.max_packet_size


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nonsense=1", "unknown Serverless limit"),
        ("max_connections=5", "comes from each deployment"),
        ("max_tenant_rate=5", "comes from each deployment"),
        ("max_publish_rate=fast", "bad Serverless limit"),
        ("max_subscriptions_per_client=-1", "must not be negative"),
        ("max_subscriptions_per_client", "field=value"),
    ],
)
def test_bad_overrides_fail_at_start_up(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_limit_overrides(value)
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({"MQTTCLOUD_SERVERLESS_LIMITS": value})


def test_no_overrides_keep_the_base_object() -> None:
    assert apply_overrides(SERVERLESS_LIMITS, {}) is SERVERLESS_LIMITS
    assert apply_overrides(Limits(), {"max_inflight": "8"}).max_inflight == 8
