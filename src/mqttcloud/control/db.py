"""Database: engine, session factory, declarative Base and `SessionDep`.

SQLite is the embedded default (`<data-dir>/mqttcloud.db`, WAL journal so `mqttcloud apikey create` can write
while `serve` runs, busy timeout so writers wait instead of failing); PostgreSQL is used when the URL names
it. Rule: only portable column types, and every table is created by an Alembic migration, never by
`Base.metadata.create_all`.

Transactions: a write session (`Database.session`) begins SQLite transactions with `BEGIN IMMEDIATE`, so a
read-then-write waits for another writer instead of failing; a read session (`Database.read_session`)
begins them deferred and never takes the write lock (WAL readers neither wait nor block). `SessionDep`
gives safe methods (GET, HEAD, OPTIONS) a read session and the others a write session, and
`end_request_transactions` lets an error path release the request's lock before it renders anything.
Rule: no slow work (Argon2, broker calls) inside a write transaction.
"""

import contextlib
import datetime as dt
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Execution option read by the SQLite "begin" hook: "deferred" for read sessions, else BEGIN IMMEDIATE.
_SQLITE_BEGIN = "mqttcloud_sqlite_begin"
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_REQUEST_SESSIONS = "mqttcloud.db_sessions"  # request.scope key: the sessions SessionDep opened

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on both SQLite (which drops the zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored in a UtcDateTime column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _configure_sqlite(engine: Engine) -> None:
    """WAL + busy timeout + foreign keys; SQLAlchemy (not pysqlite) emits BEGIN so savepoints work."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # pysqlite would otherwise defer BEGIN and break SAVEPOINT
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if engine.url.database not in {None, "", ":memory:"}:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front, so a read-then-write transaction waits (busy timeout)
        # for another writer instead of failing with SQLITE_BUSY when it tries to upgrade (SQLite does not
        # call the busy handler for an upgrade). Read sessions begin deferred: they never hold the lock.
        if connection.get_execution_options().get(_SQLITE_BEGIN) == "deferred":
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _private_sqlite_files(path: Path) -> None:
    """The database file (and so its WAL/SHM, which SQLite creates with its mode) is 0600."""
    if not path.parent.is_dir():
        return  # SQLite will report the missing folder itself
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path.with_name(name), 0o600)


def make_engine(url: str) -> Engine:
    """Create the engine for a URL (SQLite file or PostgreSQL)."""
    if is_sqlite(url):
        parsed = make_url(url)
        memory = parsed.database in {None, "", ":memory:"}
        if not memory and parsed.database is not None:
            _private_sqlite_files(Path(parsed.database))
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            poolclass=StaticPool if memory else None,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Database:
    """An engine and its session factories. Tests build one around a connection held in a transaction."""

    def __init__(
        self,
        engine: Engine,
        session_factory: sessionmaker[Session] | None = None,
        read_factory: sessionmaker[Session] | None = None,
    ):
        """Args:
        session_factory: write sessions; default: sessions of `engine`.
        read_factory: read sessions; default: `session_factory` when one is given (a test's connection
            held in a transaction), else sessions of `engine` that begin SQLite transactions deferred.
        """
        self.engine = engine
        # True when sessions are plain sessions of `engine`, so another connection to the same database
        # sees what they commit (False for a test's connection held in a transaction).
        self.is_plain = session_factory is None
        self.session_factory = session_factory or sessionmaker(engine, expire_on_commit=False)
        if read_factory is None:
            read_factory = session_factory or sessionmaker(
                engine.execution_options(**{_SQLITE_BEGIN: "deferred"}), expire_on_commit=False
            )
        self.read_factory = read_factory

    @classmethod
    def from_url(cls, url: str) -> "Database":
        return cls(make_engine(url))

    def session(self) -> Session:
        """A session for work that writes (on SQLite its transactions take the write lock at BEGIN)."""
        return self.session_factory()

    def read_session(self) -> Session:
        """A session for work that only reads (on SQLite it never takes or waits for the write lock)."""
        return self.read_factory()

    def dispose(self) -> None:
        self.engine.dispose()


async def _session(request: Request) -> AsyncIterator[Session]:
    # Creating a Session does no I/O (it connects lazily, inside the threadpool where the route runs), so
    # this dependency stays on the event loop and costs no threadpool hop.
    database: Database = request.app.state.database
    session = database.read_session() if request.method in _READ_METHODS else database.session()
    request.scope.setdefault(_REQUEST_SESSIONS, []).append(session)
    try:
        yield session
    finally:
        session.close()


def end_request_transactions(request: Request) -> None:
    """Roll back the open transactions of the sessions `SessionDep` gave this request.

    For error paths that render a response themselves (the console's error pages): a failed request must
    not hold the database (SQLite's write lock) while its error answer is built.
    """
    sessions: list[Session] = request.scope.get(_REQUEST_SESSIONS, [])
    for session in sessions:
        if session.in_transaction():
            session.rollback()


SessionDep = Annotated[Session, Depends(_session)]
