"""PostgreSQL actions: rule outputs inserted (or any statement run) through async psycopg, in batches.

The SQL template (`INSERT INTO t(a, b) VALUES (${clientid}, ${payload.temp})`) is compiled once: each
`${path}` becomes a `%s` placeholder and its path a parameter read from the output. A batch runs as one
`executemany` (psycopg's pipeline: one round trip) inside one transaction.

Rules this module must not break:
- An output's values are bound parameters, never text in the statement: a payload cannot inject SQL.
  Values are sent as text (PostgreSQL casts them to the column's type); a path that leads nowhere is
  NULL; maps and arrays are JSON text.
- A connection error is `TargetDownError` (the batch waits for a new connection); an error the server
  answers about the statement or the data fails the batch (`BatchError`, retried only when PostgreSQL
  says the same statement may pass later: serialization failures, deadlocks, lock timeouts).
"""

import contextlib
import os
import re
import tempfile
from collections.abc import Sequence
from typing import Final

import psycopg
from psycopg.conninfo import make_conninfo

from mqttcloud.contracts.rules import PgsqlAction
from mqttcloud.runtime.rules.sink import BatchError, BatchSink, Output, TargetDownError
from mqttcloud.runtime.rules.templates import lookup, parse_path, text_of

DEFAULT_PORT: Final = 5432
_PLACEHOLDER: Final = re.compile(r"\$\{([^}]*)\}")
# SQLSTATE classes whose statement may pass when run again: 40 (transaction rollback: serialization
# failure, deadlock), 55P03 (lock not available), 57014 (query canceled: statement timeout).
_TRANSIENT: Final = ("40", "55P03", "57014")


def compile_sql(template: str) -> tuple[str, tuple[tuple[str, ...], ...]]:
    """The statement with `%s` for each `${path}` (and `%` doubled), and the paths in order."""
    parts: list[str] = []
    paths: list[tuple[str, ...]] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(template):
        parts.append(template[pos : m.start()].replace("%", "%%"))
        parts.append("%s")
        paths.append(parse_path(m.group(1)))
        pos = m.end()
    parts.append(template[pos:].replace("%", "%%"))
    return "".join(parts), tuple(paths)


def parameter(value: object) -> str | None:
    """An output's value as the text PostgreSQL receives (None: NULL)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return text_of(value)


def split_server(server: str, default_port: int) -> tuple[str, int]:
    """`host[:port]` (IPv6 in brackets) as host and port; a bad port is the default one."""
    host, _, port = server.strip().rpartition(":")
    if not host or "]" in port or not port.isdigit():
        host, port = server.strip(), ""
    host = host.removeprefix("[").removesuffix("]")
    return host, int(port) if port else default_port


class PgsqlSink(BatchSink[psycopg.AsyncConnection[tuple[object, ...]]]):
    """One PostgreSQL action: `pool_size` connections, each writing batches of rows."""

    def __init__(self, spec: PgsqlAction) -> None:
        super().__init__(spec, kind="pgsql")
        self.spec = spec
        self.statement, self._paths = compile_sql(spec.sql)
        self._host, self._port = split_server(spec.server, DEFAULT_PORT)
        self._ca_file: str | None = None

    def _tls_options(self) -> dict[str, str]:
        tls = self.spec.tls
        if tls is None:
            return {"sslmode": "disable"}
        if not tls.verify:
            return {"sslmode": "require"}
        if tls.ca_pem and self._ca_file is None:
            fd, self._ca_file = tempfile.mkstemp(prefix="pgsql-ca-", suffix=".pem")  # 0600
            with os.fdopen(fd, "w") as f:
                f.write(tls.ca_pem)
        return {"sslmode": "verify-full", "sslrootcert": self._ca_file or "system"}

    async def connect(self, index: int) -> psycopg.AsyncConnection[tuple[object, ...]]:
        spec = self.spec
        conninfo = make_conninfo(
            host=self._host,
            port=self._port,
            dbname=spec.database,
            user=spec.username,
            password=spec.password,
            connect_timeout=max(1, round(spec.connect_timeout)),
            application_name=f"mqttcloud {spec.name}"[:63],
            **self._tls_options(),
        )
        try:
            return await psycopg.AsyncConnection.connect(conninfo)
        except psycopg.Error as exc:
            raise TargetDownError(_reason(exc)) from None

    def rows(self, batch: Sequence[Output]) -> list[tuple[str | None, ...]]:
        paths = self._paths
        return [tuple(parameter(lookup(output, path)) for path in paths) for output in batch]

    async def write(self, conn: psycopg.AsyncConnection[tuple[object, ...]], batch: Sequence[Output]) -> int:
        rows = self.rows(batch)
        try:
            async with conn.transaction(), conn.cursor() as cur:
                if len(rows) == 1:
                    await cur.execute(self.statement, rows[0])
                else:
                    await cur.executemany(self.statement, rows)
        except psycopg.Error as exc:
            if conn.closed or conn.broken:
                raise TargetDownError(_reason(exc)) from None
            raise BatchError(_reason(exc), retry=_transient(exc)) from None
        return 0

    async def check(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        try:
            await conn.execute("SELECT 1")
        except psycopg.Error as exc:
            raise TargetDownError(_reason(exc)) from None

    async def disconnect(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        with contextlib.suppress(Exception):  # closing a broken connection may raise anything
            await conn.close()

    async def cleanup(self) -> None:
        if self._ca_file is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._ca_file)
            self._ca_file = None


def _transient(exc: psycopg.Error) -> bool:
    state = exc.sqlstate or ""
    return any(state.startswith(prefix) for prefix in _TRANSIENT)


def _reason(exc: psycopg.Error) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]
