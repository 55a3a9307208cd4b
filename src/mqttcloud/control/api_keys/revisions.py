"""The key revision: how every process learns, cheaply, that a key it has cached may be stale.

Database triggers (migration 0006) bump `key_revisions.generation` whenever a platform key or a
Deployment API key is deleted or changed, or a deployment changes what the Deployment API caches about
it, whoever makes the change (`mqttcloud apikey delete` in another process included). The verifiers
(`control/auth.py`, `control/deployment_api/auth.py`) tag each cached key with the generation read in
the same transaction as the key, and trust a cache hit only while the generation is unchanged.

Rule: reading the generation never waits. On a SQLite file it is read on every cache hit through a
dedicated connection (a WAL read of one row costs about 2 us; busy timeout 0, so a rare busy answer
means "unknown", never a wait): a deletion is seen by the very next request. Elsewhere (PostgreSQL) it
is read in a worker thread at most every `poll_seconds`; `peek` returns None when that read is due.
"""

import asyncio
import sqlite3
import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from mqttcloud.control.api_keys.models import KeyRevision
from mqttcloud.control.db import Database, is_sqlite

POLL_SECONDS = 0.1
_SELECT = "SELECT generation FROM key_revisions WHERE id = 1"


def read_generation(session: Session) -> int:
    """The current generation, inside the session's transaction (0 before the row exists)."""
    return session.scalar(select(KeyRevision.generation).where(KeyRevision.id == 1)) or 0


class KeyRevisions:
    """Reads the key revision of one database without waiting (see the module docstring)."""

    def __init__(
        self,
        database: Database,
        *,
        poll_seconds: float = POLL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.poll_seconds = poll_seconds
        self._clock = clock
        self._direct = _direct_sqlite(database)
        self._polled: tuple[float, int] | None = None  # (when, generation) of the last threaded read

    def peek(self) -> int | None:
        """The current generation if it can be known without waiting, else None (then await `read`)."""
        if self._direct is not None:
            try:
                rows = self._direct.execute(_SELECT).fetchall()  # fetchall: ends the read transaction
            except sqlite3.Error:
                return None
            return int(rows[0][0]) if rows else 0
        if self._polled is not None and self._clock() - self._polled[0] < self.poll_seconds:
            return self._polled[1]
        return None

    async def read(self) -> int:
        """Read the generation from the database in a worker thread."""
        started = self._clock()
        generation = await asyncio.to_thread(self._read)
        self.note(generation, read_at=started)
        return generation

    def note(self, generation: int, *, read_at: float) -> None:
        """Remember a generation read elsewhere (with a key, in one transaction) at `read_at` (clock)."""
        if self._polled is None or self._polled[0] <= read_at:
            self._polled = (read_at, generation)

    async def current(self) -> int:
        peeked = self.peek()
        return peeked if peeked is not None else await self.read()

    def _read(self) -> int:
        with self.database.read_session() as session:
            return read_generation(session)

    def close(self) -> None:
        if self._direct is not None:
            self._direct.close()
            self._direct = None


def _direct_sqlite(database: Database) -> sqlite3.Connection | None:
    """A dedicated autocommit connection to the SQLite file behind `database`, when reading through one
    sees what the database's sessions see (not for a test's connection held in an open transaction)."""
    url = database.engine.url
    path = make_url(url).database
    if not is_sqlite(url) or not database.is_plain or path in {None, "", ":memory:"}:
        return None
    connection = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA busy_timeout = 0")
    return connection
