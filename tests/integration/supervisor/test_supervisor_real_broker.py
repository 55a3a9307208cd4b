"""The supervisor running the real broker (`python -m mqttcloud broker --config FILE`).

Raw MQTT 3.1.1 bytes on the ready port show the broker serves; kill -9 shows the supervisor brings it
back; live applies show a user change and a TLS swap keep the same process and its connections.
"""

import asyncio
import os
import signal
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cryptography import x509
from cryptography.x509.oid import NameOID
from tests.certs import make_self_signed, private_key
from tests.integration.supervisor.harness import Harness, poll

from mqttcloud.contracts import (
    BrokerSpec,
    HashAlgorithm,
    ListenerKind,
    ListenerSpec,
    PublishArgs,
    ReadyFile,
    TenantId,
    TenantSpec,
    TlsSpec,
    UserRecord,
)
from mqttcloud.control.supervisor import BrokerStatus, Supervisor, processes

T1 = TenantId("t1")
RUNNING = {BrokerStatus.RUNNING}
PINGREQ = b"\xc0\x00"
PINGRESP = b"\xd0\x00"


def real_spec(
    harness: Harness, *, users: list[UserRecord] | None = None, tls: TlsSpec | None = None
) -> BrokerSpec:
    listeners = [ListenerSpec(name="tcp:default", kind=ListenerKind.TCP, port=0, tenant=T1)]
    if tls is not None:
        listeners.append(ListenerSpec(name="tls:default", kind=ListenerKind.TLS, port=0, tenant=T1))
    tenant = TenantSpec(tenant_id=T1, allow_anonymous=users is None, users=users or [])
    return harness.spec("d1").model_copy(update={"listeners": listeners, "tenants": [tenant], "tls": tls})


async def start_real(harness: Harness) -> Supervisor:
    return await harness.start(command=list(processes.DEFAULT_COMMAND), ready_timeout=30.0)


def ready_of(sup: Supervisor) -> ReadyFile:
    ready = sup.ready("d1")
    assert ready is not None
    return ready


def port_of(sup: Supervisor, listener: str = "tcp:default") -> int:
    return next(address.port for address in ready_of(sup).listeners if address.name == listener)


def connect_packet(clientid: str, username: str | None = None, password: str | None = None) -> bytes:
    """MQTT 3.1.1 CONNECT, clean session, keep-alive 60 [MQTT-3.1]."""

    def field(value: str) -> bytes:
        data = value.encode()
        return len(data).to_bytes(2, "big") + data

    flags = 0x02 | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    body = field("MQTT") + bytes([4, flags]) + (60).to_bytes(2, "big") + field(clientid)
    body += field(username) if username is not None else b""
    body += field(password) if password is not None else b""
    assert len(body) < 128  # one-byte remaining length
    return bytes([0x10, len(body)]) + body


@asynccontextmanager
async def mqtt(
    port: int, clientid: str, *, username: str | None = None, password: str | None = None, tls: bool = False
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter, int]]:
    """Connect and send CONNECT; yields (reader, writer, CONNACK return code)."""
    context = None
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the test reads the served certificate, it doesn't trust it
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    try:
        writer.write(connect_packet(clientid, username, password))
        async with asyncio.timeout(5):
            connack = await reader.readexactly(4)
        assert connack[:2] == b"\x20\x02"
        yield reader, writer, connack[3]
    finally:
        writer.close()


async def is_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    writer.write(PINGREQ)
    try:
        async with asyncio.timeout(5):
            return await reader.readexactly(2) == PINGRESP
    except (asyncio.IncompleteReadError, ConnectionError):
        return False


def served_cn(writer: asyncio.StreamWriter) -> str:
    ssl_object = writer.get_extra_info("ssl_object")
    assert isinstance(ssl_object, ssl.SSLObject)
    der = ssl_object.getpeercert(binary_form=True)
    assert der is not None
    value = x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    return value if isinstance(value, str) else value.decode()


