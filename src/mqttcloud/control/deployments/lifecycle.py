"""Glue between the desired state in the database and the broker supervisor.

`BrokerRuntime.reconcile()` reads every deployment (and certificate) from the database, builds the specs
with `spec_builder` (one per node) and hands the complete set to the supervisor. A deployment with more
than one node needs NATS: the given `MQTTCLOUD_NATS_URL`, or a local nats-server started on first need
(`supervisor/nats.py`); when none can be had, that deployment fails with the reason and the others run.
The supervisor's callbacks come back here and update the database: node statuses → deployment status
(`policy.combined_status`: running once every node runs; a failure with its reason, from `failure.py`),
and a spec generation applied by a broker → the certificate it serves is `running`, Serverless tenants
enabled/disabled → running/stopped.

At start (`restore`) private keys stored in plain text by an older version are sealed. A deleted
deployment's broker folder (spec with its admin token, user hashes, message store, logs) is removed once
no process of it runs: when its broker reports stopped, or at the next reconcile if none ran.

Rules: HTTP handlers call only `reconcile()` after their service committed; nothing here holds a process
handle; database work runs in a worker thread (`asyncio.to_thread`), never on the event loop.
"""

import asyncio
import dataclasses
import logging
import shutil
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from mqttcloud.contracts import BrokerSpec, ReadyFile
from mqttcloud.control.at_rest import SecretBox
from mqttcloud.control.broker_client import BrokerClient
from mqttcloud.control.certificates import service as certificates
from mqttcloud.control.config import Settings
from mqttcloud.control.db import Database
from mqttcloud.control.deployment_api import access as deployment_api_access
from mqttcloud.control.deployment_api.integration import store as integration
from mqttcloud.control.deployments import failure, spec_builder
from mqttcloud.control.deployments import service as deployments
from mqttcloud.control.deployments.models import Deployment, DeploymentStatus, DeploymentType
from mqttcloud.control.supervisor import BrokerStatus, policy, processes
from mqttcloud.control.supervisor.nats import GivenNats, LocalNats, NatsProvider, NatsUnavailable

logger = logging.getLogger(__name__)

_STATUS_MAP = {
    BrokerStatus.STARTING: DeploymentStatus.STARTING,
    BrokerStatus.RUNNING: DeploymentStatus.RUNNING,
    BrokerStatus.STOPPING: DeploymentStatus.STOPPING,
    BrokerStatus.STOPPED: DeploymentStatus.STOPPED,
    BrokerStatus.FAILED: DeploymentStatus.FAILED,
}
_KEPT_GENERATIONS = 8


class SupervisorLike(Protocol):
    """What the runtime needs from `control.supervisor.Supervisor` (a fake in in-process tests)."""

    async def set_desired(self, specs: Sequence[BrokerSpec]) -> dict[str, int]: ...

    async def retry(self, broker_id: str) -> bool: ...

    def status(self, broker_id: str) -> BrokerStatus | None: ...

    def client(self, broker_id: str) -> BrokerClient | None:
        """The admin client of a running broker (None: not running)."""
        ...

    def ready(self, broker_id: str) -> ReadyFile | None:
        """What the running broker last reported (its applied spec generation); None: not running."""
        ...


@dataclasses.dataclass(frozen=True, slots=True)
class _Plan:
    """What one reconcile hands over, read from the database in one go."""

    specs: list[BrokerSpec]
    retry: list[str]  # broker ids whose failure a start request clears
    nodes: Mapping[str, list[str]]  # Dedicated deployment id → its node broker ids
    waiting: list[str]  # multi-node deployments left out for want of a NATS URL


def nats_provider(settings: Settings) -> NatsProvider:
    """`MQTTCLOUD_NATS_URL` when set, else a local nats-server under `<data-dir>/nats`."""
    if settings.nats_url is not None:
        return GivenNats(settings.nats_url)
    return LocalNats(settings.nats_dir, port=settings.nats_port, binary=settings.nats_server)


