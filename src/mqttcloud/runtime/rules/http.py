"""HTTP actions: a bounded queue of rule outputs, `pool_size` workers POSTing them, and a health probe.

One `HttpSink` per HTTP action name per tenant. `offer(output)` runs on the MQTT hot path: it only puts
the output in the queue (or counts it `dropped` when `max_queue` outputs already wait) and returns.
The sink's task owns a `TaskGroup` with the workers and the probe; `close()` cancels and awaits it.

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
from typing import Final, Literal

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
from mqttcloud.runtime.rules.sink import ThrottledLog
from mqttcloud.runtime.rules.templates import Template

log = logging.getLogger(__name__)

HEALTH_INTERVAL: Final = 15.0  # seconds between probes of a connected target (EMQX's health check)
RETRY_BASE: Final = 0.05  # seconds before the first retry of a failed request; doubled per retry
RECONNECT_MIN: Final = 0.1  # seconds between probes of a disconnected target, doubled up to ...
RECONNECT_MAX: Final = 2.0
Output = dict[str, object]


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait before attempt `attempt` (1-based): `base` doubled per attempt, at most `cap`."""
    return float(min(cap, base * 2 ** (attempt - 1)))


class HttpSink:
    """One HTTP action: its queue, workers, counters and connection status."""

    def __init__(self, spec: contracts.HttpAction) -> None:
        self.spec = spec
        self._queue: asyncio.Queue[Output] = asyncio.Queue(maxsize=spec.max_queue)
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
        self.matched = self.success = self.failed = self.dropped = self.retried = 0
        self.inflight = 0
        self.status: Literal["connected", "connecting", "disconnected"] = "connecting"
        self.status_reason = ""
        self._connected = asyncio.Event()  # set while connected: workers take outputs
        self._lost = asyncio.Event()  # set while disconnected: the probe tries again
        self._task: asyncio.Task[None] | None = None
        self.failures = ThrottledLog(f"http action {spec.name}")

    # ---------------------------------------------------------------------------- the caller's side

    def offer(self, output: Output) -> bool:
        """Queue one output for delivery; False (and `dropped`) when the queue is full."""
        self.matched += 1
        try:
            self._queue.put_nowait(output)
        except asyncio.QueueFull:
            self.dropped += 1
            return False
        return True

    def counters(self) -> contracts.ActionCounters:
        return contracts.ActionCounters(
            matched=self.matched,
            success=self.success,
            failed=self.failed,
            dropped=self.dropped,
            queuing=self._queue.qsize(),
            inflight=self.inflight,
            retried=self.retried,
            status=self.status,
            status_reason=self.status_reason,
        )

    # ------------------------------------------------------------------------------------ lifetime

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"http-action:{self.spec.name}")

    async def close(self) -> None:
        """Stop the workers and the probe; what is still queued is abandoned."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

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
        if self.status != "connected":
            if self.status == "disconnected":
                log.info("http action %s: connected again", self.spec.name)
            self.status = "connected"
            self.status_reason = ""
        self._lost.clear()
        self._connected.set()

    def _set_disconnected(self, reason: str) -> None:
        if self.status != "disconnected":
            log.warning("http action %s: disconnected: %s", self.spec.name, reason)
        self.status = "disconnected"
        self.status_reason = reason
        self._connected.clear()
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
                self._set_disconnected(exc.reason)
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
                self._set_disconnected(exc.reason)
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
