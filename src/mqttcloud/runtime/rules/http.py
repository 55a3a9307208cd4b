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
"""

import asyncio
import contextlib
import logging
import ssl
from typing import Final, Literal

import httpx

from mqttcloud import contracts
from mqttcloud.rulesql.values import json_encode
from mqttcloud.runtime.rules.templates import Template

log = logging.getLogger(__name__)
# httpx logs every request at INFO: thousands of lines a second under a webhook's load.
logging.getLogger("httpx").setLevel(logging.WARNING)

HEALTH_INTERVAL: Final = 15.0  # seconds between probes of a connected target (EMQX's health check)
RETRY_BASE: Final = 0.05  # seconds before the first retry of a failed request; doubled per retry
RECONNECT_MIN: Final = 0.1  # seconds between probes of a disconnected target, doubled up to ...
RECONNECT_MAX: Final = 2.0
Output = dict[str, object]

# Errors that mean "the target cannot be reached", not "this request failed".
_UNREACHABLE = (httpx.ConnectError, httpx.ConnectTimeout)


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait before attempt `attempt` (1-based): `base` doubled per attempt, at most `cap`."""
    return float(min(cap, base * 2 ** (attempt - 1)))


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text


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
        self.matched = self.success = self.failed = self.dropped = self.retried = 0
        self.inflight = 0
        self.status: Literal["connected", "connecting", "disconnected"] = "connecting"
        self.status_reason = ""
        self._connected = asyncio.Event()  # set while connected: workers take outputs
        self._lost = asyncio.Event()  # set while disconnected: the probe tries again
        self._task: asyncio.Task[None] | None = None

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
        verify: ssl.SSLContext | bool = spec.verify_tls
        if spec.ca_pem is not None and spec.verify_tls:
            verify = ssl.create_default_context(cadata=spec.ca_pem)
        timeout = httpx.Timeout(spec.request_timeout, connect=spec.connect_timeout)
        limits = httpx.Limits(max_connections=spec.pool_size, max_keepalive_connections=spec.pool_size)
        async with (
            httpx.AsyncClient(verify=verify, timeout=timeout, limits=limits) as client,
            asyncio.TaskGroup() as tg,
        ):
            tg.create_task(self._probe())
            for _ in range(spec.pool_size):
                tg.create_task(self._worker(client))

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

    def _target(self) -> tuple[str, int] | None:
        """Host and port to probe, when the URL's host is not a template."""
        try:
            url = httpx.URL(self.spec.url)
        except httpx.InvalidURL:
            return None
        if not url.host or "$" in url.host:
            return None
        return url.host, url.port or (443 if url.scheme == "https" else 80)

    async def _probe(self) -> None:
        """Connect to the target: at once, every HEALTH_INTERVAL while connected, with backoff while not."""
        target = self._target()
        if target is None:
            self._set_connected()  # nothing to probe: requests tell
            return
        failures = 0
        while True:
            try:
                async with asyncio.timeout(self.spec.connect_timeout):
                    _reader, writer = await asyncio.open_connection(*target)
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
            except (OSError, TimeoutError) as exc:
                failures += 1
                self._set_disconnected(
                    _describe(exc) if not isinstance(exc, TimeoutError) else "connect timeout"
                )
                await asyncio.sleep(backoff(failures, RECONNECT_MIN, RECONNECT_MAX))
                continue
            failures = 0
            self._set_connected()
            # Sleep until the interval passes or a request finds the target gone.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(HEALTH_INTERVAL):
                    await self._lost.wait()

    # ----------------------------------------------------------------------------------- delivery

    async def _worker(self, client: httpx.AsyncClient) -> None:
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

    def _request(self, output: Output) -> tuple[str, dict[str, str], bytes]:
        url = self._url.render(output)
        headers = {
            k: t.source if self._headers_constant else t.render(output) for k, t in self._headers.items()
        }
        body = self._body.render(output) if self._body is not None else json_encode(output)
        return url, headers, body.encode()

    async def _deliver(self, client: httpx.AsyncClient, output: Output) -> None:
        url, headers, body = self._request(output)
        attempt = 0
        while True:
            try:
                response = await client.request(self._method, url, headers=headers, content=body)
            except _UNREACHABLE as exc:
                # The target is gone: keep this output, wait for the probe to see it back.
                self._set_disconnected(_describe(exc))
                await self._connected.wait()
                continue
            except httpx.HTTPError as exc:
                reason = _describe(exc)
            else:
                status = response.status_code
                if status < 300:
                    self.success += 1
                    return
                reason = f"HTTP {status}"
                if 400 <= status < 500 and status not in (408, 429):  # the request itself is wrong
                    attempt = self.spec.max_retries
            attempt += 1
            if attempt > self.spec.max_retries:
                self.failed += 1
                log.warning("http action %s: %s %s failed: %s", self.spec.name, self._method, url, reason)
                return
            self.retried += 1
            await asyncio.sleep(backoff(attempt, RETRY_BASE, RECONNECT_MAX))
