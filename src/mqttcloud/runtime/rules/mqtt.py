"""MQTT bridge actions: rule outputs published to another broker, over our own `protocol/` codec.

`BridgeConnection` is a small MQTT client (`asyncio.Protocol`): CONNECT/CONNACK, PUBLISH with its QoS 1
and 2 flows, keep-alive pings; `MqttSink` runs `pool_size` of them (client ids `<client_id>_<n>` when
there are several, as EMQX's bridge pool does) and publishes each batch at once, awaiting every ack.
The codec is ours rather than paho in a thread: the sink is asyncio like every other action, and a
batch of QoS 1 publishes costs one write and one wait instead of a thread hop per message.

Rules this module must not break:
- At most the remote's Receive Maximum (v5 CONNACK; 65,535 for v3.1.1) QoS 1/2 publishes wait for an
  ack on one connection; a batch that has more waits for acks before sending the rest.
- A connection refused by CONNACK, lost, or silent past 1.5 keep-alives is `TargetDownError`: the
  batch is sent again on the next connection (at least once, as EMQX's bridge). An ack with a reason
  code >= 0x80 (v5) fails that output only; a topic, QoS or retain that does not render fails it too.
"""

import asyncio
import contextlib
import secrets
from collections.abc import Sequence
from typing import Final, cast

from mqttcloud.contracts.rules import MqttAction
from mqttcloud.protocol import Framer, decode, encode
from mqttcloud.protocol.errors import MalformedPacket, ProtocolError
from mqttcloud.protocol.packets import (
    ConnAck,
    Connect,
    Disconnect,
    Packet,
    PingReq,
    PingResp,
    ProtocolVersion,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    QoS,
)
from mqttcloud.protocol.topics import validate_topic_name
from mqttcloud.rulesql.values import json_encode
from mqttcloud.runtime.rules.httpclient import client_ssl_context, describe
from mqttcloud.runtime.rules.pgsql import split_server
from mqttcloud.runtime.rules.sink import BatchSink, Output, TargetDownError
from mqttcloud.runtime.rules.templates import ActionError, Template, bool_value, int_value

DEFAULT_PORT: Final = 1883
RECEIVE_MAXIMUM: Final = 65_535


