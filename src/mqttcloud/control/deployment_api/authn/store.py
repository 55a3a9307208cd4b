"""Built-in authentication users (v5 `password_based:built_in_database`, v4 `auth_username`/`auth_clientid`).

Passwords are hashed with `mqttcloud.passwords.hash_password` (EMQX's default: sha256 with a random salt
as prefix); imported hashes keep their own algorithm. Every rule on users' fields and quota lives here;
writes commit. Presenters call `authn/service.py`, which runs these and pushes the result to the broker.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mqttcloud.contracts import HashAlgorithm, SaltPosition, UserRecord
from mqttcloud.control.deployment_api.authn.models import DeploymentUser
from mqttcloud.control.deployment_api.quotas import require_room
from mqttcloud.control.errors import BadRequest, Conflict, NotFound
from mqttcloud.passwords import hash_password

Kind = Literal["username", "clientid"]


@dataclass(frozen=True, slots=True)
class NewUser:
    user_id: str
    password: str | None = None  # clear password, or None with `password_hash`
    password_hash: str | None = None
    salt: str = ""
    algorithm: HashAlgorithm = HashAlgorithm.SHA256
    salt_position: SaltPosition = SaltPosition.PREFIX
    is_superuser: bool = False


def _check_id(user_id: str) -> None:
    if not user_id or len(user_id) > 255:
        raise BadRequest("user id must be 1-255 characters", code="BAD_REQUEST", field="user_id")


def _row(deployment_id: str, kind: Kind, user: NewUser) -> DeploymentUser:
    _check_id(user.user_id)
    if user.password is not None:
        if not user.password:
            raise BadRequest("password must not be empty", code="BAD_REQUEST", field="password")
        hashed = hash_password(user.password)
        return DeploymentUser(
            deployment_id=deployment_id,
            kind=kind,
            user_id=user.user_id,
            password_hash=hashed.password_hash,
            algorithm=hashed.algorithm.value,
            salt=hashed.salt,
            salt_position=hashed.salt_position.value,
            pbkdf2_iterations=hashed.pbkdf2_iterations,
            is_superuser=user.is_superuser,
        )
    if not user.password_hash:
        raise BadRequest("password or password_hash is required", code="BAD_REQUEST", field="password")
    return DeploymentUser(
        deployment_id=deployment_id,
        kind=kind,
        user_id=user.user_id,
        password_hash=user.password_hash,
        algorithm=user.algorithm.value,
        salt=user.salt,
        salt_position=user.salt_position.value,
        pbkdf2_iterations=4096,
        is_superuser=user.is_superuser,
    )


def count(session: Session, *, deployment_id: str) -> int:
    query = (
        select(func.count()).select_from(DeploymentUser).where(DeploymentUser.deployment_id == deployment_id)
    )
    return int(session.scalar(query) or 0)


def find(session: Session, *, deployment_id: str, kind: Kind, user_id: str) -> DeploymentUser | None:
    query = select(DeploymentUser).where(
        DeploymentUser.deployment_id == deployment_id,
        DeploymentUser.kind == kind,
        DeploymentUser.user_id == user_id,
    )
    return session.scalars(query).first()


def get(session: Session, *, deployment_id: str, kind: Kind, user_id: str) -> DeploymentUser:
    """Raises: NotFound (`NOT_FOUND`, "User not found": spec §2.2.4)."""
    row = find(session, deployment_id=deployment_id, kind=kind, user_id=user_id)
    if row is None:
        raise NotFound("User not found", code="NOT_FOUND", field="user_id")
    return row


def page(
    session: Session,
    *,
    deployment_id: str,
    kind: Kind,
    page: int,
    limit: int,
    like: str | None = None,
    is_superuser: bool | None = None,
) -> tuple[list[DeploymentUser], int]:
    """One page of users (ordered by creation) and the total count matching the filters."""
    where = [DeploymentUser.deployment_id == deployment_id, DeploymentUser.kind == kind]
    if like:
        where.append(DeploymentUser.user_id.contains(like, autoescape=True))
    if is_superuser is not None:
        where.append(DeploymentUser.is_superuser == is_superuser)
    total = int(session.scalar(select(func.count()).select_from(DeploymentUser).where(*where)) or 0)
    rows = session.scalars(
        select(DeploymentUser)
        .where(*where)
        .order_by(DeploymentUser.id)
        .offset((page - 1) * limit)
        .limit(limit)
    )
    return list(rows), total


def create(
    session: Session, *, deployment_id: str, kind: Kind, user: NewUser, max_entries: int
) -> DeploymentUser:
    """Raises: Conflict (`ALREADY_EXISTS`), Invalid (bad fields, `QUOTA_EXCEEDED`)."""
    if find(session, deployment_id=deployment_id, kind=kind, user_id=user.user_id) is not None:
        raise Conflict("User already exists", code="ALREADY_EXISTS", field="user_id")
    require_room(count(session, deployment_id=deployment_id), 1, max_entries, "authentication entries")
    row = _row(deployment_id, kind, user)
    session.add(row)
    session.commit()
    return row


def create_many(
    session: Session, *, deployment_id: str, kind: Kind, users: Sequence[NewUser], max_entries: int
) -> dict[str, str]:
    """Batch create (v4 array body, v5 import): user id → "ok" or the reason it was skipped.

    The quota is checked for the whole batch first (all or nothing); existing users are reported, not
    overwritten. Raises: Invalid (bad fields, `QUOTA_EXCEEDED`).
    """
    results: dict[str, str] = {}
    new_rows: list[DeploymentUser] = []
    for user in users:
        if user.user_id in results or find(
            session, deployment_id=deployment_id, kind=kind, user_id=user.user_id
        ):
            results[user.user_id] = "already_exists"
            continue
        new_rows.append(_row(deployment_id, kind, user))
        results[user.user_id] = "ok"
    require_room(
        count(session, deployment_id=deployment_id), len(new_rows), max_entries, "authentication entries"
    )
    session.add_all(new_rows)
    session.commit()
    return results


def update(
    session: Session,
    *,
    deployment_id: str,
    kind: Kind,
    user_id: str,
    password: str | None,
    is_superuser: bool | None = None,
) -> DeploymentUser:
    """Change the password (and/or superuser flag). Raises: NotFound, Invalid."""
    row = get(session, deployment_id=deployment_id, kind=kind, user_id=user_id)
    if password is not None:
        fresh = _row(deployment_id, kind, NewUser(user_id=user_id, password=password))
        row.password_hash, row.algorithm = fresh.password_hash, fresh.algorithm
        row.salt, row.salt_position = fresh.salt, fresh.salt_position
    if is_superuser is not None:
        row.is_superuser = is_superuser
    session.commit()
    return row


def delete(session: Session, *, deployment_id: str, kind: Kind, user_id: str) -> None:
    """Raises: NotFound."""
    session.delete(get(session, deployment_id=deployment_id, kind=kind, user_id=user_id))
    session.commit()


def records(session: Session, *, deployment_id: str) -> list[UserRecord]:
    """Every user of a deployment as the broker takes it (`TenantSpec.users`)."""
    rows = session.scalars(
        select(DeploymentUser)
        .where(DeploymentUser.deployment_id == deployment_id)
        .order_by(DeploymentUser.id)
    )
    return [
        UserRecord(
            kind="clientid" if row.kind == "clientid" else "username",
            user_id=row.user_id,
            password_hash=row.password_hash,
            algorithm=HashAlgorithm(row.algorithm),
            salt=row.salt,
            salt_position=SaltPosition(row.salt_position),
            pbkdf2_iterations=row.pbkdf2_iterations,
            is_superuser=row.is_superuser,
        )
        for row in rows
    ]
