"""Desired state → `contracts.BrokerSpec`: the only place the control plane describes a broker.

Pure: it reads rows and settings, never the database or the clock, so the same rows always give the same
spec (the supervisor compares specs to decide whether anything changed).

- A Dedicated deployment is `nodes` brokers with one tenant each. Its tcp and ws listeners are always
  open; tls and wss only while a certificate is installed. Ports come from the deployment row (allocated
  once), so they survive restarts.
- Its nodes: node 1 is broker `<id>` named `emqx@<id>`, node n is broker `<id>.<n>` named `emqx@<id>.<n>`
  (EMQX's `name@host` shape), each with its own data dir, ready file and admin port. With more than one
  node every node has the same listeners and tenant and `cluster` = the deployment's NATS cluster
  (listeners with SO_REUSEPORT); one node has no `cluster` and needs no NATS.
- Serverless deployments are tenants of one shared broker (`broker_id` "serverless") with tls and wss
  listeners only, the tenant chosen by SNI host name `<id>.<serverless domain>`, with the Serverless quotas
  of spec §1.10. A stopped Serverless deployment stays as a disabled tenant (its data is kept).
- A certificate's private key is stored sealed: it is opened here, with `SharedSecrets.box`, and
  nowhere else.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mqttcloud.contracts import (
    EVENT_BUFFER,
    AclRule,
    AdminSpec,
    BanRecord,
    BrokerSpec,
    ClusterSpec,
    Limits,
    ListenerKind,
    ListenerSpec,
    RuleSpec,
    TenantId,
    TenantSelector,
    TenantSpec,
    TlsMode,
    TlsSpec,
    TraceSpec,
    UserRecord,
)
from mqttcloud.control.at_rest import SecretBox
from mqttcloud.control.certificates.models import Certificate, TlsType
from mqttcloud.control.config import Settings
from mqttcloud.control.deployments.models import Deployment
from mqttcloud.control.deployments.service import SERVERLESS_BROKER_ID, serverless_host, serverless_ports
from mqttcloud.control.serverless.plans import apply_overrides

# Spec §1.10 Serverless quotas (not adjustable).
SERVERLESS_LIMITS = Limits(
    max_packet_size=1024 * 1024,
    max_subscriptions_per_client=10,
    max_topic_levels=10,
    max_publish_rate=10.0,
    max_queue_len=1000,
    max_clientid_len=1024,
    max_retained=2000,
    max_retained_size=1024 * 1024,
    max_session_expiry=7200,
    connect_timeout=10.0,
)


@dataclass(frozen=True, slots=True)
class TenantContent:
    """Authentication users, ACL rules, bans and data-integration rules of one deployment (from their own
    domains)."""

    users: Sequence[UserRecord] = ()
    acl: Sequence[AclRule] = ()
    banned: Sequence[BanRecord] = ()
    rules: Sequence[RuleSpec] = ()
    traces: Sequence[TraceSpec] = ()  # log traces (control/trace/)
    topic_metrics: Sequence[str] = ()  # topics counted (deployment_api/topic_metrics/)


@dataclass(frozen=True, slots=True)
class SharedSecrets:
    """Material not stored per deployment: the Serverless broker's admin token and server certificate,
    and the data key that opens stored private keys (None: keys are read as stored)."""

    serverless_admin_token: str
    serverless_tls: TlsSpec | None = None
    tenants: Mapping[str, TenantContent] = field(default_factory=dict)
    box: SecretBox | None = None


NODE_SEPARATOR = "."  # `<deployment id>.<n>`: a deployment id is a letter and hex digits, never a dot


def node_broker_id(deployment_id: str, index: int) -> str:
    """The broker id of node `index` (1-based) of a Dedicated deployment: node 1 keeps the bare id."""
    return deployment_id if index == 1 else f"{deployment_id}{NODE_SEPARATOR}{index}"


def node_count(deployment: Deployment) -> int:
    """`deployment.nodes`, also for a row built in memory and not flushed yet (its default unset)."""
    return deployment.nodes or 1


def node_ids(deployment_id: str, nodes: int) -> list[str]:
    return [node_broker_id(deployment_id, index) for index in range(1, nodes + 1)]


def split_broker_id(broker_id: str) -> tuple[str, int]:
    """(deployment id, node index) of a broker id; the Serverless broker is ("serverless", 1)."""
    deployment_id, _, index = broker_id.partition(NODE_SEPARATOR)
    return deployment_id, int(index) if index.isdecimal() else 1


def node_name(broker_id: str) -> str:
    """`emqx@<broker id>`: reported as `node` in API objects and rule events."""
    return f"emqx@{broker_id}"


def broker_paths(settings: Settings, broker_id: str) -> tuple[Path, Path]:
    """(data dir, ready file) of a broker: `<data-dir>/brokers/<id>/data` and `.../ready.json`."""
    base = settings.brokers_dir.resolve() / broker_id
    return base / "data", base / "ready.json"


def tls_spec(certificate: Certificate, box: SecretBox | None = None) -> TlsSpec:
    """The broker's TLS material; the stored key is opened with `box` (see `at_rest`)."""
    mode = TlsMode.TWO_WAY if certificate.tls_type is TlsType.TWO_WAY else TlsMode.ONE_WAY
    key_pem = certificate.key_pem if box is None else box.open(certificate.key_pem)
    return TlsSpec(cert_pem=certificate.cert_pem, key_pem=key_pem, mode=mode, ca_pem=certificate.ca_pem)