class BrokerRuntime:
    """Reconciles the database's desired state with the supervisor and records what it reports."""

    def __init__(self, settings: Settings, database: Database, shared: spec_builder.SharedSecrets):
        self.settings = settings
        self.database = database
        self.shared = shared
        self.secrets = SecretBox.for_settings(settings)
        self.supervisor: SupervisorLike | None = None
        # called first with each status the supervisor reports (the shadow relays start and stop with it)
        self.status_listeners: list[Callable[[str, BrokerStatus], None]] = []
        self._live: set[str] = set()  # broker ids whose process may run (last status not stopped/failed)
        self._lock = asyncio.Lock()
        self._specs: dict[str, dict[int, BrokerSpec]] = {}  # broker id → generation → spec handed over
        self._early_applied: dict[str, int] = {}  # applied before set_desired returned its generation
        self.nats = nats_provider(settings)
        self._nats_url: str | None = None  # known once a multi-node deployment needed it
        self._nodes: Mapping[str, list[str]] = {}  # deployment id → node broker ids, as last reconciled
        self._desired_ids: set[str] = set()  # broker ids handed to the supervisor last time

    def attach(self, supervisor: SupervisorLike) -> None:
        self.supervisor = supervisor

    def node_ids(self, deployment_id: str) -> list[str]:
        """The broker ids of a Dedicated deployment's nodes, node 1 first (its id alone until reconciled)."""
        return list(self._nodes.get(deployment_id, [deployment_id]))

    def running_nodes(self, broker_id: str) -> list[tuple[str, BrokerClient]]:
        """(node name, admin client) of each running node of a deployment's broker, node 1 first.

        `broker_id` is a Dedicated deployment's id (its nodes) or the Serverless broker's (itself)."""
        if self.supervisor is None:
            return []
        members = [broker_id] if broker_id == deployments.SERVERLESS_BROKER_ID else self.node_ids(broker_id)
        running = ((member, self.supervisor.client(member)) for member in members)
        return [(spec_builder.node_name(member), client) for member, client in running if client is not None]

    async def close(self) -> None:
        """At platform shutdown, once the brokers are stopped: stop the local nats-server, if one runs."""
        await self.nats.close()

    def desired_generation(self, broker_id: str) -> int | None:
        """The newest spec generation handed to the supervisor for `broker_id` (None: none handed yet)."""
        kept = self._specs.get(broker_id)
        return max(kept) if kept else None

    # ----------------------------------------------------------------------------------------------
    # Control plane → supervisor
    # ----------------------------------------------------------------------------------------------

    async def restore(self) -> None:
        """At platform start: nothing runs yet, so reported states restart from `starting`/`stopped`."""
        sealed, connectors = await asyncio.to_thread(self._seal_plain_secrets)
        if sealed:
            logger.info("sealed %d private key(s) stored in plain text", sealed)
        if connectors:
            logger.info("sealed the passwords of %d connector(s) stored in plain text", connectors)
        await asyncio.to_thread(self._reset_statuses)
        await self.reconcile()

    def _seal_plain_secrets(self) -> tuple[int, int]:
        with self.database.session() as session:
            keys = certificates.seal_plain_keys(session, box=self.secrets)
            return keys, integration.seal_plain_passwords(session, box=self.secrets)

    def _reset_statuses(self) -> None:
        with self.database.session() as session:
            for deployment in session.scalars(select(Deployment)):
                if deployment.desired_running and deployment.status is not DeploymentStatus.PENDING:
                    deployment.status = DeploymentStatus.STARTING
                    deployment.status_message = ""
                elif not deployment.desired_running:
                    deployment.status = DeploymentStatus.STOPPED
            session.commit()

    async def reconcile(self) -> None:
        """Hand the supervisor the complete desired set, as the database has it now."""
        if self.supervisor is None:
            return
        async with self._lock:
            plan = await asyncio.to_thread(self._load, self._nats_url)
            if plan.waiting:
                try:
                    self._nats_url = await self.nats.url()
                except NatsUnavailable as exc:
                    logger.warning("multi-node deployments cannot run: %s", exc)
                    await asyncio.to_thread(self._fail, plan.waiting, str(exc))
                else:
                    plan = await asyncio.to_thread(self._load, self._nats_url)
            specs, retry_ids = plan.specs, plan.retry
            resized = [d for d, ids in plan.nodes.items() if d in self._nodes and self._nodes[d] != ids]
            self._nodes = plan.nodes
            self._desired_ids = {spec.broker_id for spec in specs}
            generations = await self.supervisor.set_desired(specs)
            for deployment_id in resized:  # nodes added (starting) or removed (maybe all others run)
                await self._refresh_status(deployment_id)
            by_id = {spec.broker_id: spec for spec in specs}
            for broker_id, generation in generations.items():
                kept = self._specs.setdefault(broker_id, {})
                kept[generation] = by_id[broker_id]
                for old in sorted(kept)[:-_KEPT_GENERATIONS]:
                    del kept[old]
            for broker_id in retry_ids:
                if self.supervisor.status(broker_id) is BrokerStatus.FAILED:
                    await self.supervisor.retry(broker_id)
            for broker_id in await asyncio.to_thread(self._leftover_dirs):
                await processes.remove_broker_dir(self.settings.brokers_dir, broker_id)
            early = [(b, g) for b, g in self._early_applied.items() if g in self._specs.get(b, {})]
            for broker_id, _generation in early:
                del self._early_applied[broker_id]
        for broker_id, generation in early:
            await self.on_applied(broker_id, generation)

    def _load(self, nats_url: str | None) -> _Plan:
        with self.database.session() as session:
            rows = deployments.desired_deployments(session)
            certs = certificates.certificates_by_deployment(session)
            # Deployment API (P7): each tenant's users, ACL rules and bans come from deployment_api's tables.
            tenants = {
                deployment_id: dataclasses.replace(
                    content, rules=integration.open_passwords(content.rules, self.secrets)
                )  # connector passwords are stored sealed (at_rest.py), opened only here
                for deployment_id, content in deployment_api_access.tenant_contents(session).items()
            }
            shared = dataclasses.replace(self.shared, tenants=tenants, box=self.secrets)
            specs = spec_builder.desired_specs(self.settings, rows, certs, shared, nats_url)
            nodes = {
                d.id: spec_builder.node_ids(d.id, spec_builder.node_count(d))
                for d in rows
                if not d.deployment_type.is_serverless
            }
            # A start requested after a failure: the supervisor must forget the crash history.
            restarted = [d for d in rows if d.desired_running and d.status is DeploymentStatus.STARTING]
            retry = [broker_id for d in restarted for broker_id in nodes.get(d.id, [])]
            if any(d.deployment_type.is_serverless for d in restarted):
                retry.append(deployments.SERVERLESS_BROKER_ID)
            waiting = [d.id for d in rows if spec_builder.needs_cluster(d)] if nats_url is None else []
            return _Plan(specs, retry, nodes, waiting)

    def _fail(self, deployment_ids: Sequence[str], reason: str) -> None:
        with self.database.session() as session:
            for deployment_id in deployment_ids:
                deployments.record_status(
                    session, deployment_id=deployment_id, status=DeploymentStatus.FAILED, message=reason
                )

    # ----------------------------------------------------------------------------------------------
    # Supervisor → database (callbacks)
    # ----------------------------------------------------------------------------------------------

    def _leftover_dirs(self) -> list[str]:
        """Broker folders of deleted deployments (and of nodes past a deployment's `nodes`) with no
        process of them running."""
        brokers_dir = self.settings.brokers_dir
        if not brokers_dir.is_dir():
            return []
        with self.database.session() as session:
            node_counts = {
                row.id: row.nodes for row in session.execute(select(Deployment.id, Deployment.nodes))
            }
        kept = self._live | self._desired_ids | {deployments.SERVERLESS_BROKER_ID}

        def is_kept(name: str) -> bool:
            deployment_id, index = spec_builder.split_broker_id(name)
            return name in kept or index <= node_counts.get(deployment_id, 0)

        return sorted(p.name for p in brokers_dir.iterdir() if p.is_dir() and not is_kept(p.name))

    async def on_status(self, broker_id: str, status: BrokerStatus, detail: str) -> None:
        for listener in list(self.status_listeners):
            listener(broker_id, status)
        logger.info("broker %s is %s %s", broker_id, status.value, detail)
        if status in {BrokerStatus.STOPPED, BrokerStatus.FAILED}:
            self._live.discard(broker_id)
        else:
            self._live.add(broker_id)
        if broker_id == deployments.SERVERLESS_BROKER_ID:
            await asyncio.to_thread(self._record_status, broker_id, status, detail)
            return
        deployment_id, _index = spec_builder.split_broker_id(broker_id)
        members = self._nodes.get(deployment_id, [deployment_id])
        if broker_id in members:  # not a node being retired (fewer nodes): those say nothing
            combined = policy.combined_status(
                status if member == broker_id else self._node_status(member) for member in members
            )
            # A failed node's reason stays until the deployment is started again.
            if combined is not BrokerStatus.FAILED or status is BrokerStatus.FAILED:
                await asyncio.to_thread(self._record_status, broker_id, combined, detail)
        if status is BrokerStatus.STOPPED:
            await asyncio.to_thread(self._remove_if_deleted, broker_id)

    async def _refresh_status(self, deployment_id: str) -> None:
        """Record a deployment's status from its nodes' after its set of nodes changed."""
        combined = policy.combined_status(self._node_status(member) for member in self._nodes[deployment_id])
        if combined is not BrokerStatus.FAILED:  # a failure comes with its reason, from its own report
            await asyncio.to_thread(self._record_status, deployment_id, combined, "")

    def _node_status(self, broker_id: str) -> BrokerStatus:
        status = self.supervisor.status(broker_id) if self.supervisor is not None else None
        if status is not None:
            return status
        return BrokerStatus.STARTING if broker_id in self._desired_ids else BrokerStatus.STOPPED

    def _record_status(self, broker_id: str, status: BrokerStatus, detail: str) -> None:
        """Record `status` for the deployment of `broker_id` (a node's) or the Serverless tenants."""
        new_status = _STATUS_MAP[status]
        message = ""
        if status is BrokerStatus.FAILED:  # the broker's own last error says why (a port taken, a bad file)
            log_path = processes.broker_dir(self.settings.brokers_dir, broker_id) / processes.LOG_FILE
            message = failure.reason(detail, log_path)
        with self.database.session() as session:
            if broker_id != deployments.SERVERLESS_BROKER_ID:
                deployment_id, _index = spec_builder.split_broker_id(broker_id)
                deployments.record_status(
                    session, deployment_id=deployment_id, status=new_status, message=message
                )
                return
            # The shared broker: its state is the state of every tenant that follows it.
            for deployment in self._serverless(session):
                if status is BrokerStatus.RUNNING:
                    continue  # tenants become running when a spec enabling them is applied
                if status is BrokerStatus.FAILED and not deployment.desired_running:
                    continue  # a stopped tenant is not failed by the shared broker's crashes
                deployments.record_status(
                    session, deployment_id=deployment.id, status=new_status, message=message
                )

    def _remove_if_deleted(self, broker_id: str) -> None:
        deployment_id, _index = spec_builder.split_broker_id(broker_id)
        with self.database.session() as session:
            if session.get(Deployment, deployment_id) is not None:
                return
        shutil.rmtree(self.settings.brokers_dir / broker_id, ignore_errors=True)

    async def on_applied(self, broker_id: str, generation: int) -> None:
        spec = self._specs.get(broker_id, {}).get(generation)
        if spec is None:
            self._early_applied[broker_id] = generation
            return
        await asyncio.to_thread(self._record_applied, broker_id, spec)

    def _record_applied(self, broker_id: str, spec: BrokerSpec) -> None:
        with self.database.session() as session:
            if broker_id == deployments.SERVERLESS_BROKER_ID:
                for tenant in spec.tenants:
                    status = DeploymentStatus.RUNNING if tenant.enabled else DeploymentStatus.STOPPED
                    deployments.record_status(session, deployment_id=tenant.tenant_id, status=status)
                return
            certificates.mark_served(
                session,
                deployment_id=spec_builder.split_broker_id(broker_id)[0],
                cert_pem=spec.tls.cert_pem if spec.tls is not None else None,
            )

    @staticmethod
    def _serverless(session: Session) -> list[Deployment]:
        return list(
            session.scalars(select(Deployment).where(Deployment.deployment_type == DeploymentType.SERVERLESS))
        )
