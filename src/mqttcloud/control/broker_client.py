"""Async client of a broker's admin channel, exactly as `contracts.py` defines it.

The channel is newline-delimited JSON over one TCP connection to 127.0.0.1: each request is one
`AdminRequest` line carrying the admin token and a fresh id; each answer is one `AdminResponse` line with
the same id. Requests are pipelined: a reader task owned by the connection matches answers to waiting
callers by id, so concurrent API requests share the connection. Request lines written in the same
event-loop iteration go out in one write (one syscall instead of one per request).

Rules this module must not break:
- Every call is bounded by `asyncio.timeout`; a broker that does not answer raises `BrokerUnavailable`.
- A request is sent at most once. If the connection is found dead *before* sending, the client
  reconnects; if it dies after sending, the caller gets `BrokerUnavailable` (publish and kick are not
  idempotent, so they are never replayed).
- Errors the broker reports come back as `BrokerError(code, message)`, never as a result.
"""

import asyncio
import contextlib
import itertools
import logging
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mqttcloud import logs
from mqttcloud.contracts import (
    ADMIN_OPS,
    MAX_ADMIN_FIRST_LINE,
    MAX_ADMIN_LINE,
    AdminOp,
    AdminRequest,
    AdminResponse,
    ApplySpecArgs,
    ApplySpecResult,
    BrokerSpec,
    CaptureArgs,
    CaptureBatch,
    ClientArgs,
    ClientFilter,
    ClientInfo,
    ClientList,
    EmptyResult,
    EventBatch,
    EventsArgs,
    ListClientsArgs,
    ListSubscriptionsArgs,
    PingArgs,
    PingResult,
    PublishArgs,
    PublishResult,
    RuleMetricsArgs,
    RuleMetricsResult,
    SubscribeArgs,
    SubscriptionFilter,
    SubscriptionInfo,
    SubscriptionList,
    TenantArgs,
    TenantId,
    TenantMetrics,
    TenantStats,
    UnsubscribeArgs,
)

logger = logging.getLogger(__name__)

ResultT = TypeVar("ResultT", bound=BaseModel)
_HIGH_WATER = 1024 * 1024  # bytes queued in the socket before a caller waits for the broker to read


class BrokerUnavailable(Exception):  # noqa: N818  (named for what the caller sees, like ConnectionRefused)
    """The broker cannot be reached, closed the channel, or did not answer in time."""


class BrokerError(Exception):
    """The broker answered with an error (`AdminResponse.error`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class _Connection:
    """One open admin connection: a writer, and a reader task that resolves pending requests by id."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.pending: dict[int, asyncio.Future[AdminResponse]] = {}
        self.closed = False
        self.used = False  # a request was sent (the broker has checked a token on this connection)
        self._out: list[bytes] = []
        # Owned by this connection and awaited in `close()`.
        self.read_task = asyncio.create_task(self._read_loop(), context=logs.unbound())  # outlives a request

    async def _read_loop(self) -> None:
        error = "admin connection closed by the broker"
        try:
            while True:
                line = await self.reader.readline()
                if not line:
                    break
                try:
                    response = AdminResponse.model_validate_json(line)
                except ValidationError:
                    error = "malformed admin response"
                    logger.warning("malformed admin response (%d bytes); closing", len(line))
                    break
                future = self.pending.pop(response.id, None)
                if future is not None and not future.done():
                    future.set_result(response)
        except (OSError, ValueError) as exc:  # ValueError: line longer than the reader limit
            error = f"admin connection failed: {exc}"
        finally:
            self.closed = True
            self._fail_pending(error)
            self.writer.close()

    def send(self, line: bytes) -> None:
        """Queue one request line; every line queued in this loop iteration is written at once."""
        if self.closed:
            raise BrokerUnavailable("admin connection closed")
        self._out.append(line)
        if len(self._out) == 1:
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        data, self._out = b"".join(self._out), []
        if self.closed:  # closed since the lines were queued: nobody will answer them
            self._fail_pending("admin connection closed")
            return
        try:
            self.writer.write(data)
        except (OSError, RuntimeError) as exc:  # RuntimeError: the transport is already closing
            self.closed = True
            self._fail_pending(f"admin connection failed: {exc}")

    async def backpressure(self) -> None:
        """Wait while the socket's write buffer is full (a broker that stopped reading)."""
        if self.writer.transport.get_write_buffer_size() > _HIGH_WATER:
            await self.writer.drain()

    def _fail_pending(self, error: str) -> None:
        for future in self.pending.values():
            if not future.done():
                future.set_exception(BrokerUnavailable(error))
        self.pending.clear()

    async def close(self) -> None:
        self.closed = True
        self.read_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.read_task
        self._fail_pending("admin client closed")
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


