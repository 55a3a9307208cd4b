"""The key revision (`api_keys/revisions.py`): which changes move it, and how soon another connection
sees the move (at once on a SQLite file, after the poll interval elsewhere)."""

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text
from tests.conftest import BACKENDS
from tests.unit.control.conftest import ROOT_PASSWORD

from mqttcloud.control import migrations
from mqttcloud.control.accounts import service as accounts
from mqttcloud.control.api_keys import service as api_keys
from mqttcloud.control.api_keys.revisions import POLL_SECONDS, KeyRevisions
from mqttcloud.control.db import Database


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=BACKENDS)
def fresh(request: pytest.FixtureRequest, fresh_database_url: Callable[[str], str]) -> Iterator[Database]:
    """A migrated database of its own (no transaction held open: other connections see its commits)."""
    database = Database.from_url(fresh_database_url(request.param))
    migrations.upgrade(database.engine)
    yield database
    database.dispose()


def mint(database: Database) -> int:
    with database.session() as session:
        root = accounts.ensure_root(session, password=ROOT_PASSWORD).account
        return api_keys.create_key(session, actor=root, description="t").api_key.id


def run(database: Database, sql: str) -> None:
    with database.engine.begin() as connection:
        connection.execute(text(sql))


async def test_a_deletion_by_another_connection_is_seen(fresh: Database) -> None:
    key_id = mint(fresh)
    clock = Clock()
    revisions = KeyRevisions(fresh, clock=clock)
    before = await revisions.current()
    other = Database.from_url(str(fresh.engine.url.render_as_string(hide_password=False)))
    try:
        run(other, f"DELETE FROM platform_api_keys WHERE id = {key_id}")
    finally:
        other.dispose()
    if fresh.engine.dialect.name == "sqlite":
        assert revisions.peek() == before + 1  # read on every call: at once
    else:
        assert revisions.peek() == before  # polled: trusted for POLL_SECONDS
        clock.now += POLL_SECONDS * 2
        assert revisions.peek() is None
        assert await revisions.current() == before + 1
    revisions.close()


@pytest.mark.parametrize(
    ("change", "moves"),
    [
        ("UPDATE platform_api_keys SET scopes = '[\"tls\"]'", True),
        ("UPDATE platform_api_keys SET project_ids = '[\"default\"]'", True),
        ("UPDATE platform_api_keys SET secret_hash = 'x'", True),
        ("DELETE FROM platform_api_keys", True),
        ("UPDATE platform_api_keys SET last_used_at = CURRENT_TIMESTAMP", False),
        ("UPDATE platform_api_keys SET description = 'note'", False),
    ],
)
async def test_what_moves_the_revision(fresh: Database, change: str, moves: bool) -> None:
    mint(fresh)
    revisions = KeyRevisions(fresh, poll_seconds=0)
    before = await revisions.current()
    run(fresh, change)
    assert await revisions.current() == before + (1 if moves else 0)
    revisions.close()
