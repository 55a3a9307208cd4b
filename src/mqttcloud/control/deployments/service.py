"""Deployment use cases: create, list, read, rename, resize, start, stop, delete, and the supervisor's
status reports.

These functions change only the database (the desired state). The caller then asks the broker runtime
to reconcile (`control/deployments/lifecycle.py`); no HTTP handler touches a process.

State rules (spec §4 item 7):
    create            → pending   (the supervisor then reports starting → running)
    start  stopped    → starting  (also from failed: a retry)
    stop   running    → stopping  (from failed: straight to stopped, nothing runs)
Any other start/stop is a 422 `INVALID_DEPLOYMENT_STATE` naming the current state. `nodes` (how many
broker processes run a Dedicated deployment) may change in any state; a Serverless deployment is a tenant
of the shared broker and has exactly one node (anything else is a 422 on the field `nodes`).
"""

import datetime as dt
import secrets
import socket
import string
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mqttcloud.control.certificates.models import Certificate
from mqttcloud.control.config import Settings
from mqttcloud.control.deployments.models import Deployment, DeploymentStatus, PortAllocation
from mqttcloud.control.deployments.schemas import (
    PLATFORM_DISPLAY_NAMES,
    DeploymentCreate,
    DeploymentOperation,
    DeploymentOut,
    DeploymentUpdate,
    Endpoints,
)
from mqttcloud.control.errors import Conflict, Invalid, NotFound
from mqttcloud.control.projects import service as projects
from mqttcloud.control.projects.models import Project

PORTS_PER_DEDICATED = 4  # mqtt, ws, mqtts, wss
SERVERLESS_BROKER_ID = "serverless"
_ID_ALPHABET = "0123456789abcdef"
_ID_ATTEMPTS = 20


@dataclass(frozen=True, slots=True)
class DeploymentView:
    """A deployment with what its API object needs from other tables."""

    deployment: Deployment
    project_name: str
    has_certificate: bool


def new_deployment_id() -> str:
    """EMQX-style id: a lower-case letter then 7 hex digits, e.g. `w41b11c0`."""
    return secrets.choice(string.ascii_lowercase) + "".join(secrets.choice(_ID_ALPHABET) for _ in range(7))


def serverless_ports(settings: Settings) -> tuple[int, int]:
    """The shared Serverless broker's mqtts and wss ports: the first two of the range, reserved."""
    return settings.broker_port_low, settings.broker_port_low + 1


def serverless_host(settings: Settings, deployment_id: str) -> str:
    return f"{deployment_id}.{settings.serverless_domain}"


