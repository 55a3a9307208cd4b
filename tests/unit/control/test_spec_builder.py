"""Desired rows → BrokerSpec: listeners, ports, TLS, tenants, paths; Serverless on one shared broker."""

import datetime as dt
from pathlib import Path

from tests.certs import default_pki

from mqttcloud.contracts import ListenerKind, TenantSelector, TlsMode, TlsSpec, UserRecord
from mqttcloud.control.certificates.models import Certificate, TlsStatus, TlsType
from mqttcloud.control.config import Settings
from mqttcloud.control.deployments.models import Deployment, DeploymentStatus, DeploymentType
from mqttcloud.control.deployments.spec_builder import (
    SERVERLESS_LIMITS,
    SharedSecrets,
    TenantContent,
    dedicated_spec,
    desired_specs,
    serverless_spec,
)

SETTINGS = Settings(data_dir=Path("/srv/mqttcloud"), broker_port_low=30000, broker_port_high=30100)
SHARED = SharedSecrets("admin-token", TlsSpec(cert_pem="CERT", key_pem="KEY"))


def dedicated(deployment_id: str = "a1234567", *, running: bool = True) -> Deployment:
    return Deployment(
        id=deployment_id,
        name=f"deployment-{deployment_id}",
        project_id="default",
        deployment_type=DeploymentType.DEDICATED,
        platform="local",
        region="local",
        connections=250,
        tps=100,
        status=DeploymentStatus.RUNNING,
        desired_running=running,
        allow_anonymous=False,
        admin_token=f"token-{deployment_id}",
        port_mqtt=30002,
        port_ws=30003,
        port_mqtts=30004,
        port_wss=30005,
    )


def serverless(deployment_id: str, *, running: bool = True) -> Deployment:
    return Deployment(
        id=deployment_id,
        name="s",
        project_id="default",
        deployment_type=DeploymentType.SERVERLESS,
        platform="local",
        region="local",
        connections=1000,
        tps=1000,
        status=DeploymentStatus.RUNNING,
        desired_running=running,
        allow_anonymous=False,
        admin_token="unused",
    )


def certificate(deployment_id: str = "a1234567", tls_type: TlsType = TlsType.ONE_WAY) -> Certificate:
    pki = default_pki()
    return Certificate(
        deployment_id=deployment_id,
        tls_type=tls_type,
        cert_pem=pki.server_chain_pem,
        key_pem=pki.server.key_pem,
        ca_pem=pki.root.cert_pem if tls_type is TlsType.TWO_WAY else None,
        expire_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
        status=TlsStatus.PENDING,
    )


def test_dedicated_without_certificate_has_tcp_and_ws_only() -> None:
    spec = dedicated_spec(SETTINGS, dedicated(), None)
    assert [(listener.kind, listener.port) for listener in spec.listeners] == [
        (ListenerKind.TCP, 30002),
        (ListenerKind.WS, 30003),
    ]
    assert all(listener.tenant == "a1234567" for listener in spec.listeners)
    assert spec.tls is None
    assert spec.broker_id == "a1234567"
    assert spec.admin.token == "token-a1234567"
    assert spec.data_dir == "/srv/mqttcloud/brokers/a1234567/data"
    assert spec.ready_file == "/srv/mqttcloud/brokers/a1234567/ready.json"
    assert [t.tenant_id for t in spec.tenants] == ["a1234567"]
    assert spec.tenants[0].limits.max_connections == 250
    assert not spec.tenants[0].allow_anonymous


def test_dedicated_with_certificate_adds_tls_and_wss() -> None:
    spec = dedicated_spec(SETTINGS, dedicated(), certificate(tls_type=TlsType.TWO_WAY))
    assert [(listener.kind, listener.port) for listener in spec.listeners][2:] == [
        (ListenerKind.TLS, 30004),
        (ListenerKind.WSS, 30005),
    ]
    assert spec.tls is not None
    assert spec.tls.mode is TlsMode.TWO_WAY
    assert spec.tls.ca_pem == default_pki().root.cert_pem


def test_same_rows_give_equal_specs() -> None:
    """The supervisor compares specs to detect changes: building twice must not differ."""
    assert dedicated_spec(SETTINGS, dedicated(), certificate()) == dedicated_spec(
        SETTINGS, dedicated(), certificate()
    )


def test_tenant_content_is_carried() -> None:
    user = UserRecord(user_id="u", password_hash="h")
    spec = dedicated_spec(SETTINGS, dedicated(), None, TenantContent(users=[user]))
    assert spec.tenants[0].users == [user]


def test_serverless_tenants_share_one_sni_broker() -> None:
    spec = serverless_spec(SETTINGS, [serverless("b0000002"), serverless("b0000001", running=False)], SHARED)
    assert spec is not None
    assert spec.broker_id == "serverless"
    assert [(listener.kind, listener.port, listener.tenant_selector) for listener in spec.listeners] == [
        (ListenerKind.TLS, 30000, TenantSelector.SNI),
        (ListenerKind.WSS, 30001, TenantSelector.SNI),
    ]
    assert [(t.tenant_id, t.enabled, t.sni_hosts) for t in spec.tenants] == [
        ("b0000001", False, ["b0000001.serverless.localhost"]),
        ("b0000002", True, ["b0000002.serverless.localhost"]),
    ]
    assert (
        spec.tenants[1].limits.max_subscriptions_per_client
        == SERVERLESS_LIMITS.max_subscriptions_per_client
        == 10
    )
    assert spec.tls == SHARED.serverless_tls


def test_serverless_broker_runs_only_while_a_tenant_is_running() -> None:
    assert serverless_spec(SETTINGS, [serverless("b0000001", running=False)], SHARED) is None
    assert serverless_spec(SETTINGS, [], SHARED) is None


def test_desired_specs_skip_stopped_dedicated() -> None:
    specs = desired_specs(
        SETTINGS,
        [dedicated("a0000001"), dedicated("a0000002", running=False), serverless("b0000001")],
        {"a0000001": certificate("a0000001")},
        SHARED,
    )
    assert [spec.broker_id for spec in specs] == ["a0000001", "serverless"]
    assert specs[0].tls is not None
