"""Accounts (root, sub-accounts, roles, Argon2) and platform key management rules."""

import hashlib

import pytest
from sqlalchemy import select

from mqttcloud.control.accounts import service as accounts
from mqttcloud.control.accounts.models import Account, Role
from mqttcloud.control.api_keys import service as api_keys
from mqttcloud.control.api_keys.models import ApiKey
from mqttcloud.control.db import Database
from mqttcloud.control.errors import Conflict, Forbidden, Invalid, NotFound


def root_of(database: Database) -> Account:
    with database.session() as session:
        return accounts.ensure_root(session, password="root-password").account


def test_root_is_created_once_with_generated_password(database: Database) -> None:
    with database.session() as session:
        first = accounts.ensure_root(session, password=None)
        assert first.created
        assert first.generated_password is not None
        second = accounts.ensure_root(session, password="ignored-now")
        assert not second.created
        assert second.generated_password is None
        assert accounts.authenticate(session, username="root", password=first.generated_password) is not None


def test_root_password_from_environment_is_hashed_with_argon2(database: Database) -> None:
    with database.session() as session:
        root = accounts.ensure_root(session, password="from-the-environment").account
        assert root.password_hash.startswith("$argon2")
        assert "from-the-environment" not in root.password_hash
        assert accounts.authenticate(session, username="root", password="from-the-environment") is not None
        assert accounts.authenticate(session, username="root", password="wrong-password") is None
        assert accounts.authenticate(session, username="nobody", password="from-the-environment") is None


def test_short_root_password_is_refused(database: Database) -> None:
    with database.session() as session, pytest.raises(Invalid):
        accounts.ensure_root(session, password="short")


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ROOT])
def test_sub_accounts_have_every_role(database: Database, role: Role) -> None:
    root = root_of(database)
    with database.session() as session:
        account = accounts.create_sub_account(
            session, actor=root, username=f"user-{role.value}", password="password-1", role=role
        )
        assert session.scalar(select(Account.role).where(Account.id == account.id)) is role


def test_only_root_and_administrators_manage_accounts_and_keys(database: Database) -> None:
    root = root_of(database)
    with database.session() as session:
        admin = accounts.create_sub_account(
            session, actor=root, username="admin", password="password-1", role=Role.ADMINISTRATOR
        )
        project_admin = accounts.create_sub_account(
            session, actor=root, username="padmin", password="password-1", role=Role.PROJECT_ADMINISTRATOR
        )
        created = api_keys.create_key(session, actor=admin, description="by admin")
        assert created.api_key.created_by == admin.id
        with pytest.raises(Forbidden):
            api_keys.create_key(session, actor=project_admin, description="nope")
        with pytest.raises(Forbidden):
            api_keys.list_keys(session, actor=project_admin)
        with pytest.raises(Forbidden):
            api_keys.delete_key(session, actor=project_admin, key_id=created.api_key.id)
        with pytest.raises(Forbidden):
            accounts.create_sub_account(
                session, actor=project_admin, username="x", password="password-1", role=Role.AUDITOR
            )
        with pytest.raises(Forbidden):
            accounts.delete_sub_account(session, actor=admin, account_id=root.id)


def test_duplicate_username_is_conflict(database: Database) -> None:
    root = root_of(database)
    with database.session() as session:
        accounts.create_sub_account(
            session, actor=root, username="dup", password="password-1", role=Role.AUDITOR
        )
        with pytest.raises(Conflict):
            accounts.create_sub_account(
                session, actor=root, username="dup", password="password-1", role=Role.AUDITOR
            )


def test_key_secret_is_stored_only_as_sha256(database: Database) -> None:
    root = root_of(database)
    with database.session() as session:
        created = api_keys.create_key(session, actor=root, description="ci")
        stored = session.scalar(select(ApiKey.secret_hash).where(ApiKey.key == created.api_key.key))
        assert stored == hashlib.sha256(created.secret.encode()).hexdigest()
        assert len(created.secret) >= 40


def test_key_edit_changes_description_and_scopes_only(database: Database) -> None:
    root = root_of(database)
    with database.session() as session:
        created = api_keys.create_key(session, actor=root, description="old")
        before = (created.api_key.key, created.api_key.secret_hash)
        edited = api_keys.update_key(
            session,
            actor=root,
            key_id=created.api_key.id,
            description="new",
            scopes=["tls"],
            project_ids=["default"],
        )
        assert (edited.description, edited.scopes, edited.project_ids) == ("new", ["tls"], ["default"])
        assert (edited.key, edited.secret_hash) == before
        assert [k.id for k in api_keys.list_keys(session, actor=root)] == [created.api_key.id]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"scopes": ["billing"]}, Invalid),
        ({"scopes": []}, Invalid),
        ({"project_ids": ["missing"]}, NotFound),
        ({"project_ids": []}, Invalid),
        ({"description": "x" * 300}, Invalid),
    ],
)
def test_bad_key_parameters_are_refused(
    database: Database, kwargs: dict[str, object], error: type[Exception]
) -> None:
    root = root_of(database)
    with database.session() as session, pytest.raises(error):
        api_keys.create_key(session, actor=root, **{"description": "d", **kwargs})  # type: ignore[arg-type]  # parametrised keyword args


def test_delete_unknown_key_is_not_found(database: Database) -> None:
    root = root_of(database)
    with database.session() as session, pytest.raises(NotFound):
        api_keys.delete_key(session, actor=root, key_id=424242)


def test_the_last_administrator_is_neither_deleted_nor_demoted(database: Database) -> None:
    """One rule for both: while another Administrator exists either may go; the last one stays."""
    root = root_of(database)
    with database.session() as session:
        first = accounts.create_sub_account(
            session, actor=root, username="adm1", password="password-1", role=Role.ADMINISTRATOR
        )
        second = accounts.create_sub_account(
            session, actor=root, username="adm2", password="password-1", role=Role.ADMINISTRATOR
        )
        accounts.delete_sub_account(session, actor=root, account_id=first.id)
        with pytest.raises(Conflict) as refused:
            accounts.delete_sub_account(session, actor=root, account_id=second.id)
        assert refused.value.code == "LAST_ADMINISTRATOR"
        with pytest.raises(Invalid) as demoted:
            accounts.update_sub_account(
                session, actor=root, account_id=second.id, role=Role.AUDITOR, project_ids=[]
            )
        assert demoted.value.code == "LAST_ADMINISTRATOR"
        assert accounts.get_account(session, account_id=second.id).role is Role.ADMINISTRATOR
        auditor = accounts.create_sub_account(
            session, actor=root, username="aud", password="password-1", role=Role.AUDITOR
        )
        accounts.delete_sub_account(session, actor=second, account_id=auditor.id)  # other roles: no limit