def _tenant(
    deployment: Deployment,
    content: TenantContent,
    *,
    limits: Limits,
    sni_hosts: Sequence[str] = (),
    enabled: bool = True,
) -> TenantSpec:
    return TenantSpec(
        tenant_id=TenantId(deployment.id),
        sni_hosts=list(sni_hosts),
        enabled=enabled,
        allow_anonymous=deployment.allow_anonymous and not deployment.deployment_type.is_serverless,  # §1.10
        users=list(content.users),
        acl=list(content.acl),
        banned=list(content.banned),
        rules=list(content.rules),
        traces=list(content.traces),
        topic_metrics=list(content.topic_metrics),
        limits=limits,
    )


def dedicated_specs(
    settings: Settings,
    deployment: Deployment,
    certificate: Certificate | None,
    content: TenantContent = TenantContent(),
    *,
    box: SecretBox | None = None,
    nats_url: str | None = None,
) -> list[BrokerSpec]:
    """The nodes of one Dedicated deployment, node 1 first.

    Raises:
        ValueError: more than one node and no `nats_url` to join them (the caller says why it failed).
    """
    single = dedicated_spec(settings, deployment, certificate, content, box)
    nodes = node_count(deployment)
    if nodes == 1:
        return [single]
    if nats_url is None:
        raise ValueError(f"deployment {deployment.id} has {nodes} nodes and no NATS server")
    cluster = ClusterSpec(nats_url=nats_url, name=deployment.id)
    specs = []
    for broker_id in node_ids(deployment.id, nodes):
        data_dir, ready_file = broker_paths(settings, broker_id)
        update = {
            "broker_id": broker_id,
            "node_name": node_name(broker_id),
            "data_dir": str(data_dir),
            "ready_file": str(ready_file),
            "cluster": cluster,
        }
        specs.append(single.model_copy(update=update))
    return specs


