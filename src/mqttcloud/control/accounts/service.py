"""Account use cases: the root account, sub-accounts (create, change role, reset password, delete), password
checks (Argon2 via argon2-cffi). Only the root account and Administrators manage sub-accounts; the root
account is changed by nobody but itself, and the last Administrator keeps its role and its account
(`_is_last_administrator`, the one rule behind both refusals).

Rule: Argon2 never runs inside a database transaction. Sign-in and password change read what they need,
end the transaction, check or hash the password, then write in a short transaction of their own; a
database lock is never held for the tens of milliseconds a hash costs. An unknown user name costs one
Argon2 verification with the same parameters as a known one.
"""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mqttcloud.control.accounts.models import ROOT_USERNAME, Account, ConsoleSession, Role
from mqttcloud.control.db import utcnow
from mqttcloud.control.errors import Conflict, Forbidden, Invalid, NotFound

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 8
# Per hasher (tests swap in a cheap one): the hash an unknown user's password is verified against.
_dummy_hashes: dict[PasswordHasher, str] = {}


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


def _dummy_hash() -> str:
    hasher = _hasher
    if hasher not in _dummy_hashes:
        _dummy_hashes[hasher] = hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hashes[hasher]


def _password_matches(password_hash: str | None, password: str) -> bool:
    """One Argon2 verification; None (unknown user) verifies against a dummy hash and fails."""
    try:
        _hasher.verify(_dummy_hash() if password_hash is None else password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None


def authenticate(session: Session, *, username: str, password: str) -> Account | None:
    """Return the account when the password matches, else None (same answer and cost for unknown users).

    Ends `session`'s transaction before Argon2 runs (the caller must have no pending changes); on success
    records the sign-in (and a rehash with current parameters) in a short transaction of its own.
    """
    row = session.execute(
        select(Account.id, Account.password_hash).where(Account.username == username)
    ).first()
    session.rollback()  # no transaction (and on SQLite no lock) while Argon2 runs
    account_id, password_hash = (None, None) if row is None else (row.id, row.password_hash)
    if not _password_matches(password_hash, password) or account_id is None or password_hash is None:
        return None
    values: dict[str, object] = {"last_login_at": utcnow()}
    if _hasher.check_needs_rehash(password_hash):
        values["password_hash"] = hash_password(password)
    # The password may have changed while it was checked: then this sign-in used the old one and fails.
    changed = session.execute(
        update(Account)
        .where(Account.id == account_id, Account.password_hash == password_hash)
        .values(**values)
    )
    session.commit()
    if changed.rowcount != 1:  # type: ignore[attr-defined]  # UPDATE results are CursorResults
        return None
    return session.get(Account, account_id)


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
    if _is_last_administrator(session, account):
        raise Conflict("the last Administrator cannot be deleted", code="LAST_ADMINISTRATOR")
    session.delete(account)
    session.commit()


def _is_last_administrator(session: Session, account: Account) -> bool:
    """`account` is an Administrator and no other account is: removing it (by a role change or a delete)
    would leave the platform's administration to the root account alone."""
    if account.role is not Role.ADMINISTRATOR:
        return False
    others = session.scalar(
        select(func.count())
        .select_from(Account)
        .where(Account.role == Role.ADMINISTRATOR, Account.id != account.id)
    )
    return not others


def _require_manager(actor: Account) -> None:
    if not actor.role.may_manage_platform_keys:
        raise Forbidden("only the root account or an Administrator can manage sub-accounts")


def _editable_target(session: Session, *, actor: Account, account_id: int) -> Account:
    """The sub-account `actor` may change. Raises: Forbidden (not a manager, or the root account),
    NotFound."""
    _require_manager(actor)
    account = get_account(session, account_id=account_id)
    if account.role is Role.ROOT:
        raise Forbidden("the root account cannot be changed here")
    return account


def update_sub_account(
    session: Session, *, actor: Account, account_id: int, role: Role, project_ids: Sequence[str]
) -> Account:
    """Change a sub-account's role and assigned projects; it acts with them from its next request.

    Raises:
        Forbidden: `actor` is not the root account or an Administrator, or the target is the root account.
        NotFound: no such account.
        Invalid (field `role`): the root role; an account changing its own role (`OWN_ROLE`: it could
            lock itself out); demoting the last Administrator (`LAST_ADMINISTRATOR`).
    """
    account = _editable_target(session, actor=actor, account_id=account_id)
    if role is Role.ROOT:
        raise Invalid("there is exactly one root account", field="role")
    if role is not account.role:
        if account.id == actor.id:
            raise Invalid("you cannot change your own role", code="OWN_ROLE", field="role")
        if _is_last_administrator(session, account):
            raise Invalid("the last Administrator keeps its role", code="LAST_ADMINISTRATOR", field="role")
    account.role = role
    account.project_ids = list(dict.fromkeys(project_ids))
    session.commit()
    return account


def reset_password(session: Session, *, actor: Account, account_id: int, new_password: str) -> Account:
    """Set another sub-account's password (it forgot it) and end all its console sessions.

    Argon2 runs outside any transaction. An account changes its own password with `change_password`,
    which asks for the old one.

    Raises:
        Forbidden: `actor` is not the root account or an Administrator, or the target is the root account
            or `actor` itself.
        NotFound: no such account.
        Invalid (field `password`): the new password breaks the rules.
    """
    account = _editable_target(session, actor=actor, account_id=account_id)
    if account.id == actor.id:
        raise Forbidden("change your own password on your account page")
    session.rollback()  # no transaction while Argon2 runs
    try:
        _check_password_rules(new_password)
    except Invalid as error:
        raise Invalid(error.message, field="password") from None
    new_hash = hash_password(new_password)
    session.execute(update(Account).where(Account.id == account_id).values(password_hash=new_hash))
    session.execute(delete(ConsoleSession).where(ConsoleSession.account_id == account_id))
    session.commit()
    return get_account(session, account_id=account_id)


def change_password(session: Session, *, account_id: int, old_password: str, new_password: str) -> Account:
    """Change an account's password and end all its console sessions (the caller starts a new one).

    Argon2 (check of the old password, hash of the new) runs outside any transaction.

    Raises:
        NotFound: the account is gone.
        Invalid: the old password is wrong (code WRONG_PASSWORD) or the new one breaks the rules; also
            when the password changed meanwhile (then the old password checked is no longer current).
    """
    current = session.scalar(select(Account.password_hash).where(Account.id == account_id))
    session.rollback()  # no transaction while Argon2 runs
    if current is None:
        raise NotFound("Account not found")
    if not _password_matches(current, old_password):
        raise Invalid("old password is wrong", code="WRONG_PASSWORD")
    _check_password_rules(new_password)
    new_hash = hash_password(new_password)
    changed = session.execute(
        update(Account)
        .where(Account.id == account_id, Account.password_hash == current)
        .values(password_hash=new_hash)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]  # UPDATE results are CursorResults
        session.rollback()
        raise Invalid("old password is wrong", code="WRONG_PASSWORD")
    session.execute(delete(ConsoleSession).where(ConsoleSession.account_id == account_id))
    session.commit()
    return get_account(session, account_id=account_id)
