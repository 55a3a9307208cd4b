"""Deployment API keys: App ID + App Secret per deployment (spec §1.3, §4 items 1-2).

The secret is generated here, returned once by `create_key` and stored only as `hash_api_secret(secret)`.
Keys carry optional permissions (Dedicated v5): a list of "METHOD:group" entries, METHOD one of GET, POST,
PUT, DELETE or "*", group one of `GROUPS`; None means full access (Serverless, Dedicated v4).
Who may manage keys (spec §1.9, "REST API configuration"): root, Administrator, Project Administrator and
Project User; Accountant and Auditor may only list them.
"""

import secrets
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mqttcloud.control.accounts.models import Account, Role
from mqttcloud.control.deployment_api.keys.models import DeploymentApiKey
from mqttcloud.control.deployments import service as deployments
from mqttcloud.control.errors import Forbidden, Invalid, NotFound
from mqttcloud.passwords import hash_api_secret

GROUPS = (
    "clients",
    "subscriptions",
    "publish",
    "authentication",
    "authorization",
    "banned",
    "metrics",
    "shadows",
    "rules",  # data integration: rules, connectors, actions (v4 resources)
    "trace",  # log traces (control/trace/)
    "retainer",  # retained messages (deployment_api/retained/), EMQX's tag for /mqtt/retainer
)
METHODS = ("GET", "POST", "PUT", "DELETE", "*")
_APP_ID_ALPHABET = string.ascii_lowercase + string.digits
_MANAGERS = {Role.ROOT, Role.ADMINISTRATOR, Role.PROJECT_ADMINISTRATOR, Role.PROJECT_USER}
MAX_KEYS_PER_DEPLOYMENT = 100


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: DeploymentApiKey
    secret: str  # shown once


def new_app_id() -> str:
    """An App ID like EMQX's (`j11c5ff1`): 8 characters, a letter first."""
    first = secrets.choice(string.ascii_lowercase)
    return first + "".join(secrets.choice(_APP_ID_ALPHABET) for _ in range(7))


def check_permissions(permissions: Iterable[str] | None) -> list[str] | None:
    """Normalise "METHOD:group" entries. Raises: Invalid for an unknown method or group."""
    if permissions is None:
        return None
    result: list[str] = []
    for entry in permissions:
        method, sep, group = entry.strip().partition(":")
        method = method.upper()
        if not sep or method not in METHODS or group not in (*GROUPS, "*"):
            raise Invalid(
                f"permission {entry!r} must be METHOD:group with METHOD in {', '.join(METHODS)} "
                f"and group in {', '.join(GROUPS)} or *",
                code="INVALID_PARAMETERS",
                field="permissions",
            )
        if f"{method}:{group}" not in result:
            result.append(f"{method}:{group}")
    return result


def allows(permissions: Sequence[str] | None, method: str, group: str) -> bool:
    """Whether a key with these permissions may call `method` on an endpoint of `group`."""
    if permissions is None:
        return True
    method = "GET" if method == "HEAD" else method
    wanted = {f"{method}:{group}", f"*:{group}", f"{method}:*", "*:*"}
    return any(p in wanted for p in permissions)


_PROJECT_ROLES = {Role.PROJECT_ADMINISTRATOR, Role.PROJECT_USER}


def _require_manager(actor: Account | None, project_id: str) -> None:
    """Raises: Forbidden unless the actor's role manages keys and (project roles) sees the project."""
    if actor is None:
        return
    if actor.role not in _MANAGERS:
        raise Forbidden("this role may not manage deployment API keys", code="FORBIDDEN")
    if actor.role in _PROJECT_ROLES and project_id not in (actor.project_ids or []):
        raise Forbidden("this account has no access to the deployment's project", code="FORBIDDEN")


def create_key(
    session: Session,
    *,
    deployment_id: str,
    actor: Account | None = None,
    note: str = "",
    permissions: Iterable[str] | None = None,
) -> CreatedKey:
    """Mint a key for a deployment (actor None: the operator's command line).

    Raises:
        NotFound: no such deployment. Forbidden: the actor's role may not manage keys.
        Invalid: bad permissions, a note over 255 characters, or too many keys.
    """
    deployment = deployments.get_deployment(session, deployment_id=deployment_id)
    _require_manager(actor, deployment.project_id)
    if len(note) > 255:
        raise Invalid("note must be at most 255 characters", code="INVALID_PARAMETERS", field="note")
    if len(list_keys(session, deployment_id=deployment_id)) >= MAX_KEYS_PER_DEPLOYMENT:
        raise Invalid(
            f"at most {MAX_KEYS_PER_DEPLOYMENT} keys per deployment", code="QUOTA_EXCEEDED", field="note"
        )
    secret = secrets.token_hex(16)
    key = DeploymentApiKey(
        app_id=new_app_id(),
        secret_hash=hash_api_secret(secret),
        deployment_id=deployment_id,
        note=note,
        permissions=check_permissions(permissions),
    )
    session.add(key)
    session.commit()
    return CreatedKey(key, secret)


def list_keys(session: Session, *, deployment_id: str) -> list[DeploymentApiKey]:
    query = select(DeploymentApiKey).where(DeploymentApiKey.deployment_id == deployment_id)
    return list(session.scalars(query.order_by(DeploymentApiKey.id)))


def delete_key(session: Session, *, deployment_id: str, app_id: str, actor: Account | None = None) -> None:
    """Raises: NotFound (no such key on this deployment), Forbidden (role)."""
    _require_manager(actor, deployments.get_deployment(session, deployment_id=deployment_id).project_id)
    key = find_by_app_id(session, app_id=app_id)
    if key is None or key.deployment_id != deployment_id:
        raise NotFound(f"API key {app_id} not found", code="NOT_FOUND")
    session.delete(key)
    session.commit()


def find_by_app_id(session: Session, *, app_id: str) -> DeploymentApiKey | None:
    return session.scalars(select(DeploymentApiKey).where(DeploymentApiKey.app_id == app_id)).first()
