"""Listeners: TCP, TLS, WebSocket and WSS servers, opened and closed to match the BrokerSpec.

`Listeners.apply(specs, tls)` makes the set of running servers match the spec: new listeners are bound,
removed or re-bound ones are closed together with their connections, and a kept listener takes its new
tenant routing in place (its port does not change). TLS and WSS listeners exist only while the spec has
TLS material; a changed certificate is swapped into the shared `TlsMaterial` and applies to the next
handshake, connected clients stay (see `runtime.tls`).

Tenant selection: a FIXED listener sends every connection to `ListenerSpec.tenant`; an SNI listener uses
the TLS SNI host name. A connection whose SNI names no tenant (or that has no SNI) gets its CONNECT
answered with CONNACK "server unavailable" and a reason (`runtime.sni_refusal`); on a plain-TCP
listener configured with the SNI selector (a spec error) every connection is closed at accept.

Shared ports: the nodes of a cluster on one machine (`BrokerSpec.cluster` with `reuse_port`) bind every
listener with SO_REUSEPORT, so they all listen on the deployment's ports and the kernel spreads accepted
connections over them. A single node binds without it: a second process on its port is an error.

WebSocket: `WebSocketProtocol` runs the RFC 6455 handshake (path `ListenerSpec.ws_path`, subprotocol
`mqtt`) and then hands an adapter transport to a normal `MqttConnection`, so the MQTT code never knows
it is behind WebSocket. Binary frames carry the MQTT byte stream, split or coalesced at will.
"""

import asyncio
import logging
import ssl
from typing import Any, cast

from mqttcloud import contracts
from mqttcloud.runtime import tls as tlsmod
from mqttcloud.runtime.connection import MqttConnection
from mqttcloud.runtime.hub import Hub
from mqttcloud.runtime.tenants import TenantRegistry, TenantRuntime
from mqttcloud.runtime.websocket import (
    CloseCode,
    Closed,
    Data,
    HandshakeError,
    Reply,
    Request,
    WebSocketServer,
    WsEvent,
)

log = logging.getLogger(__name__)

WS_HANDSHAKE_TIMEOUT = 10.0  # seconds from accept to a complete HTTP upgrade request
_SECURE = frozenset({contracts.ListenerKind.TLS, contracts.ListenerKind.WSS})
_WEB = frozenset({contracts.ListenerKind.WS, contracts.ListenerKind.WSS})


class ListenerRuntime:
    """One bound listener: its spec, its server and the connections it accepted."""

    def __init__(self, spec: contracts.ListenerSpec, registry: TenantRegistry) -> None:
        self.spec = spec
        self.name = spec.name
        self.registry = registry
        self.server: asyncio.Server | None = None
        self.front: ssl.SSLContext | None = None
        self.secure = spec.kind in _SECURE  # TLS or WSS (a kept listener never changes kind)
        self.connections: set[MqttConnection] = set()
        self.port = spec.port

    def select_tenant(self, sni: str | None) -> TenantRuntime | None:
        if self.spec.tenant_selector is contracts.TenantSelector.SNI:
            return self.registry.for_sni(sni)
        return self.registry.get(self.spec.tenant)

    def sni_known(self, sni: str | None) -> bool:
        return self.registry.for_sni(sni) is not None

    def address(self) -> contracts.ListenerAddress:
        return contracts.ListenerAddress(
            name=self.name, kind=self.spec.kind, host=self.spec.host, port=self.port
        )

    def same_binding(self, spec: contracts.ListenerSpec) -> bool:
        """Whether `spec` can be served by this already-bound listener (routing may differ)."""
        old = self.spec
        return (
            old.kind == spec.kind
            and old.host == spec.host
            and (spec.port in (0, self.port) if old.port == 0 else spec.port == old.port)
            and old.ws_path == spec.ws_path
        )

    def close_connections(self) -> None:
        for conn in list(self.connections):
            conn.abort()


class WsTransport(asyncio.Transport):
    """What an `MqttConnection` behind WebSocket writes to: each write becomes one binary frame."""

    def __init__(self, proto: "WebSocketProtocol") -> None:
        super().__init__()
        self._proto = proto

    def write(self, data: bytes | bytearray | memoryview) -> None:
        raw = self._proto.transport
        if raw is not None and not raw.is_closing():
            raw.write(self._proto.ws.send(bytes(data)))

    def close(self) -> None:
        raw = self._proto.transport
        if raw is not None and not raw.is_closing():
            raw.write(self._proto.ws.close(CloseCode.NORMAL))
            raw.close()

    def abort(self) -> None:
        if self._proto.transport is not None:
            self._proto.transport.abort()

    def is_closing(self) -> bool:
        raw = self._proto.transport
        return raw is None or raw.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        raw = self._proto.transport
        return default if raw is None else raw.get_extra_info(name, default)

    def get_write_buffer_size(self) -> int:
        raw = self._proto.transport
        return 0 if raw is None else raw.get_write_buffer_size()

    def pause_reading(self) -> None:
        if self._proto.transport is not None:
            self._proto.transport.pause_reading()

    def resume_reading(self) -> None:
        if self._proto.transport is not None:
            self._proto.transport.resume_reading()

    def is_reading(self) -> bool:
        raw = self._proto.transport
        return raw is not None and raw.is_reading()


