"""Probes behind `/status`, `/readyz` and `/metrics`: is the platform database reachable and migrated.

Rule: a probe opens what a new request would open, never only what is already open. A pooled SQLite
connection keeps a deleted or replaced database file readable through its descriptor, so the SQLite
probe opens a fresh connection to the file (read-write, never creating it); PostgreSQL connections come
from the pool, whose pre-ping replaces a connection the server dropped. Each probe reads the Alembic
revision, so "reachable" and "migrated" are one round trip, timed for the database latency gauge.
"""

import asyncio
import functools
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from mqttcloud.control import migrations
from mqttcloud.control.db import is_sqlite

PROBE_TIMEOUT = 3.0  # seconds: a database that answers slower than this is reported as unreachable
_REVISION = "SELECT version_num FROM alembic_version"
_head_revision = functools.cache(migrations.head_revision)  # the scripts on disk do not change while running


@dataclass(frozen=True, slots=True)
class DatabaseProbe:
    """One probe's outcome: `error` is None when the database answered."""

    seconds: float
    revision: str | None = None
    error: str | None = None

    @property
    def is_reachable(self) -> bool:
        return self.error is None

    @property
    def is_migrated(self) -> bool:
        return self.error is None and self.revision == _head_revision()


def _probe(engine: Engine) -> DatabaseProbe:
    started = time.perf_counter()
    try:
        revision = _sqlite_revision(engine) if is_sqlite(engine.url) else _pooled_revision(engine)
    except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
        return DatabaseProbe(time.perf_counter() - started, error=type(exc).__name__)
    return DatabaseProbe(time.perf_counter() - started, revision=revision)


def _pooled_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        value = connection.execute(text(_REVISION)).scalar()
    return None if value is None else str(value)


def _sqlite_revision(engine: Engine) -> str | None:
    database = engine.url.database
    if database in {None, "", ":memory:"}:  # an in-memory database lives as long as its pooled connection
        return _pooled_revision(engine)
    uri = Path(str(database)).resolve().as_uri() + "?mode=rw"
    connection = sqlite3.connect(uri, uri=True, timeout=PROBE_TIMEOUT)
    try:
        row = connection.execute(_REVISION).fetchone()
    finally:
        connection.close()
    return None if row is None else str(row[0])


async def probe_database(engine: Engine) -> DatabaseProbe:
    """Probe in a worker thread; a probe still running after `PROBE_TIMEOUT` counts as unreachable."""
    started = time.perf_counter()
    try:
        return await asyncio.wait_for(asyncio.to_thread(_probe, engine), PROBE_TIMEOUT)
    except TimeoutError:
        return DatabaseProbe(time.perf_counter() - started, error="timeout")
