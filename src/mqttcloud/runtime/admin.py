"""The admin channel: newline-delimited JSON over TCP on 127.0.0.1, exactly as `contracts` defines it.

Each line is one `AdminRequest`; each answer is one `AdminResponse` line with the same `id`. The token
is checked on every request (constant-time); a bad token gets `UNAUTHORIZED` and the connection is
closed. Arguments are validated against `ADMIN_OPS[op][0]`, results dumped from `ADMIN_OPS[op][1]` with
`by_alias=True`. Errors are `ErrorBody` codes: NOT_FOUND (unknown tenant), CLIENTID_NOT_FOUND,
BAD_REQUEST (invalid arguments, topic, spec), UNAUTHORIZED, INTERNAL_ERROR (a bug, logged).

Rules this module must not break:
- One request is answered completely before the next line of the same connection is read, so answers
  come back in order; requests on different connections are independent.
- Nothing a client sends can crash the broker: every failure becomes an error response.
"""

import asyncio
import base64
import binascii
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pydantic

from mqttcloud import contracts
from mqttcloud.runtime.tenants import TenantRuntime

if TYPE_CHECKING:
    from mqttcloud.runtime.server import BrokerServer

log = logging.getLogger(__name__)


class AdminError(Exception):
    """An error answer: `code` is the ErrorBody code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


Handler = Callable[[pydantic.BaseModel], Awaitable[pydantic.BaseModel]]


class AdminServer:
    """Serves the admin channel for one `BrokerServer`."""

    def __init__(self, broker: "BrokerServer") -> None:
        self.broker = broker
        self.server: asyncio.Server | None = None
        self.port = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._handlers: dict[str, Handler] = {
            "ping": self._ping,
            "apply_spec": self._apply_spec,
            "list_clients": self._list_clients,
            "get_client": self._get_client,
            "kick": self._kick,
            "client_subscriptions": self._client_subscriptions,
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "list_subscriptions": self._list_subscriptions,
            "publish": self._publish,
            "stats": self._stats,
            "metrics": self._metrics,
        }
        assert set(self._handlers) == set(contracts.ADMIN_OPS)

    async def start(self, host: str, port: int) -> int:
        self.server = await asyncio.start_server(self._serve, host, port, limit=contracts.MAX_ADMIN_LINE)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self.port

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    await self._send(writer, 0, None, AdminError("BAD_REQUEST", "request line too long"))
                    break
                if not line:
                    break
                if not line.strip():
                    continue
                keep = await self._answer(writer, line)
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, line: bytes) -> bool:
        """Answer one request line; returns False when the connection must be closed."""
        request_id = 0
        try:
            raw = json.loads(line)
            if isinstance(raw, dict) and isinstance(raw.get("id"), int):
                request_id = raw["id"]
            request = contracts.AdminRequest.model_validate(raw)
        except (ValueError, pydantic.ValidationError) as exc:
            await self._send(writer, request_id, None, AdminError("BAD_REQUEST", f"invalid request: {exc}"))
            return True
        if not hmac.compare_digest(request.token.encode(), self.broker.admin_token.encode()):
            await self._send(writer, request.id, None, AdminError("UNAUTHORIZED", "bad admin token"))
            return False
        arg_model, result_model = contracts.ADMIN_OPS[request.op]
        try:
            args = arg_model.model_validate(request.args)
            result = await self._handlers[request.op](args)
            assert isinstance(result, result_model)
        except pydantic.ValidationError as exc:
            await self._send(writer, request.id, None, AdminError("BAD_REQUEST", str(exc)))
            return True
        except AdminError as exc:
            await self._send(writer, request.id, None, exc)
            return True
        except Exception:
            log.exception("admin op %s failed", request.op)
            await self._send(writer, request.id, None, AdminError("INTERNAL_ERROR", "internal error"))
            return True
        await self._send(writer, request.id, result.model_dump(mode="json", by_alias=True), None)
        return True

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        request_id: int,
        result: dict[str, Any] | None,
        error: AdminError | None,
    ) -> None:
        response = contracts.AdminResponse(
            id=request_id,
            ok=error is None,
            result=result,
            error=None if error is None else contracts.ErrorBody(code=error.code, message=error.message),
        )
        writer.write(response.model_dump_json().encode() + b"\n")
        await writer.drain()

    # -------------------------------------------------------------------------------------- ops

    def _tenant(self, tenant_id: contracts.TenantId) -> TenantRuntime:
        tenant = self.broker.registry.get(tenant_id)
        if tenant is None:
            raise AdminError("NOT_FOUND", f"tenant {tenant_id} not found")
        return tenant

    async def _ping(self, args: pydantic.BaseModel) -> pydantic.BaseModel:
        assert isinstance(args, contracts.PingArgs)
        return self.broker.ping()

    async def _apply_spec(self, args: pydantic.BaseModel) -> pydantic.BaseModel:
        assert isinstance(args, contracts.ApplySpecArgs)
        try:
            listeners = await self.broker.apply_spec(args.spec, args.generation)
        except (OSError, ValueError) as exc:
            raise AdminError("BAD_REQUEST", f"cannot apply spec: {exc}") from exc
        return contracts.ApplySpecResult(listeners=listeners, generation=self.broker.generation)

    async def _list_clients(self, args: pydantic.BaseModel) -> pydantic.BaseModel:
        assert isinstance(args, contracts.ListClientsArgs)
        result: contracts.ClientList = self._tenant(args.tenant).broker.client_infos(
            args.filter, args.page, args.limit
        )
        return result

    async def _get_client(self, args: pydantic.BaseModel) -> pydantic.BaseModel:
        assert isinstance(args, contracts.ClientArgs)
        info: contracts.ClientInfo | None = self._tenant(args.tenant).broker.client_info(args.clientid)
        if info is None:
            raise AdminError("CLIENTID_NOT_FOUND", f"client {args.clientid} not found")
        return info

    async def _kick(self, args: pydantic.BaseModel) -> pydantic.BaseModel:
        assert isinstance(args, contracts.ClientArgs)
        tenant = self._tenant(args.tenant)
        found, actions = tenant.broker.kick(args.clientid, self.broker.now())
        tenant.perform(actions)
        if not found:
            raise AdminError("CLIENTID_NOT_FOUND", f"client {args.clientid} not found")
        return contracts.EmptyResult()

    async def _client_subscriptions(self, args: pydantic.BaseModel) -> pydantic.BaseModel:
        assert isinstance(args, contracts.ClientArgs)
        subs: list[contracts.SubscriptionInfo] | None = self._tenant(args.tenant).broker.client_subscriptions(
            args.clientid
        )
        if subs is None:
            raise AdminError("CLIENTID_NOT_FOUND", f"client {args.clientid} not found")
        return contracts.SubscriptionList(
            data=subs, count=len(subs), page=1, limit=max(1, len(subs)), hasnext=False
        )

    async def _subscribe(self, args: pydantic.BaseModel) -> pydantic.BaseModel:
        assert isinstance(args, contracts.SubscribeArgs)
        tenant = self._tenant(args.tenant)
        try:
            info, actions = tenant.broker.subscribe_on_behalf(args, self.broker.now())
        except ValueError as exc:
            raise AdminError("BAD_REQUEST", str(exc)) from exc
        tenant.perform(actions)
        if info is None:
            raise AdminError("CLIENTID_NOT_FOUND", f"client {args.clientid} not found")
        assert isinstance(info, contracts.SubscriptionInfo)
        return info

    async def _unsubscribe(self, args: pydantic.BaseModel) -> pydantic.BaseModel:
        assert isinstance(args, contracts.UnsubscribeArgs)
        tenant = self._tenant(args.tenant)
        try:
            found, actions = tenant.broker.unsubscribe_on_behalf(args, self.broker.now())
        except ValueError as exc:
            raise AdminError("BAD_REQUEST", str(exc)) from exc
        tenant.perform(actions)
        if not found:
            raise AdminError("CLIENTID_NOT_FOUND", f"client {args.clientid} not found")
        return contracts.EmptyResult()

    async def _list_subscriptions(self, args: pydantic.BaseModel) -> pydantic.BaseModel:
        assert isinstance(args, contracts.ListSubscriptionsArgs)
        result: contracts.SubscriptionList = self._tenant(args.tenant).broker.subscriptions(
            args.filter, args.page, args.limit
        )
        return result

    async def _publish(self, args: pydantic.BaseModel) -> pydantic.BaseModel:
        assert isinstance(args, contracts.PublishArgs)
        tenant = self._tenant(args.tenant)
        try:
            base64.b64decode(args.payload_b64, validate=True)
            if args.correlation_data_b64 is not None:
                base64.b64decode(args.correlation_data_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise AdminError("BAD_REQUEST", f"invalid base64: {exc}") from exc
        try:
            message_id, matched, actions = tenant.broker.publish_api(args, self.broker.now())
        except ValueError as exc:
            raise AdminError("BAD_REQUEST", str(exc)) from exc
        tenant.perform(actions)
        return contracts.PublishResult(id=message_id, matched=matched)

    async def _stats(self, args: pydantic.BaseModel) -> pydantic.BaseModel:
        assert isinstance(args, contracts.TenantArgs)
        stats: contracts.TenantStats = self._tenant(args.tenant).broker.stats()
        return stats

    async def _metrics(self, args: pydantic.BaseModel) -> pydantic.BaseModel:
        assert isinstance(args, contracts.TenantArgs)
        metrics: contracts.TenantMetrics = self._tenant(args.tenant).broker.metrics()
        return metrics