class WebSocketProtocol(asyncio.Protocol):
    """RFC 6455 server in front of an `MqttConnection`."""

    def __init__(self, inner: MqttConnection, path: str, max_message: int) -> None:
        self.inner = inner
        self.ws = WebSocketServer(path=path, max_message=max_message)
        self.transport: asyncio.Transport | None = None
        self.opened = False
        self._timeout: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # cast: uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        # The MQTT connect timeout starts once the upgrade is done; bound the upgrade itself too.
        self._timeout = asyncio.get_running_loop().call_later(WS_HANDSHAKE_TIMEOUT, self._handshake_timeout)

    def _handshake_timeout(self) -> None:
        if not self.opened and self.transport is not None:
            log.info("websocket handshake not completed within %.0f s; closing", WS_HANDSHAKE_TIMEOUT)
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        transport = self.transport
        assert transport is not None
        try:
            events = self.ws.receive_data(data)
        except HandshakeError as exc:
            log.info("websocket handshake refused (%d): %s", exc.status, exc)
            transport.write(self.ws.reject(exc.status, str(exc)))
            transport.close()
            return
        self._events(events)

    def _events(self, events: list[WsEvent]) -> None:
        transport = self.transport
        assert transport is not None
        for event in events:
            if isinstance(event, Data):
                self.inner.data_received(event.data)
            elif isinstance(event, Request):
                transport.write(self.ws.accept(event))
                self.opened = True
                if self._timeout is not None:
                    self._timeout.cancel()
                self.inner.connection_made(WsTransport(self))
                self._events(self.ws.pending_events())
            elif isinstance(event, Reply):
                transport.write(event.data)
            elif isinstance(event, Closed):
                if event.reply:
                    transport.write(event.reply)
                transport.close()
                return

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timeout is not None:
            self._timeout.cancel()
        if self.opened:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.opened:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.opened:
            self.inner.resume_writing()


def shares_ports(spec: contracts.BrokerSpec) -> bool:
    """Whether this node binds its listeners with SO_REUSEPORT (a cluster node that asks for it)."""
    return spec.cluster is not None and spec.cluster.reuse_port


class Listeners:
    """The running listeners of the process (`reuse_port`: bind with SO_REUSEPORT, see `shares_ports`)."""

    def __init__(self, hub: Hub, registry: TenantRegistry, *, reuse_port: bool = False) -> None:
        self.hub = hub
        self.registry = registry
        self.reuse_port = reuse_port
        self.active: dict[str, ListenerRuntime] = {}
        self.material: tlsmod.TlsMaterial | None = None

    async def apply(
        self, specs: list[contracts.ListenerSpec], tls_spec: contracts.TlsSpec | None
    ) -> list[contracts.ListenerAddress]:
        """Open/close/re-route listeners to match; returns the bound addresses (actual ports).

        Raises:
            OSError: a listener could not be bound (others stay as they are).
            ssl.SSLError, ValueError: unusable TLS material.
        """
        # TLS material first, so listeners opened below use the new certificate.
        if tls_spec is None:
            self.material = None
        elif self.material is None:
            self.material = tlsmod.TlsMaterial.from_spec(tls_spec)
        elif self.material.update(tls_spec):
            log.info("TLS certificate swapped; connected clients keep their sessions")
        wanted = {s.name: s for s in specs if s.kind not in _SECURE or self.material is not None}
        for name, running in list(self.active.items()):
            spec = wanted.get(name)
            if spec is None or not running.same_binding(spec):
                await self._close(running)
            else:
                running.spec = spec
                if running.front is not None and self.material is not None:
                    tlsmod.refresh_front(running.front, self.material)
        for name, spec in wanted.items():
            if name not in self.active:
                await self._open(spec)
        return self.addresses()

    def addresses(self) -> list[contracts.ListenerAddress]:
        return [listener.address() for listener in self.active.values()]

    async def _open(self, spec: contracts.ListenerSpec) -> None:
        listener = ListenerRuntime(spec, self.registry)
        loop = asyncio.get_running_loop()
        hub = self.hub
        ssl_ctx: ssl.SSLContext | None = None
        if spec.kind in _SECURE:
            assert self.material is not None
            check = listener.sni_known if spec.tenant_selector is contracts.TenantSelector.SNI else None
            ssl_ctx = tlsmod.front_context(self.material, check)
            listener.front = ssl_ctx
        if spec.kind in _WEB:
            registry = self.registry

            def factory() -> asyncio.Protocol:
                return WebSocketProtocol(
                    MqttConnection(hub, listener),
                    listener.spec.ws_path,
                    2 * registry.max_packet_size() + 65536,
                )

        else:

            def factory() -> asyncio.Protocol:
                return MqttConnection(hub, listener)

        server = await loop.create_server(
            factory,
            spec.host,
            spec.port,
            ssl=ssl_ctx,
            backlog=4096,
            reuse_port=self.reuse_port or None,
            ssl_handshake_timeout=10.0 if ssl_ctx else None,
        )
        listener.server = server
        listener.port = int(server.sockets[0].getsockname()[1])
        self.active[spec.name] = listener
        log.info("listener %s (%s) on %s:%d", spec.name, spec.kind, spec.host, listener.port)

    async def _close(self, listener: ListenerRuntime) -> None:
        self.active.pop(listener.name, None)
        if listener.server is not None:
            listener.server.close()
        listener.close_connections()
        log.info("listener %s closed", listener.name)

    def stop_accepting(self) -> None:
        for listener in self.active.values():
            if listener.server is not None:
                listener.server.close()

    async def close_all(self) -> None:
        for listener in list(self.active.values()):
            await self._close(listener)