def _is_bindable(host: str, port: int) -> bool:
    """Whether nothing else listens on the port now (a port taken outside mqttcloud is skipped)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's listeners bind
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _allocate_ports(session: Session, settings: Settings, deployment_id: str) -> list[int]:
    taken = set(session.scalars(select(PortAllocation.port)))
    chosen: list[int] = []
    for port in range(settings.broker_port_low + 2, settings.broker_port_high + 1):
        if port in taken or not _is_bindable(settings.broker_host, port):
            continue
        chosen.append(port)
        if len(chosen) == PORTS_PER_DEDICATED:
            break
    if len(chosen) < PORTS_PER_DEDICATED:
        raise Conflict(
            f"no free broker ports left in {settings.broker_port_low}-{settings.broker_port_high}",
            code="NO_FREE_PORTS",
        )
    session.add_all(PortAllocation(port=port, deployment_id=deployment_id) for port in chosen)
    return chosen


def create_deployment(session: Session, *, settings: Settings, request: DeploymentCreate) -> Deployment:
    """Create a deployment in `pending` with desired state running.

    Raises:
        NotFound: the project does not exist.
        Conflict: no free ports are left in the configured range.
    """
    projects.get_project(session, project_id=request.project_id)
    _check_nodes(serverless=request.deployment_type.is_serverless, nodes=request.nodes)
    for _attempt in range(_ID_ATTEMPTS):
        deployment_id = new_deployment_id()
        deployment = Deployment(
            id=deployment_id,
            name=request.deployment_name or f"deployment-{deployment_id}",
            project_id=request.project_id,
            deployment_type=request.deployment_type,
            version=request.deployment_version,
            platform=request.platform,
            region=request.region,
            connections=request.connections,
            tps=request.tps,
            status=DeploymentStatus.PENDING,
            status_message="",
            desired_running=True,
            allow_anonymous=request.allow_anonymous,
            nodes=request.nodes,
            admin_token=secrets.token_urlsafe(32),
        )
        session.add(deployment)
        try:
            session.flush()
            if not request.deployment_type.is_serverless:
                ports = _allocate_ports(session, settings, deployment_id)
                deployment.port_mqtt, deployment.port_ws, deployment.port_mqtts, deployment.port_wss = ports
            session.commit()
        except IntegrityError:  # id collision, or another process took the same ports: try again
            session.rollback()
            continue
        except Conflict:
            session.rollback()
            raise
        return deployment
    raise Conflict("could not allocate a deployment id and ports; try again", code="ALLOCATION_FAILED")


def _check_nodes(*, serverless: bool, nodes: int) -> None:
    if serverless and nodes != 1:
        raise Invalid(
            "A Serverless deployment runs on the shared broker: nodes must be 1",
            code="INVALID_PARAMETERS",
            field="nodes",
        )


def update_deployment(session: Session, *, deployment_id: str, request: DeploymentUpdate) -> Deployment:
    """Rename a deployment and/or change how many nodes run it (the supervisor adds or stops nodes at the
    next reconcile); a field the request leaves out keeps its value.

    Raises:
        NotFound: no such deployment.
        Invalid: a blank name (422 on `deploymentName`); a Serverless deployment asked for more than one
            node (422 on `nodes`).
    """
    deployment = get_deployment(session, deployment_id=deployment_id)
    name = None if request.deployment_name is None else request.deployment_name.strip()
    if name == "":
        raise Invalid("deploymentName must not be blank", code="INVALID_PARAMETERS", field="deploymentName")
    if request.nodes is not None:
        _check_nodes(serverless=deployment.deployment_type.is_serverless, nodes=request.nodes)
    if name is not None:
        deployment.name = name
    if request.nodes is not None:
        deployment.nodes = request.nodes  # the status follows the nodes' (`lifecycle.BrokerRuntime`)
    # Commit even when nothing changed: it ends the transaction, which must not stay open (and on
    # SQLite hold its lock) while the route reconciles the brokers.
    session.commit()
    return deployment


def _views(
    session: Session, *, deployment_id: str | None = None, visible_projects: Collection[str] | None = None
) -> list[DeploymentView]:
    # One read-only join instead of one query per domain: this builds the API object of the hot
    # `GET /deployments/{id}`; writes to projects and certificates still go through their services.
    query = (
        select(Deployment, Project.name, Certificate.deployment_id)
        .join(Project, Project.id == Deployment.project_id)
        .outerjoin(Certificate, Certificate.deployment_id == Deployment.id)
        .order_by(Deployment.created_at, Deployment.id)
        .execution_options(populate_existing=True)  # the status may have changed in another session
    )
    if deployment_id is not None:
        query = query.where(Deployment.id == deployment_id)
    if visible_projects is not None:
        query = query.where(Deployment.project_id.in_(list(visible_projects)))
    return [
        DeploymentView(deployment, project_name, cert_id is not None)
        for deployment, project_name, cert_id in session.execute(query)
    ]


def list_views(session: Session, *, visible_projects: Collection[str] | None = None) -> list[DeploymentView]:
    """Every deployment, or those in the given projects (a key's project scope)."""
    return _views(session, visible_projects=visible_projects)


def get_view(session: Session, *, deployment_id: str) -> DeploymentView:
    views = _views(session, deployment_id=deployment_id)
    if not views:
        raise NotFound(f"Deployment {deployment_id} not found", code="DEPLOYMENT_NOT_FOUND")
    return views[0]


def get_deployment(session: Session, *, deployment_id: str) -> Deployment:
    deployment = session.get(Deployment, deployment_id)
    if deployment is None:
        raise NotFound(f"Deployment {deployment_id} not found", code="DEPLOYMENT_NOT_FOUND")
    return deployment


def endpoints(settings: Settings, deployment: Deployment, *, has_certificate: bool) -> Endpoints:
    """The listener addresses clients use. Dedicated: mqtt+ws always, mqtts+wss with a certificate."""
    if deployment.deployment_type.is_serverless:
        host = serverless_host(settings, deployment.id)
        mqtts, wss = serverless_ports(settings)
        return Endpoints(mqtts=f"{host}:{mqtts}", wss=f"{host}:{wss}")
    host = settings.advertised_host
    if ":" in host:
        host = f"[{host}]"

    def address(port: int | None) -> str | None:
        return None if port is None else f"{host}:{port}"

    return Endpoints(
        mqtt=address(deployment.port_mqtt),
        ws=address(deployment.port_ws),
        mqtts=address(deployment.port_mqtts) if has_certificate else None,
        wss=address(deployment.port_wss) if has_certificate else None,
    )


def format_create_at(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")


def to_schema(settings: Settings, view: DeploymentView) -> DeploymentOut:
    deployment = view.deployment
    return DeploymentOut(
        connections=deployment.connections,
        tps=deployment.tps,
        create_at=format_create_at(deployment.created_at),
        deployment_id=deployment.id,
        deployment_name=deployment.name,
        deployment_type=deployment.deployment_type,
        platform=PLATFORM_DISPLAY_NAMES.get(deployment.platform, deployment.platform),
        region=deployment.region,
        status=deployment.status,
        status_reason=deployment.status_message or None,
        project_id=deployment.project_id,
        project_name=view.project_name,
        version=deployment.version,
        endpoints=endpoints(settings, deployment, has_certificate=view.has_certificate),
        nodes=deployment.nodes,
    )


def start_deployment(session: Session, *, deployment_id: str) -> DeploymentOperation:
    """Ask for a stopped (or failed) deployment to run again.

    Raises:
        NotFound: no such deployment.
        Invalid: the deployment is not stopped (422 INVALID_DEPLOYMENT_STATE).
    """
    deployment = get_deployment(session, deployment_id=deployment_id)
    if deployment.status not in {DeploymentStatus.STOPPED, DeploymentStatus.FAILED}:
        raise Invalid(
            f"Deployment {deployment_id} is {deployment.status.value}; "
            "only a stopped deployment can be started",
            code="INVALID_DEPLOYMENT_STATE",
        )
    deployment.desired_running = True
    deployment.status = DeploymentStatus.STARTING
    deployment.status_message = ""
    session.commit()
    return DeploymentOperation(
        deployment_id=deployment.id, deployment_name=deployment.name, operation="starting"
    )


def stop_deployment(session: Session, *, deployment_id: str) -> DeploymentOperation:
    """Ask for a running deployment to stop. Raises: NotFound, Invalid (not running)."""
    deployment = get_deployment(session, deployment_id=deployment_id)
    if deployment.status not in {DeploymentStatus.RUNNING, DeploymentStatus.FAILED}:
        raise Invalid(
            f"Deployment {deployment_id} is {deployment.status.value}; "
            "only a running deployment can be stopped",
            code="INVALID_DEPLOYMENT_STATE",
        )
    deployment.desired_running = False
    deployment.status = (
        DeploymentStatus.STOPPED
        if deployment.status is DeploymentStatus.FAILED
        else DeploymentStatus.STOPPING
    )
    session.commit()
    return DeploymentOperation(
        deployment_id=deployment.id, deployment_name=deployment.name, operation="stopping"
    )


def delete_deployment(session: Session, *, deployment_id: str) -> None:
    """Delete a deployment in any state; its broker is stopped by the next reconcile."""
    deployment = get_deployment(session, deployment_id=deployment_id)
    session.delete(deployment)
    session.commit()


def desired_deployments(session: Session) -> list[Deployment]:
    """Every deployment with its desired state (the supervisor's input)."""
    return list(session.scalars(select(Deployment).order_by(Deployment.id)))


def count_by_status(session: Session) -> dict[DeploymentStatus, int]:
    """How many deployments are in each status (every status present, zero included): for `/metrics`."""
    counts = dict.fromkeys(DeploymentStatus, 0)
    rows = session.execute(select(Deployment.status, func.count()).group_by(Deployment.status))
    for status, count in rows:
        counts[status] = count
    return counts


def record_status(
    session: Session, *, deployment_id: str, status: DeploymentStatus, message: str = ""
) -> Deployment | None:
    """Apply a status observed by the supervisor, ignoring reports that contradict the desired state.

    A `stopped` report while the user wants the deployment running (or `starting`/`running` while it
    should stop) is a stale event from before the last request: it is dropped. `failed` always sticks.
    Returns the deployment, or None when it no longer exists.
    """
    deployment = session.get(Deployment, deployment_id)
    if deployment is None:
        return None
    wanted = deployment.desired_running
    consistent = status is DeploymentStatus.FAILED or (
        (wanted and status in {DeploymentStatus.STARTING, DeploymentStatus.RUNNING})
        or (not wanted and status in {DeploymentStatus.STOPPING, DeploymentStatus.STOPPED})
    )
    if consistent and (deployment.status is not status or deployment.status_message != message):
        deployment.status = status
        deployment.status_message = message
        session.commit()
    return deployment