class BridgeConnection(asyncio.Protocol):
    """One connection to the remote broker; `publish_all` sends a batch and awaits its acks."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reason = ""
        self._framer = Framer()
        self._connack: asyncio.Future[ConnAck] = asyncio.get_running_loop().create_future()
        self._acks: dict[int, asyncio.Future[int]] = {}  # packet id -> reason code of the final ack
        self._pong: asyncio.Future[None] | None = None
        self._next_id = 0
        self.window = asyncio.Semaphore(RECEIVE_MAXIMUM)
        self._last_heard = asyncio.get_running_loop().time()

    # ---------------------------------------------------------------------------------- protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # cast: uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(describe(exc) if exc is not None else self.reason or "connection closed by the broker")

    def data_received(self, data: bytes) -> None:
        self._last_heard = asyncio.get_running_loop().time()
        try:
            for first, body in self._framer.feed(data):
                self._handle(decode(first, body, self.version))
        except (MalformedPacket, ProtocolError) as exc:
            self.close(f"bad packet from the broker: {exc}")

    def _handle(self, packet: Packet) -> None:
        match packet:
            case ConnAck():
                if not self._connack.done():
                    self._connack.set_result(packet)
            case PubAck() | PubComp():
                self._settle(packet.packet_id, int(packet.reason_code))
            case PubRec():
                if packet.reason_code >= 0x80:
                    self._settle(packet.packet_id, int(packet.reason_code))
                else:
                    self._send(PubRel(packet_id=packet.packet_id))
            case PingResp():
                if self._pong is not None and not self._pong.done():
                    self._pong.set_result(None)
            case Disconnect():
                self.reason = f"disconnected by the broker: {packet.reason_code.name}"
            case _:  # a PUBLISH for a subscription we never made, or anything else: ignored
                pass

    def _settle(self, packet_id: int, reason: int) -> None:
        waiter = self._acks.pop(packet_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(reason)

    def _fail(self, reason: str) -> None:
        self.closed = True
        self.reason = self.reason or reason
        error = TargetDownError(self.reason)
        for future in (self._connack, self._pong, *self._acks.values()):
            if future is not None and not future.done():
                future.set_exception(error)
        self._acks.clear()

    def _send(self, packet: Packet) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(encode(packet, self.version))

    def goodbye(self) -> None:
        """DISCONNECT (normal), then close."""
        if not self.closed:
            self._send(Disconnect())
            self.close("closed")

    def close(self, reason: str = "") -> None:
        if reason:
            self.reason = self.reason or reason
        if self.transport is not None:
            self.transport.close()
        self._fail(reason or "closed")

    # -------------------------------------------------------------------------------------- client

    async def handshake(self, connect: Connect) -> None:
        """Send CONNECT, await CONNACK. Raises: TargetDownError (refused or no answer)."""
        self._send(connect)
        connack = await self._connack
        if connack.reason_code >= 0x80 or (self.version < 5 and connack.reason_code != 0):
            self.close(f"CONNACK refused: {connack.reason_code.name}")
            raise TargetDownError(self.reason)
        if connack.properties.receive_maximum:
            self.window = asyncio.Semaphore(connack.properties.receive_maximum)

    def _packet_id(self) -> int:
        while True:
            self._next_id = self._next_id % 65_535 + 1
            if self._next_id not in self._acks:
                return self._next_id

    async def publish_all(self, messages: Sequence[Publish]) -> list[int]:
        """Publish `messages` in order; returns each one's reason code (QoS 0: 0).
        Raises: TargetDownError when the connection goes before every ack came."""
        loop = asyncio.get_running_loop()
        pending: list[asyncio.Future[int] | None] = []
        for msg in messages:
            if self.closed:
                raise TargetDownError(self.reason)
            if msg.qos == QoS.AT_MOST_ONCE:
                self._send(msg)
                pending.append(None)
                continue
            await self.window.acquire()
            packet_id = self._packet_id()
            future: asyncio.Future[int] = loop.create_future()
            future.add_done_callback(lambda _f: self.window.release())
            self._acks[packet_id] = future
            pending.append(future)
            self._send(
                Publish(
                    topic=msg.topic, payload=msg.payload, qos=msg.qos, retain=msg.retain, packet_id=packet_id
                )
            )
        return [0 if f is None else await f for f in pending]

    async def ping(self, within: float) -> None:
        """PINGREQ, then PINGRESP within `within` seconds. Raises: TargetDownError."""
        self._pong = asyncio.get_running_loop().create_future()
        self._send(PingReq())
        try:
            async with asyncio.timeout(within):
                await self._pong
        except TimeoutError:
            self.close("no PINGRESP from the broker")
            raise TargetDownError(self.reason) from None

    def silent_for(self) -> float:
        return asyncio.get_running_loop().time() - self._last_heard


class MqttSink(BatchSink[BridgeConnection]):
    """One MQTT bridge action: `pool_size` connections to the remote broker."""

    def __init__(self, spec: MqttAction) -> None:
        super().__init__(spec, kind="mqtt")
        self.spec = spec
        self._host, self._port = split_server(spec.server, DEFAULT_PORT)
        self._topic = Template(spec.topic)
        self._payload = Template(spec.payload) if spec.payload else None
        self._qos = Template(spec.qos) if isinstance(spec.qos, str) else None
        self._retain = Template(spec.retain) if isinstance(spec.retain, str) else None
        self._client_id = spec.client_id or f"mqttcloud-bridge-{secrets.token_hex(4)}"
        self._pingers: dict[BridgeConnection, asyncio.Task[None]] = {}

    def message(self, output: Output) -> Publish:
        """The PUBLISH for one output. Raises: ActionError (topic, QoS or retain does not render)."""
        spec = self.spec
        topic = self._topic.render(output)
        try:
            validate_topic_name(topic)
        except ProtocolError as exc:
            raise ActionError(f"topic {topic!r}: {exc.message}") from None
        qos = int_value(self._qos.value(output), "qos") if self._qos is not None else int(spec.qos)
        if qos not in (0, 1, 2):
            raise ActionError(f"qos must be 0, 1 or 2, got {qos}")
        retain = bool_value(self._retain.value(output), "retain") if self._retain else bool(spec.retain)
        payload = self._payload.render(output) if self._payload is not None else json_encode(output)
        return Publish(topic=topic, payload=payload.encode(), qos=QoS(qos), retain=retain)

    async def connect(self, index: int) -> BridgeConnection:
        spec = self.spec
        loop = asyncio.get_running_loop()
        context = None
        if spec.tls is not None:
            context = client_ssl_context(verify=spec.tls.verify, ca_pem=spec.tls.ca_pem)
        client_id = self._client_id if spec.pool_size == 1 else f"{self._client_id}_{index + 1}"
        version = ProtocolVersion.MQTT_5 if spec.proto_ver == 5 else ProtocolVersion.MQTT_3_1_1
        try:
            async with asyncio.timeout(spec.connect_timeout):
                _transport, conn = await loop.create_connection(
                    lambda: BridgeConnection(int(version)),
                    self._host,
                    self._port,
                    ssl=context,
                    server_hostname=(spec.tls.server_name or self._host) if spec.tls and context else None,
                )
                await conn.handshake(
                    Connect(
                        client_id=client_id,
                        protocol_level=version,
                        clean_start=spec.clean_start,
                        keep_alive=spec.keepalive,
                        username=spec.username or None,
                        password=spec.password.encode() if spec.password else None,
                    )
                )
        except TimeoutError:
            raise TargetDownError("connect timeout") from None
        except OSError as exc:
            raise TargetDownError(describe(exc)) from None
        if spec.keepalive:
            self._pingers[conn] = loop.create_task(self._keep_alive(conn))
        return conn

    async def _keep_alive(self, conn: BridgeConnection) -> None:
        """PINGREQ every half keep-alive; a broker silent past 1.5 keep-alives is gone [MQTT-3.1.2-24]."""
        interval = self.spec.keepalive / 2
        with contextlib.suppress(TargetDownError):
            while not conn.closed:
                await asyncio.sleep(interval)
                await conn.ping(self.spec.keepalive)

    async def write(self, conn: BridgeConnection, batch: Sequence[Output]) -> int:
        messages: list[Publish] = []
        failed = 0
        for output in batch:
            try:
                messages.append(self.message(output))
            except ActionError as exc:
                failed += 1
                self.failures.warning(exc.reason)
        reasons = await conn.publish_all(messages)
        refused = [r for r in reasons if r >= 0x80]
        if refused:
            self.failures.warning(
                f"{len(refused)} publishes refused by the broker (reason 0x{refused[0]:02x})"
            )
        return failed + len(refused)

    async def check(self, conn: BridgeConnection) -> None:
        if conn.closed:
            raise TargetDownError(conn.reason)
        await conn.ping(self.spec.connect_timeout)

    async def disconnect(self, conn: BridgeConnection) -> None:
        pinger = self._pingers.pop(conn, None)
        if pinger is not None:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger
        conn.goodbye()
