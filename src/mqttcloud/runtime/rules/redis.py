"""Redis actions: one command per rule output (`HSET ${clientid} temp ${payload.temp}`), batches as pipelines.

The command template is a list of arguments, each a template compiled once; an output renders each
argument to one Redis argument (a rendered value with spaces stays one argument). A batch is one
pipeline (no MULTI): one round trip, one answer per command.

Rules this module must not break:
- Arguments are sent as Redis arguments, never spliced into a command line: a payload cannot add one.
- A connection error is `TargetDownError` (the batch waits for a new connection and is sent again);
  a command Redis answers with an error fails that output only (counted `failed`, logged throttled).
"""

import contextlib
import ssl
from collections.abc import Sequence
from typing import Final

import redis.asyncio as aioredis
from redis import exceptions as redis_errors

from mqttcloud.contracts.rules import RedisAction
from mqttcloud.runtime.rules.httpclient import client_ssl_context
from mqttcloud.runtime.rules.pgsql import split_server
from mqttcloud.runtime.rules.sink import BatchError, BatchSink, Output, TargetDownError
from mqttcloud.runtime.rules.templates import Template

DEFAULT_PORT: Final = 6379
_DOWN: Final = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


class RedisSink(BatchSink[aioredis.Redis]):
    """One Redis action: `pool_size` connections, each sending batches as pipelines."""

    def __init__(self, spec: RedisAction) -> None:
        super().__init__(spec, kind="redis")
        self.spec = spec
        self._args = tuple(Template(arg) for arg in spec.command)
        self._host, self._port = split_server(spec.server, DEFAULT_PORT)

    def command(self, output: Output) -> list[str]:
        return [arg.render(output) for arg in self._args]

    async def connect(self, index: int) -> aioredis.Redis:
        spec = self.spec
        tls = spec.tls
        options: dict[str, object] = {}
        if tls is not None:
            context = client_ssl_context(verify=tls.verify, ca_pem=tls.ca_pem)
            options = {
                "ssl": True,
                "ssl_cert_reqs": ssl.CERT_REQUIRED if tls.verify else ssl.CERT_NONE,
                "ssl_check_hostname": tls.verify and context.check_hostname,
                "ssl_ca_data": tls.ca_pem if tls.verify and tls.ca_pem else None,
            }
        client = aioredis.Redis(
            host=self._host,
            port=self._port,
            db=spec.database,
            username=spec.username or None,
            password=spec.password or None,
            socket_connect_timeout=spec.connect_timeout,
            socket_timeout=spec.request_timeout,
            single_connection_client=True,
            client_name=f"mqttcloud-{index}",
            **options,  # type: ignore[arg-type]  # redis-py takes its TLS options as keywords of many types
        )
        try:
            await client.ping()
        except (redis_errors.RedisError, OSError) as exc:
            with contextlib.suppress(Exception):
                await client.aclose()
            raise TargetDownError(_reason(exc)) from None
        return client

    async def write(self, conn: aioredis.Redis, batch: Sequence[Output]) -> int:
        pipe = conn.pipeline(transaction=False)
        for output in batch:
            pipe.execute_command(*self.command(output))
        try:
            answers = await pipe.execute(raise_on_error=False)
        except _DOWN as exc:
            raise TargetDownError(_reason(exc)) from None
        except redis_errors.RedisError as exc:
            raise BatchError(_reason(exc)) from None
        errors = [a for a in answers if isinstance(a, Exception)]
        if any(isinstance(e, _DOWN) for e in errors):
            raise TargetDownError(_reason(errors[0]))
        if errors:
            self.failures.warning(f"{len(errors)} of {len(batch)} commands failed: {_reason(errors[0])}")
        return len(errors)

    async def check(self, conn: aioredis.Redis) -> None:
        try:
            await conn.ping()
        except (redis_errors.RedisError, OSError) as exc:
            raise TargetDownError(_reason(exc)) from None

    async def disconnect(self, conn: aioredis.Redis) -> None:
        with contextlib.suppress(Exception):  # closing a broken connection may raise anything
            await conn.aclose()
