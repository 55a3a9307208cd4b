"""HTTP actions: a bounded queue of rule outputs, `pool_size` workers POSTing them, and a health probe.

One `HttpSink` per HTTP action name per tenant, an `ActionSink` (sink.py: the bounded queue that
`offer(output)` fills from the MQTT hot path, counters, status, the task `close()` cancels). Its task
owns a `TaskGroup` with the workers, each POSTing one output at a time, and the probe.

Rules this module must not break:
- Nothing here blocks MQTT traffic: no await happens on the caller's path, and the queue is bounded.
- A target that cannot be reached makes the sink `disconnected` (with the reason): workers stop taking
  outputs, which wait in the queue; a worker that holds one keeps it. The probe (a TCP connect to the
  target, with backoff) makes it `connected` again and delivery resumes on its own. Outputs are lost
  only when the queue is full (`dropped`) or a reachable target keeps failing past `max_retries`
  (`failed`).
- Every answer counts once: `success` (2xx), `failed` (after the retries), `dropped` (queue full).
  Failures log at most one line per `sink.LOG_INTERVAL` (`ThrottledLog`).
"""

import asyncio
import contextlib
import logging
import ssl

from mqttcloud import contracts
from mqttcloud.rulesql.values import json_encode
from mqttcloud.runtime.rules.httpclient import (
    HttpClient,
    HttpError,
    Origin,
    RequestFailedError,
    UnreachableError,
    client_ssl_context,
    encode_headers,
    encode_request,
    open_connection,
    parse_url,
)
from mqttcloud.runtime.rules.sink import (
    HEALTH_INTERVAL,
    RECONNECT_MAX,
    RECONNECT_MIN,
    RETRY_BASE,
    ActionSink,
    Output,
    backoff,
)
from mqttcloud.runtime.rules.templates import Template

log = logging.getLogger(__name__)


class HttpSink(ActionSink):
    """One HTTP action: keep-alive workers and a probe of the target."""

    def __init__(self, spec: contracts.HttpAction) -> None:
        super().__init__(spec.name, kind="http", max_queue=spec.max_queue)
        self.spec = spec
        self._url = Template(spec.url)
        self._body = Template(spec.body) if spec.body else None
        self._headers = {k: Template(v) for k, v in spec.headers.items()}
        self._headers_constant = all(t.is_constant for t in self._headers.values())
        if not any(k.lower() == "content-type" for k in spec.headers):
            self._headers["content-type"] = Template("application/json")
        self._method = spec.method.upper()
        self._origin: Origin | None = None  # the URL parsed once, when it is not a template
        if self._url.is_constant:
            with contextlib.suppress(RequestFailedError):
                self._origin = parse_url(spec.url)
        self._head: bytes | None = None  # the header lines, once, when no header is a template
        if self._headers_constant:
            with contextlib.suppress(RequestFailedError):
                self._head = encode_headers({k: t.source for k, t in self._headers.items()})
        self._ssl: ssl.SSLContext | None = None
        self._lost = asyncio.Event()  # set while disconnected: the probe tries again

    async def _run(self) -> None:
        spec = self.spec
        if spec.url.startswith("https"):
            self._ssl = client_ssl_context(verify=spec.verify_tls, ca_pem=spec.ca_pem)
        clients = [
            HttpClient(
                ssl_context=self._ssl, connect_timeout=spec.connect_timeout, timeout=spec.request_timeout
            )
            for _ in range(spec.pool_size)
        ]
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._probe())
                for client in clients:
                    tg.create_task(self._worker(client))
        finally:
            for client in clients:
                client.close()

    # ------------------------------------------------------------------------------------ status

    def _set_connected(self) -> None:
        super()._set_connected()
        self._lost.clear()

    def _set_down(self, reason: str) -> None:
        super()._set_down(reason)
        self._lost.set()

    def _target(self) -> Origin | None:
        """The origin to probe, when the URL's scheme, host and port are not templates."""
        head = self.spec.url.split("/", 3)[:3]  # "http:", "", "host:port"
        try:
            origin = parse_url("/".join(head))
        except RequestFailedError:
            return None
        return None if "$" in origin.host else origin

    async def _probe(self) -> None:
        """Connect to the target (TLS included): at once, every HEALTH_INTERVAL while connected, with
        backoff while not."""
        target = self._target()
        if target is None:
            self._set_connected()  # nothing to probe: requests tell
            return
        failures = 0
        while True:
            try:
                conn = await open_connection(
                    target, ssl_context=self._ssl, connect_timeout=self.spec.connect_timeout
                )
            except UnreachableError as exc:
                failures += 1
                self._set_down(exc.reason)
                await asyncio.sleep(backoff(failures, RECONNECT_MIN, RECONNECT_MAX))
                continue
            conn.close()
            failures = 0
            self._set_connected()
            # Sleep until the interval passes or a request finds the target gone.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(HEALTH_INTERVAL):
                    await self._lost.wait()

    # ----------------------------------------------------------------------------------- delivery

    async def _worker(self, client: HttpClient) -> None:
        queue = self._queue
        while True:
            await self._connected.wait()
            output = await queue.get()
            self.inflight += 1
            try:
                await self._deliver(client, output)
            except Exception:  # a bug, not a delivery failure: count it and keep the worker
                log.exception("http action %s: delivery failed", self.spec.name)
                self.failed += 1
            finally:
                self.inflight -= 1

    def _request(self, output: Output) -> tuple[Origin, bytes]:
        """Raises: RequestFailedError when the rendered URL or a rendered header is not usable."""
        origin = self._origin or parse_url(self._url.render(output))
        head = self._head
        if head is None:
            head = encode_headers({k: t.render(output) for k, t in self._headers.items()})
        body = self._body.render(output) if self._body is not None else json_encode(output)
        return origin, encode_request(self._method, origin, head, body.encode())

    async def _deliver(self, client: HttpClient, output: Output) -> None:
        try:
            origin, data = self._request(output)
        except RequestFailedError as exc:
            self.failed += 1
            self.failures.warning(exc.reason)
            return
        attempt = 0
        while True:
            try:
                response = await client.request(origin, data)
            except UnreachableError as exc:
                # The target is gone: keep this output, wait for the probe to see it back.
                self._set_down(exc.reason)
                await self._connected.wait()
                continue
            except HttpError as exc:
                reason = exc.reason
            else:
                status = response.status
                if status < 300:
                    self.success += 1
                    return
                reason = f"HTTP {status}"
                if 400 <= status < 500 and status not in (408, 429):  # the request itself is wrong
                    attempt = self.spec.max_retries
            attempt += 1
            if attempt > self.spec.max_retries:
                self.failed += 1
                self.failures.warning(f"{self._method} {origin.target} failed: {reason}")
                return
            self.retried += 1
            await asyncio.sleep(backoff(attempt, RETRY_BASE, RECONNECT_MAX))
