"""The runtime's side of the outbound budgets (`broker.budget`): it reports unsent bytes and drains."""

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.unit.runtime.fakes import TENANT, Env, connect, subscribe, tick, utf8

from mqttcloud import contracts

SOFT = 4096


def publish_qos0(topic: str, payload: bytes) -> bytes:
    body = utf8(topic) + payload
    return bytes([0x30]) + _varint(len(body)) + body


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    limits = contracts.Limits(outbound_soft_budget=SOFT, outbound_hard_budget=64 * SOFT)
    e = Env(tmp_path, contracts.TenantSpec(tenant_id=TENANT, allow_anonymous=True, limits=limits))
    yield e
    e.close()


async def test_deliveries_wait_while_the_socket_is_full_and_go_out_on_resume_writing(env: Env) -> None:
    sub, sub_t = env.open()
    pub, _pub_t = env.open()
    sub.data_received(connect("sub") + subscribe("t", 0))
    pub.data_received(connect("pub"))
    await tick()
    sub.pause_writing()
    sub_t.buffered = SOFT  # the kernel took nothing more: the transport holds the soft budget
    pub.data_received(publish_qos0("t", b"a" * 100))
    await tick()  # this one is written, and the flush reports the full buffer
    sub_t.writes.clear()
    pub.data_received(b"".join(publish_qos0("t", struct.pack("!H", i) * 50) for i in range(10)))
    await tick()
    assert sub_t.writes == []  # congested: the core queued them instead
    channel = sub.channel
    assert channel is not None
    assert channel.unsent == SOFT
    sub_t.buffered = 0
    sub.resume_writing()
    await tick()
    payloads = sub_t.written().count(b"\x00\x01t")
    assert payloads == 10
    assert channel.unsent == 0


async def test_past_the_hard_budget_the_client_is_closed(env: Env) -> None:
    sub, sub_t = env.open()
    pub, _pub_t = env.open()
    sub.data_received(connect("sub") + subscribe("t", 1))
    pub.data_received(connect("pub"))
    await tick()
    sub.pause_writing()
    sub_t.buffered = SOFT
    pub.data_received(b"".join(publish_qos0("t", b"x" * 1000) for _ in range(5)))
    await tick()
    assert not sub_t.is_closing()
    qos1 = b"".join(
        bytes([0x32])
        + _varint(len(utf8("t")) + 2 + 4000)
        + utf8("t")
        + struct.pack("!H", i + 1)
        + b"y" * 4000
        for i in range(80)
    )
    pub.data_received(qos1)
    for _ in range(10):
        await tick()
    assert sub_t.is_closing()
    assert sub.tenant is not None
    assert sub.tenant.broker.unsent_total == 0