class BrokerClient:
    """Client of one broker's admin channel; one persistent, lazily opened connection.

    Args:
        host: the admin host from the ReadyFile (127.0.0.1).
        port: the admin port from the ReadyFile.
        token: `BrokerSpec.admin.token`.
        timeout: seconds allowed for each call, connecting included.

    Use `await client.close()` when done. A broker that restarts listens on a new port: get a fresh
    client from `Supervisor.client(broker_id)` for each use instead of keeping one.
    """

    def __init__(self, host: str, port: int, token: str, *, timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self._token = token
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._conn: _Connection | None = None
        self._connect_lock = asyncio.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"BrokerClient({self.host!r}, {self.port})"

    async def close(self) -> None:
        """Close the connection; pending calls raise `BrokerUnavailable`. Safe to call twice."""
        self._closed = True
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def _connection(self) -> _Connection:
        async with self._connect_lock:
            if self._closed:
                raise BrokerUnavailable("admin client closed")
            if self._conn is not None and not self._conn.closed:
                return self._conn
            if self._conn is not None:
                await self._conn.close()
                self._conn = None
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port, limit=MAX_ADMIN_LINE)
            except OSError as exc:
                raise BrokerUnavailable(f"cannot reach broker admin {self.host}:{self.port}: {exc}") from exc
            self._conn = _Connection(reader, writer)
            return self._conn

    def _request_line(self, request_id: int, op: AdminOp, args: BaseModel) -> bytes:
        request = AdminRequest(
            id=request_id,
            token=self._token,
            op=op,
            args=args.model_dump(mode="json", by_alias=True),
            request_id=logs.request_id.get(),  # the API request being served, for the broker's logs
            actor=logs.actor.get(),
        )
        return request.model_dump_json().encode() + b"\n"

    async def call(self, op: AdminOp, args: BaseModel, result_type: type[ResultT]) -> ResultT:
        """Send one request and return its validated result.

        Raises:
            BrokerError: the broker answered with an error.
            BrokerUnavailable: no connection, connection lost, or no answer within `timeout`.
        """
        assert result_type is ADMIN_OPS[op][1], (op, result_type)
        result = await self.call_raw(op, args)
        try:
            return result_type.model_validate(result)
        except ValidationError as exc:
            raise BrokerError("INTERNAL_ERROR", f"malformed {op} result: {exc}") from exc

    async def call_raw(self, op: AdminOp, args: BaseModel) -> dict[str, Any]:
        """`call` without validating the result: the result model's JSON shape (`by_alias`), for callers
        that only re-serialize it (a page of clients costs ~1 ms less). Raises as `call`."""
        expected_args, _ = ADMIN_OPS[op]
        assert isinstance(args, expected_args), (op, type(args))
        request_id = next(self._ids)
        line = self._request_line(request_id, op, args)
        conn: _Connection | None = None
        try:
            async with asyncio.timeout(self.timeout):
                conn = await self._connection()
                if not conn.used and len(line) > MAX_ADMIN_FIRST_LINE:
                    # The broker reads at most MAX_ADMIN_FIRST_LINE bytes before it has checked the
                    # token (runtime/admin.py): a ping authenticates the connection first.
                    conn.send(self._request_line(next(self._ids), "ping", PingArgs()))
                conn.used = True
                future: asyncio.Future[AdminResponse] = asyncio.get_running_loop().create_future()
                conn.pending[request_id] = future
                try:
                    conn.send(line)
                    await conn.backpressure()
                except OSError as exc:
                    raise BrokerUnavailable(f"admin connection failed: {exc}") from exc
                response = await future
        except TimeoutError as exc:
            raise BrokerUnavailable(f"broker admin did not answer {op!r} within {self.timeout} s") from exc
        finally:
            if conn is not None:
                conn.pending.pop(request_id, None)
        if not response.ok:
            if response.error is None:
                raise BrokerError("INTERNAL_ERROR", "error response without an error body")
            if response.error.code == "UNAUTHORIZED" and conn is not None:
                conn.closed = True  # the broker closes the channel after a bad token: don't reuse it
            raise BrokerError(response.error.code, response.error.message)
        return response.result or {}

    # ----------------------------------------------------------------------------------------------
    # One typed method per op in contracts.ADMIN_OPS
    # ----------------------------------------------------------------------------------------------

    async def ping(self) -> PingResult:
        return await self.call("ping", PingArgs(), PingResult)

    async def apply_spec(self, spec: BrokerSpec, generation: int) -> ApplySpecResult:
        return await self.call("apply_spec", ApplySpecArgs(spec=spec, generation=generation), ApplySpecResult)

    async def list_clients(
        self, tenant: TenantId, filter: ClientFilter | None = None, page: int = 1, limit: int = 100
    ) -> ClientList:
        args = ListClientsArgs(tenant=tenant, filter=filter or ClientFilter(), page=page, limit=limit)
        return await self.call("list_clients", args, ClientList)

    async def list_clients_raw(
        self, tenant: TenantId, filter: ClientFilter | None = None, page: int = 1, limit: int = 100
    ) -> dict[str, Any]:
        """`list_clients` as the `ClientList` JSON (`data` items keyed by alias), not validated.

        Raises: as `call`, and BrokerError INTERNAL_ERROR when the answer is not a page.
        """
        args = ListClientsArgs(tenant=tenant, filter=filter or ClientFilter(), page=page, limit=limit)
        result = await self.call_raw("list_clients", args)
        if not isinstance(result.get("data"), list) or not isinstance(result.get("count"), int):
            raise BrokerError("INTERNAL_ERROR", "malformed list_clients result")
        return result

    async def get_client(self, tenant: TenantId, clientid: str) -> ClientInfo:
        return await self.call("get_client", ClientArgs(tenant=tenant, clientid=clientid), ClientInfo)

    async def kick(self, tenant: TenantId, clientid: str) -> None:
        await self.call("kick", ClientArgs(tenant=tenant, clientid=clientid), EmptyResult)

    async def client_subscriptions(self, tenant: TenantId, clientid: str) -> SubscriptionList:
        args = ClientArgs(tenant=tenant, clientid=clientid)
        return await self.call("client_subscriptions", args, SubscriptionList)

    async def subscribe(
        self,
        tenant: TenantId,
        clientid: str,
        topic: str,
        *,
        qos: int = 0,
        nl: int = 0,
        rap: int = 0,
        rh: int = 0,
    ) -> SubscriptionInfo:
        args = SubscribeArgs(tenant=tenant, clientid=clientid, topic=topic, qos=qos, nl=nl, rap=rap, rh=rh)
        return await self.call("subscribe", args, SubscriptionInfo)

    async def unsubscribe(self, tenant: TenantId, clientid: str, topic: str) -> None:
        args = UnsubscribeArgs(tenant=tenant, clientid=clientid, topic=topic)
        await self.call("unsubscribe", args, EmptyResult)

    async def list_subscriptions(
        self, tenant: TenantId, filter: SubscriptionFilter | None = None, page: int = 1, limit: int = 100
    ) -> SubscriptionList:
        args = ListSubscriptionsArgs(
            tenant=tenant, filter=filter or SubscriptionFilter(), page=page, limit=limit
        )
        return await self.call("list_subscriptions", args, SubscriptionList)

    async def publish(self, args: PublishArgs) -> PublishResult:
        """Publish as the broker (HTTP publish); `args` carries topic, payload (base64), QoS, properties."""
        return await self.call("publish", args, PublishResult)

    async def stats(self, tenant: TenantId) -> TenantStats:
        return await self.call("stats", TenantArgs(tenant=tenant), TenantStats)

    async def metrics(self, tenant: TenantId) -> TenantMetrics:
        return await self.call("metrics", TenantArgs(tenant=tenant), TenantMetrics)

    async def capture(
        self, tenant: TenantId, *, consumer: str, filters: list[str], wait: float, max_messages: int = 100
    ) -> CaptureBatch:
        """The messages `tenant` routed on `filters` since `consumer`'s previous call, waiting up to
        `wait` seconds (< `timeout`) for one (`contracts.CaptureArgs`)."""
        args = CaptureArgs(
            tenant=tenant, consumer=consumer, filters=filters, wait=wait, max_messages=max_messages
        )
        return await self.call("capture", args, CaptureBatch)

    async def events(self, tenant: TenantId, *, wait: float, max_events: int = 5000) -> EventBatch:
        """The client events `tenant` recorded since the previous call, waiting up to `wait` seconds
        (< `timeout`) for one (`contracts.EventsArgs`)."""
        args = EventsArgs(tenant=tenant, wait=wait, max_events=max_events)
        return await self.call("events", args, EventBatch)

    async def rule_metrics(self, tenant: TenantId) -> RuleMetricsResult:
        """Counters of every rule and HTTP action the broker runs for `tenant` (EMQX 5 names)."""
        return await self.call("rule_metrics", RuleMetricsArgs(tenant=tenant), RuleMetricsResult)
