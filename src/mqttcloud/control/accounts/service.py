"""Account use cases: the root account, sub-accounts, password checks (Argon2 via argon2-cffi)."""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mqttcloud.control.accounts.models import ROOT_USERNAME, Account, Role
from mqttcloud.control.db import utcnow
from mqttcloud.control.errors import Conflict, Forbidden, Invalid, NotFound

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True, slots=True)
class RootAccount:
    account: Account
    generated_password: str | None  # set only on the call that created the account with a random password
    created: bool


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"password must be at least {MIN_PASSWORD_LENGTH} characters")


def ensure_root(session: Session, *, password: str | None) -> RootAccount:
    """Create the root account if it does not exist yet.

    Args:
        password: the root password to use on creation (MQTTCLOUD_ROOT_PASSWORD); None generates one,
            which is returned once in `generated_password` and never stored in clear.
    """
    existing = session.scalar(select(Account).where(Account.role == Role.ROOT))
    if existing is not None:
        return RootAccount(existing, None, created=False)
    generated = None
    if password is None:
        generated = password = secrets.token_urlsafe(12)
    else:
        _check_password_rules(password)
    root = Account(
        username=ROOT_USERNAME, password_hash=hash_password(password), role=Role.ROOT, project_ids=[]
    )
    session.add(root)
    try:
        session.commit()
    except IntegrityError:  # another process created it first
        session.rollback()
        existing = session.scalar(select(Account).where(Account.role == Role.ROOT))
        assert existing is not None
        return RootAccount(existing, None, created=False)
    return RootAccount(root, generated, created=True)


def get_root(session: Session) -> Account:
    root = session.scalar(select(Account).where(Account.role == Role.ROOT))
    if root is None:
        raise NotFound("root account not created yet")
    return root


def authenticate(session: Session, *, username: str, password: str) -> Account | None:
    """Return the account when the password matches, else None (same answer for unknown users)."""
    account = session.scalar(select(Account).where(Account.username == username))
    if account is None:
        _hasher.hash(password)  # spend the same time as a real check: no user enumeration by timing
        return None
    try:
        _hasher.verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    account.last_login_at = utcnow()
    session.commit()
    return account


def create_sub_account(
    session: Session,
    *,
    actor: Account,
    username: str,
    password: str,
    role: Role,
    project_ids: Sequence[str] = (),
) -> Account:
    """Create a sub-account. Only the root account and Administrators manage accounts."""
    if not actor.role.may_manage_platform_keys:
        raise Forbidden("only the root account or an Administrator can manage sub-accounts")
    if role is Role.ROOT:
        raise Invalid("there is exactly one root account")
    if not username or len(username) > 64:
        raise Invalid("username must be 1-64 characters")
    _check_password_rules(password)
    account = Account(
        username=username, password_hash=hash_password(password), role=role, project_ids=list(project_ids)
    )
    session.add(account)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"account {username!r} already exists", code="ACCOUNT_EXISTS") from None
    return account


def list_accounts(session: Session) -> list[Account]:
    return list(session.scalars(select(Account).order_by(Account.id)))


def get_account(session: Session, *, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("Account not found")
    return account


def delete_sub_account(session: Session, *, actor: Account, account_id: int) -> None:
    if not actor.role.may_manage_platform_keys:
        raise Forbidden("only the root account or an Administrator can manage sub-accounts")
    account = get_account(session, account_id=account_id)
    if account.role is Role.ROOT:
        raise Forbidden("the root account cannot be deleted")
    session.delete(account)
    session.commit()


def change_password(session: Session, *, account: Account, old_password: str, new_password: str) -> None:
    try:
        _hasher.verify(account.password_hash, old_password)
    except (VerificationError, InvalidHashError):
        raise Invalid("old password is wrong", code="WRONG_PASSWORD") from None
    _check_password_rules(new_password)
    account.password_hash = hash_password(new_password)
    session.commit()
