"""Authentication users' use cases: the one place each read and write sequence on them is written.

The v5 and v4 routes and the console call these with a `Target`; each write runs `authn/store.py` (the
rules on fields and quota) in a worker thread, commits, then pushes the users to the running broker, so a
call returns once the broker enforces the change.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from mqttcloud.control.deployment_api.authn import store
from mqttcloud.control.deployment_api.authn.models import DeploymentUser
from mqttcloud.control.deployment_api.authn.store import Kind, NewUser
from mqttcloud.control.deployment_api.target import Target
from mqttcloud.control.errors import ApiError

__all__ = ["Kind", "NewUser", "RowResult"]


@dataclass(frozen=True, slots=True)
class RowResult:
    """One user of a row-by-row import: created, or why not."""

    user_id: str
    ok: bool
    message: str


async def page(
    target: Target,
    *,
    kind: Kind,
    page: int,
    limit: int,
    like: str | None = None,
    is_superuser: bool | None = None,
) -> tuple[list[DeploymentUser], int]:
    return await target.read(
        lambda s: store.page(
            s,
            deployment_id=target.deployment_id,
            kind=kind,
            page=page,
            limit=limit,
            like=like,
            is_superuser=is_superuser,
        )
    )


async def get(target: Target, *, kind: Kind, user_id: str) -> DeploymentUser:
    """Raises: NotFound."""
    return await target.read(
        lambda s: store.get(s, deployment_id=target.deployment_id, kind=kind, user_id=user_id)
    )


async def create(target: Target, *, kind: Kind, user: NewUser) -> DeploymentUser:
    """Raises: Conflict (`ALREADY_EXISTS`), Invalid (fields, `QUOTA_EXCEEDED`)."""
    return await target.write(
        lambda s: store.create(
            s, deployment_id=target.deployment_id, kind=kind, user=user, max_entries=target.auth_entries()
        )
    )


async def create_many(target: Target, *, kind: Kind, users: Sequence[NewUser]) -> dict[str, str]:
    """All or nothing on the quota; existing users are reported (`already_exists`), not overwritten."""
    return await target.write(
        lambda s: store.create_many(
            s, deployment_id=target.deployment_id, kind=kind, users=users, max_entries=target.auth_entries()
        )
    )


async def create_each(target: Target, *, kind: Kind, users: Sequence[NewUser]) -> list[RowResult]:
    """Create users one by one (a file import): a refused one is reported and the others go on."""

    def write(session: Session) -> list[RowResult]:
        results: list[RowResult] = []
        for user in users:
            try:
                store.create(
                    session,
                    deployment_id=target.deployment_id,
                    kind=kind,
                    user=user,
                    max_entries=target.auth_entries(),
                )
            except ApiError as error:
                session.rollback()
                results.append(RowResult(user.user_id, ok=False, message=error.message))
            else:
                results.append(RowResult(user.user_id, ok=True, message="imported"))
        return results

    return await target.write(write)


async def update(
    target: Target, *, kind: Kind, user_id: str, password: str | None, is_superuser: bool | None = None
) -> DeploymentUser:
    """Change the password and/or the superuser flag. Raises: NotFound, Invalid."""
    return await target.write(
        lambda s: store.update(
            s,
            deployment_id=target.deployment_id,
            kind=kind,
            user_id=user_id,
            password=password,
            is_superuser=is_superuser,
        )
    )


async def delete(target: Target, *, kind: Kind, user_id: str) -> None:
    """Raises: NotFound."""
    await target.write(
        lambda s: store.delete(s, deployment_id=target.deployment_id, kind=kind, user_id=user_id)
    )
