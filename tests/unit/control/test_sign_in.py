"""Sign-in and password change run Argon2 outside database transactions (issue #14, finding 3)."""

import sqlite3
from pathlib import Path
from typing import Literal

import pytest
from argon2 import PasswordHasher

from mqttcloud.control import migrations
from mqttcloud.control.accounts import service as accounts
from mqttcloud.control.db import Database

PASSWORD = "the-root-password"


class WatchingHasher(PasswordHasher):
    """A cheap hasher that, at every verification, checks whether another writer could take the lock."""

    def __init__(self, path: Path) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.path = path
        self.verified: list[bool] = []  # per verification: was the write lock free?

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        other = sqlite3.connect(self.path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            self.verified.append(True)
        except sqlite3.OperationalError:
            self.verified.append(False)
        finally:
            other.close()
        return super().verify(hash, password)


@pytest.fixture
def hasher(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WatchingHasher:
    watching = WatchingHasher(tmp_path / "mqttcloud.db")
    monkeypatch.setattr(accounts, "_hasher", watching)
    return watching


@pytest.fixture
def file_database(tmp_path: Path, hasher: WatchingHasher) -> Database:
    database = Database.from_url(f"sqlite:///{tmp_path / 'mqttcloud.db'}")
    migrations.upgrade(database.engine)
    with database.session() as session:
        accounts.ensure_root(session, password=PASSWORD)
    return database


@pytest.mark.parametrize(
    ("username", "password", "signed_in"),
    [("root", PASSWORD, True), ("root", "wrong-password", False), ("nobody", PASSWORD, False)],
)
def test_sign_in_checks_the_password_with_no_lock_held(
    file_database: Database, hasher: WatchingHasher, username: str, password: str, signed_in: bool
) -> None:
    """Known user, wrong password and unknown user: each exactly one Argon2 verification, lock free."""
    with file_database.session() as session:
        account = accounts.authenticate(session, username=username, password=password)
    assert (account is not None) is signed_in
    assert hasher.verified == [True]
    file_database.dispose()


def test_password_change_hashes_with_no_lock_held(file_database: Database, hasher: WatchingHasher) -> None:
    with file_database.session() as session:
        root = accounts.get_root(session)
        accounts.change_password(
            session, account_id=root.id, old_password=PASSWORD, new_password="another-password"
        )
        assert accounts.authenticate(session, username="root", password="another-password") is not None
    assert hasher.verified == [True, True]
    file_database.dispose()
