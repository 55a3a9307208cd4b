"""Fake transports and a one-tenant runtime environment for runtime unit tests (uvicorn `MockTransport`)."""

import asyncio
import concurrent.futures
import struct
from pathlib import Path
from typing import Any

from mqttcloud import contracts
from mqttcloud.runtime.connection import MqttConnection
from mqttcloud.runtime.hub import Hub
from mqttcloud.runtime.listeners import ListenerRuntime
from mqttcloud.runtime.store import Store
from mqttcloud.runtime.tenants import TenantRegistry, TenantRuntime

TENANT = contracts.TenantId("t1")
CONNACK_OK = b"\x20\x02\x00\x00"
PINGREQ = b"\xc0\x00"
PINGRESP = b"\xd0\x00"


def utf8(s: str) -> bytes:
    return struct.pack("!H", len(s)) + s.encode()


def connect(
    client_id: str, *, clean: bool = True, username: str | None = None, password: str | None = None
) -> bytes:
    flags = (0x02 if clean else 0) | (0x80 if username else 0) | (0x40 if password else 0)
    body = utf8("MQTT") + bytes([4, flags]) + b"\x00\x3c" + utf8(client_id)
    body += (utf8(username) if username else b"") + (utf8(password) if password else b"")
    return bytes([0x10, len(body)]) + body


def subscribe(topic: str, qos: int) -> bytes:
    body = b"\x00\x01" + utf8(topic) + bytes([qos])
    return bytes([0x82, len(body)]) + body


def publish_qos1(topic: str, payload: bytes, mid: int) -> bytes:
    body = utf8(topic) + struct.pack("!H", mid) + payload
    return bytes([0x32, len(body)]) + body


class MockTransport(asyncio.Transport):
    def __init__(self, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self.protocol = protocol
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False
        self.reading = True
        self.buffered = 0  # what get_write_buffer_size reports

    def written(self) -> bytes:
        return b"".join(self.writes)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    def abort(self) -> None:
        self.aborted = True
        self.close()

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000)}.get(name, default)

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


class Env:
    def __init__(self, tmp_path: Path, spec: contracts.TenantSpec) -> None:
        self.hub = Hub()
        self.store = Store.open(tmp_path / "store")
        self.registry = TenantRegistry()
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self.tenant = TenantRuntime(
            spec, hub=self.hub, store=self.store, node_name="n", sys_interval=0.0, auth_executor=self.executor
        )
        self.registry.by_id[TENANT] = self.tenant
        self.listener = ListenerRuntime(
            contracts.ListenerSpec(
                name="tcp:default", kind=contracts.ListenerKind.TCP, port=0, tenant=TENANT
            ),
            self.registry,
        )

    def open(self) -> tuple[MqttConnection, MockTransport]:
        conn = MqttConnection(self.hub, self.listener)
        transport = MockTransport(conn)
        conn.connection_made(transport)
        return conn, transport

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self.store.close_sync()


async def tick() -> None:
    """Let the end-of-tick flush (call_soon) run."""
    await asyncio.sleep(0)
    await asyncio.sleep(0)
