"""MqttConnection and WebSocketProtocol against fake transports (uvicorn `MockTransport` style)."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
from tests.unit.runtime.fakes import (
    CONNACK_OK,
    PINGREQ,
    PINGRESP,
    TENANT,
    Env,
    MockTransport,
    connect,
    publish_qos1,
    subscribe,
    tick,
)

from mqttcloud import contracts
from mqttcloud.broker.delivery import Out
from mqttcloud.broker.message import Message
from mqttcloud.broker.subscriptions import Subscription
from mqttcloud.runtime import listeners
from mqttcloud.runtime.connection import MAX_FRAMES_PER_TICK, MAX_WRITE_BUFFER, MqttConnection
from mqttcloud.runtime.hub import CLOSE_BATCH
from mqttcloud.runtime.listeners import WebSocketProtocol
from mqttcloud.runtime.websocket import Opcode, encode_frame


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path, contracts.TenantSpec(tenant_id=TENANT, allow_anonymous=True))
    yield e
    e.close()


async def test_connect_split_in_bytes_gets_one_connack(env: Env) -> None:
    conn, transport = env.open()
    for byte in connect("c1"):
        conn.data_received(bytes([byte]))
    await tick()
    assert transport.writes == [CONNACK_OK]


async def test_answers_of_one_read_go_out_in_one_write(env: Env) -> None:
    conn, transport = env.open()
    conn.data_received(connect("c1") + PINGREQ * 3)
    await tick()
    assert transport.writes == [CONNACK_OK + PINGRESP * 3]


async def test_malformed_packet_closes_only_that_connection(env: Env) -> None:
    good, good_t = env.open()
    bad, bad_t = env.open()
    good.data_received(connect("good"))
    bad.data_received(connect("bad"))
    await tick()
    bad.data_received(b"\x00\x00")  # reserved packet type
    await tick()
    assert bad_t.closed
    good.data_received(PINGREQ)
    await tick()
    assert good_t.written().endswith(PINGRESP)
    assert not good_t.closed


async def test_core_exception_closes_only_that_connection(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    good, good_t = env.open()
    bad, bad_t = env.open()
    good.data_received(connect("good"))
    bad.data_received(connect("bad"))
    await tick()
    broker = env.tenant.broker
    local = broker.local_router

    class Exploding:
        """The broker's router, failing on `route` (a core bug reached by one client's PUBLISH).

        Injected through the `Router` Protocol attribute: a method of a compiled (mypyc) class
        cannot be replaced on its instance.
        """

        def add(self, sub: Subscription, out: Out) -> bool:
            return local.add(sub, out)

        def remove(self, clientid: str, topic_filter: str, out: Out) -> bool:
            return local.remove(clientid, topic_filter, out)

        def route(self, msg: Message, now: float, out: Out) -> int:
            raise RuntimeError("core bug")

        def retained_match(self, topic_filter: str, now: float) -> list[Message]:
            return local.retained_match(topic_filter, now)

    broker.router = Exploding()
    bad.data_received(b"\x30\x03\x00\x01x")  # PUBLISH QoS 0 to "x"
    await tick()
    broker.router = local
    assert bad_t.aborted
    assert "internal error" in caplog.text
    good.data_received(PINGREQ)
    await tick()
    assert good_t.written().endswith(PINGRESP)
    info = env.tenant.broker.client_info("bad")
    assert info is None or not info.connected


async def test_puback_waits_for_durable_write(env: Env) -> None:
    sub, _sub_t = env.open()
    sub.data_received(connect("sub", clean=False) + subscribe("d/#", 1))
    await tick()
    sub.data_received(b"\xe0\x00")  # DISCONNECT: the persistent session stays, offline
    await tick()
    await env.store.flush()
    pub, pub_t = env.open()
    pub.data_received(connect("pub"))
    await tick()
    pub_t.writes.clear()
    durable_before = env.store.durable_seq
    pub.data_received(publish_qos1("d/x", b"payload", 9))
    assert env.store.appended_seq > durable_before  # the queued message was logged
    await asyncio.sleep(0)  # the flush of this tick runs; the fsync has not completed yet
    assert b"\x40\x02\x00\x09" not in pub_t.written()
    await env.store.flush()
    await tick()
    assert pub_t.written() == b"\x40\x02\x00\x09"


async def test_pause_writing_pauses_reading(env: Env) -> None:
    conn, transport = env.open()
    conn.data_received(connect("c"))
    conn.pause_writing()
    assert not transport.reading
    conn.resume_writing()
    assert transport.reading


async def test_slow_auth_holds_pipelined_packets_until_decided(tmp_path: Path) -> None:
    user = contracts.UserRecord(
        user_id="u",
        password_hash=bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode(),
        algorithm=contracts.HashAlgorithm.BCRYPT,
    )
    env = Env(tmp_path, contracts.TenantSpec(tenant_id=TENANT, users=[user]))
    try:
        conn, transport = env.open()
        conn.data_received(connect("c", username="u", password="pw") + PINGREQ)
        assert conn.authenticating
        await tick()
        assert transport.writes == []
        deadline = asyncio.get_running_loop().time() + 5
        while transport.written() != CONNACK_OK + PINGRESP:
            assert asyncio.get_running_loop().time() < deadline, transport.writes
            await asyncio.sleep(0.01)
    finally:
        env.close()


async def test_websocket_handshake_then_mqtt_in_split_frames(env: Env) -> None:
    inner = MqttConnection(env.hub, env.listener)
    ws = WebSocketProtocol(inner, "/mqtt", 1 << 20)
    transport = MockTransport(ws)
    ws.connection_made(transport)
    ws.data_received(
        b"GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Protocol: mqtt\r\n\r\n"
    )
    assert transport.writes[0].startswith(b"HTTP/1.1 101 ")
    assert b"Sec-WebSocket-Protocol: mqtt\r\n" in transport.writes[0]
    packet = connect("ws-client")
    frames = encode_frame(Opcode.BINARY, packet[:5], mask=b"abcd") + encode_frame(
        Opcode.BINARY, packet[5:], mask=b"dcba"
    )
    ws.data_received(frames[:7])
    ws.data_received(frames[7:])
    await tick()
    assert transport.writes[1:] == [encode_frame(Opcode.BINARY, CONNACK_OK)]


async def test_websocket_bad_path_gets_404(env: Env) -> None:
    ws = WebSocketProtocol(MqttConnection(env.hub, env.listener), "/mqtt", 1 << 20)
    transport = MockTransport(ws)
    ws.connection_made(transport)
    ws.data_received(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
    assert transport.writes[0].startswith(b"HTTP/1.1 404 ")
    assert transport.closed


async def test_slow_consumer_is_closed_past_the_write_buffer_bound(env: Env) -> None:
    conn, transport = env.open()
    conn.data_received(connect("slow"))
    await tick()
    conn.pause_writing()
    transport.buffered = MAX_WRITE_BUFFER + 1
    conn.data_received(PINGREQ)  # reading is paused in real life; a last answer still gets flushed
    await tick()
    assert transport.aborted


async def test_large_read_is_handled_over_several_ticks_in_order(env: Env) -> None:
    """A read with more than MAX_FRAMES_PER_TICK packets yields to the loop between chunks."""
    conn, transport = env.open()
    conn.data_received(connect("burst"))
    await tick()
    transport.writes.clear()
    conn.data_received(PINGREQ * (MAX_FRAMES_PER_TICK * 2 + 10))
    await asyncio.sleep(0)
    assert transport.written() == PINGRESP * MAX_FRAMES_PER_TICK  # first chunk flushed on its own
    assert not transport.reading
    deadline = asyncio.get_running_loop().time() + 5
    while len(transport.written()) < 2 * (MAX_FRAMES_PER_TICK * 2 + 10):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0)
    assert transport.written() == PINGRESP * (MAX_FRAMES_PER_TICK * 2 + 10)
    assert transport.reading


async def test_websocket_upgrade_not_completed_in_time_is_aborted(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listeners, "WS_HANDSHAKE_TIMEOUT", 0.01)
    ws = WebSocketProtocol(MqttConnection(env.hub, env.listener), "/mqtt", 1 << 20)
    transport = MockTransport(ws)
    ws.connection_made(transport)
    ws.data_received(b"GET /mqtt HTTP/1.1\r\n")  # and nothing more
    deadline = asyncio.get_running_loop().time() + 5
    while not transport.aborted:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.005)


async def test_peer_eof_storm_closes_in_batches_and_reports_every_channel(env: Env) -> None:
    opened = [env.open() for _ in range(CLOSE_BATCH + 5)]
    for i, (conn, _t) in enumerate(opened):
        conn.data_received(connect(f"c{i}"))
    await tick()
    assert env.tenant.broker.connected_count() == CLOSE_BATCH + 5
    for conn, _t in opened:
        assert conn.eof_received() is True  # kept open: the hub closes it
    assert not any(t.closed for _c, t in opened)
    await asyncio.sleep(0)  # one iteration: one batch
    assert [t.closed for _c, t in opened] == [True] * CLOSE_BATCH + [False] * 5
    for _ in range(3):  # the last batch, then its connection_lost callbacks
        await asyncio.sleep(0)
    assert all(t.closed for _c, t in opened)
    assert env.tenant.broker.connected_count() == 0
    assert not env.hub.connections


async def test_unacked_qos1_is_resent_on_the_retry_timer_while_traffic_flows(tmp_path: Path) -> None:
    """The connection timer skips `next_deadline` within the deadline horizon: retries still fire.

    A 3.1.1 subscriber (keep-alive 60 s) leaves one delivery unacknowledged and keeps acking the
    others; the unacked one goes out again with DUP once `retry_interval` has passed.
    """
    limits = contracts.Limits(retry_interval=0.3)
    e = Env(tmp_path, contracts.TenantSpec(tenant_id=TENANT, allow_anonymous=True, limits=limits))
    try:
        sub, sub_t = e.open()
        sub.data_received(connect("sub") + subscribe("t", 1))
        pub, _pub_t = e.open()
        pub.data_received(connect("pub"))
        await tick()
        sub_t.writes.clear()
        pub.data_received(publish_qos1("t", b"first", 1))  # delivered as packet id 1, never acked
        await tick()
        assert sub_t.written() == b"\x32\x0a\x00\x01t\x00\x01first"
        for mid in range(2, 8):  # traffic keeps both connections busy meanwhile
            pub.data_received(publish_qos1("t", b"more", mid))
            await tick()
            sub.data_received(b"\x40\x02" + mid.to_bytes(2, "big"))
            await asyncio.sleep(0.05)
        sub_t.writes.clear()
        await asyncio.sleep(0.3)
        assert b"\x3a\x0a\x00\x01t\x00\x01first" in sub_t.written()  # DUP=1, same packet id
    finally:
        e.close()