def refuses(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return False
    except ConnectionRefusedError:
        return True


async def test_real_broker_serves_mqtt_on_its_ready_port_and_answers_admin_ops(harness: Harness) -> None:
    sup = await start_real(harness)
    await sup.set_desired([real_spec(harness)])
    await sup.wait_for_status("d1", RUNNING, within=30)
    client = sup.client("d1")
    assert client is not None
    assert (await client.ping()).pid == ready_of(sup).pid
    async with mqtt(port_of(sup), "c1") as (reader, _, code):
        assert code == 0
        clients = await client.list_clients(T1)
        assert [info.clientid for info in clients.data] == ["c1"]
        assert (await client.get_client(T1, "c1")).proto_ver == 4
        published = await client.publish(PublishArgs(tenant=T1, topic="nobody/listens"))
        assert published.matched == 0
        await client.kick(T1, "c1")
        async with asyncio.timeout(5):
            assert await reader.read() == b""  # the broker closed the kicked connection


async def test_real_broker_killed_with_sigkill_is_restarted_and_serves_again(harness: Harness) -> None:
    sup = await start_real(harness)
    await sup.set_desired([real_spec(harness)])
    await sup.wait_for_status("d1", RUNNING, within=30)
    old_pid = ready_of(sup).pid
    os.kill(old_pid, signal.SIGKILL)
    await poll(
        lambda: sup.ready("d1") is not None and ready_of(sup).pid != old_pid, within=30, what="restart"
    )
    assert any("exited with code -9" in detail for _, detail in harness.events.of("d1"))
    async with mqtt(port_of(sup), "c1") as (_, _, code):
        assert code == 0


async def test_user_change_applies_live_and_keeps_connected_clients(harness: Harness) -> None:
    sup = await start_real(harness)
    await sup.set_desired([real_spec(harness)])
    await sup.wait_for_status("d1", RUNNING, within=30)
    pid, port = ready_of(sup).pid, port_of(sup)
    async with mqtt(port, "early") as (reader, writer, code):
        assert code == 0
        user = UserRecord(user_id="alice", password_hash="wonderland", algorithm=HashAlgorithm.PLAIN)
        generations = await sup.set_desired([real_spec(harness, users=[user])])
        await poll(lambda: ("d1", generations["d1"]) in harness.events.applied, within=10, what="apply")
        assert ready_of(sup).pid == pid
        assert port_of(sup) == port
        async with mqtt(port, "anon") as (_, _, anonymous_code):
            assert anonymous_code == 0x05  # 3.1.1 "not authorized": anonymous is off now
        async with mqtt(port, "alice-1", username="alice", password="wonderland") as (_, _, user_code):
            assert user_code == 0
        assert await is_alive(reader, writer)


async def test_tls_swap_applies_live_without_restarting_or_dropping_tls_clients(harness: Harness) -> None:
    cert_a = make_self_signed("broker-a")
    cert_b = make_self_signed("broker-b", key=private_key("ec256", 105))
    sup = await start_real(harness)
    await sup.set_desired([real_spec(harness, tls=TlsSpec(cert_pem=cert_a.cert_pem, key_pem=cert_a.key_pem))])
    await sup.wait_for_status("d1", RUNNING, within=30)
    pid, tls_port = ready_of(sup).pid, port_of(sup, "tls:default")
    async with mqtt(tls_port, "tls-early", tls=True) as (reader, writer, code):
        assert code == 0
        assert served_cn(writer) == "broker-a"
        swapped = real_spec(harness, tls=TlsSpec(cert_pem=cert_b.cert_pem, key_pem=cert_b.key_pem))
        generations = await sup.set_desired([swapped])
        await poll(lambda: ("d1", generations["d1"]) in harness.events.applied, within=10, what="TLS swap")
        assert ready_of(sup).pid == pid
        async with mqtt(port_of(sup, "tls:default"), "tls-late", tls=True) as (_, late_writer, late_code):
            assert late_code == 0
            assert served_cn(late_writer) == "broker-b"
        assert await is_alive(reader, writer)
    assert BrokerStatus.STOPPING not in [status for status, _ in harness.events.of("d1")]


async def test_stopped_real_broker_refuses_connections(harness: Harness) -> None:
    sup = await start_real(harness)
    await sup.set_desired([real_spec(harness)])
    await sup.wait_for_status("d1", RUNNING, within=30)
    ready = ready_of(sup)
    await sup.set_desired([])
    await poll(lambda: (BrokerStatus.STOPPED, "exited with code 0") in harness.events.of("d1"), what="stop")
    assert refuses(port_of_ready(ready))
    assert refuses(ready.admin.port)


def port_of_ready(ready: ReadyFile) -> int:
    return next(address.port for address in ready.listeners if address.name == "tcp:default")
