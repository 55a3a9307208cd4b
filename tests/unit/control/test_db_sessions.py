"""Read sessions never take SQLite's write lock; write sessions take it at BEGIN (control/db.py)."""

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from mqttcloud.control import migrations
from mqttcloud.control.db import Database


@pytest.fixture
def file_database(tmp_path: Path) -> Database:
    database = Database.from_url(f"sqlite:///{tmp_path / 'mqttcloud.db'}")
    migrations.upgrade(database.engine)
    return database


def _other_writer_gets_the_lock(path: Path) -> bool:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()
    return True


def test_read_session_leaves_the_write_lock_free(file_database: Database, tmp_path: Path) -> None:
    with file_database.read_session() as session:
        session.execute(text("SELECT count(*) FROM accounts")).scalar_one()
        assert session.in_transaction()
        assert _other_writer_gets_the_lock(tmp_path / "mqttcloud.db")
    file_database.dispose()


def test_write_session_holds_the_write_lock_from_begin(file_database: Database, tmp_path: Path) -> None:
    with file_database.session() as session:
        session.execute(text("SELECT count(*) FROM accounts")).scalar_one()
        assert not _other_writer_gets_the_lock(tmp_path / "mqttcloud.db")
    assert _other_writer_gets_the_lock(tmp_path / "mqttcloud.db")
    file_database.dispose()