def dedicated_spec(
    settings: Settings,
    deployment: Deployment,
    certificate: Certificate | None,
    content: TenantContent = TenantContent(),
    box: SecretBox | None = None,
) -> BrokerSpec:
    """The broker of a one-node Dedicated deployment (`box` opens the certificate's stored key)."""
    data_dir, ready_file = broker_paths(settings, deployment.id)
    tenant = TenantId(deployment.id)
    host = settings.broker_host
    ports = (deployment.port_mqtt, deployment.port_ws, deployment.port_mqtts, deployment.port_wss)
    if any(port is None for port in ports):
        raise ValueError(f"deployment {deployment.id} has no ports allocated")
    mqtt, ws, mqtts, wss = (int(port or 0) for port in ports)
    listeners = [
        ListenerSpec(name="tcp:default", kind=ListenerKind.TCP, host=host, port=mqtt, tenant=tenant),
        ListenerSpec(name="ws:default", kind=ListenerKind.WS, host=host, port=ws, tenant=tenant),
    ]
    if certificate is not None:
        listeners += [
            ListenerSpec(name="ssl:default", kind=ListenerKind.TLS, host=host, port=mqtts, tenant=tenant),
            ListenerSpec(name="wss:default", kind=ListenerKind.WSS, host=host, port=wss, tenant=tenant),
        ]
    return BrokerSpec(
        broker_id=deployment.id,
        node_name=node_name(deployment.id),
        data_dir=str(data_dir),
        ready_file=str(ready_file),
        admin=AdminSpec(token=deployment.admin_token),
        listeners=listeners,
        tls=tls_spec(certificate, box) if certificate is not None else None,
        tenants=[_tenant(deployment, content, limits=Limits(max_connections=deployment.connections))],
        event_history=EVENT_BUFFER if settings.event_history else 0,  # taken by control/events/
    )


def serverless_spec(
    settings: Settings, deployments: Sequence[Deployment], shared: SharedSecrets
) -> BrokerSpec | None:
    """The shared Serverless broker, or None when no Serverless deployment should run."""
    if shared.serverless_tls is None or not any(d.desired_running for d in deployments):
        return None
    data_dir, ready_file = broker_paths(settings, SERVERLESS_BROKER_ID)
    mqtts, wss = serverless_ports(settings)
    host = settings.broker_host
    tenants = [
        _tenant(
            deployment,
            shared.tenants.get(deployment.id, TenantContent()),
            sni_hosts=[serverless_host(settings, deployment.id)],
            enabled=deployment.desired_running,
            limits=apply_overrides(SERVERLESS_LIMITS, settings.serverless_limits).model_copy(
                update={"max_connections": deployment.connections, "max_tenant_rate": float(deployment.tps)}
            ),
        )
        for deployment in sorted(deployments, key=lambda d: d.id)
    ]
    return BrokerSpec(
        broker_id=SERVERLESS_BROKER_ID,
        node_name="emqx@serverless",
        data_dir=str(data_dir),
        ready_file=str(ready_file),
        admin=AdminSpec(token=shared.serverless_admin_token),
        listeners=[
            ListenerSpec(
                name="ssl:default",
                kind=ListenerKind.TLS,
                host=host,
                port=mqtts,
                tenant_selector=TenantSelector.SNI,
            ),
            ListenerSpec(
                name="wss:default",
                kind=ListenerKind.WSS,
                host=host,
                port=wss,
                tenant_selector=TenantSelector.SNI,
            ),
        ],
        tls=shared.serverless_tls,
        tenants=tenants,
        event_history=0,  # Dedicated only, as EMQX offers it (control/events/)
    )


def needs_cluster(deployment: Deployment) -> bool:
    """Whether the deployment runs (or should run) nodes joined through NATS."""
    return (
        deployment.desired_running
        and not deployment.deployment_type.is_serverless
        and node_count(deployment) > 1
    )


def desired_specs(
    settings: Settings,
    deployments: Sequence[Deployment],
    certificates: Mapping[str, Certificate],
    shared: SharedSecrets,
    nats_url: str | None = None,
) -> list[BrokerSpec]:
    """Every broker that should run: the nodes of each desired-running Dedicated deployment, plus
    Serverless. A multi-node deployment is left out when there is no `nats_url`."""
    specs = [
        spec
        for d in deployments
        if d.desired_running
        and not d.deployment_type.is_serverless
        and (nats_url is not None or not needs_cluster(d))
        for spec in dedicated_specs(
            settings,
            d,
            certificates.get(d.id),
            shared.tenants.get(d.id, TenantContent()),
            box=shared.box,
            nats_url=nats_url,
        )
    ]
    serverless = serverless_spec(
        settings, [d for d in deployments if d.deployment_type.is_serverless], shared
    )
    if serverless is not None:
        specs.append(serverless)
    return specs
