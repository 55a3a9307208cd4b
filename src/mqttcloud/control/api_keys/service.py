"""Platform key use cases: create (secret shown once), list, edit, delete, look up, record last use.

Rules: only the root account or an Administrator manages keys (spec §1.3); secrets are random 256-bit
values stored as SHA-256 digests (a fast hash is right for high-entropy secrets; a slow KDF would cost
milliseconds on every request) and compared in constant time.
"""

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mqttcloud.control.accounts.models import Account
from mqttcloud.control.api_keys.models import ALL_PROJECTS, ApiKey, Scope
from mqttcloud.control.errors import Forbidden, Invalid, NotFound
from mqttcloud.control.projects import service as projects
from mqttcloud.passwords import hash_api_secret

MAX_DESCRIPTION = 256


@dataclass(frozen=True, slots=True)
class CreatedKey:
    api_key: ApiKey
    secret: str  # the only time the secret exists in clear


def _require_manager(actor: Account) -> None:
    if not actor.role.may_manage_platform_keys:
        raise Forbidden("only the root account or an Administrator can manage platform API keys")


def _check_scopes(scopes: Iterable[str]) -> list[str]:
    result: list[str] = []
    for scope in scopes:
        try:
            value = Scope(scope).value
        except ValueError:
            allowed = ", ".join(s.value for s in Scope)
            raise Invalid(f"unknown functionality scope {scope!r}; expected one of {allowed}") from None
        if value not in result:
            result.append(value)
    if not result:
        raise Invalid("a key needs at least one functionality scope")
    return result


def _check_projects(session: Session, project_ids: Iterable[str]) -> list[str]:
    result: list[str] = []
    for project_id in project_ids:
        if project_id == ALL_PROJECTS:
            return [ALL_PROJECTS]
        projects.get_project(session, project_id=project_id)
        if project_id not in result:
            result.append(project_id)
    if not result:
        raise Invalid("a key needs at least one project in its project scope")
    return result


def _check_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION:
        raise Invalid(f"description is longer than {MAX_DESCRIPTION} characters")
    return description


def create_key(
    session: Session,
    *,
    actor: Account,
    description: str,
    scopes: Sequence[str] = tuple(Scope),
    project_ids: Sequence[str] = (ALL_PROJECTS,),
) -> CreatedKey:
    """Mint a key. The returned secret is shown once; only its digest is stored."""
    _require_manager(actor)
    secret = secrets.token_urlsafe(32)
    api_key = ApiKey(
        key=secrets.token_hex(8),
        secret_hash=hash_api_secret(secret),
        description=_check_description(description),
        scopes=_check_scopes(scopes),
        project_ids=_check_projects(session, project_ids),
        created_by=actor.id,
    )
    session.add(api_key)
    session.commit()
    return CreatedKey(api_key, secret)


def list_keys(session: Session, *, actor: Account) -> list[ApiKey]:
    _require_manager(actor)
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def get_key(session: Session, *, actor: Account, key_id: int) -> ApiKey:
    _require_manager(actor)
    api_key = session.get(ApiKey, key_id)
    if api_key is None:
        raise NotFound("API key not found")
    return api_key


def update_key(
    session: Session,
    *,
    actor: Account,
    key_id: int,
    description: str | None = None,
    scopes: Sequence[str] | None = None,
    project_ids: Sequence[str] | None = None,
) -> ApiKey:
    """Edit a key's description and scopes; the key and secret never change."""
    api_key = get_key(session, actor=actor, key_id=key_id)
    if description is not None:
        api_key.description = _check_description(description)
    if scopes is not None:
        api_key.scopes = _check_scopes(scopes)
    if project_ids is not None:
        api_key.project_ids = _check_projects(session, project_ids)
    session.commit()
    return api_key


def delete_key(session: Session, *, actor: Account, key_id: int) -> str:
    """Delete a key and return its public key id (so caches can drop it)."""
    api_key = get_key(session, actor=actor, key_id=key_id)
    key = api_key.key
    session.delete(api_key)
    session.commit()
    return key


def find_by_key(session: Session, *, key: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.key == key))


def record_last_used(session: Session, *, used: Mapping[str, dt.datetime]) -> None:
    """Store last-use times (key → time) collected in memory; called at most once per interval."""
    for key, when in used.items():
        session.execute(
            update(ApiKey)
            .where(ApiKey.key == key)
            .where((ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < when))
            .values(last_used_at=when)
        )
    session.commit()
