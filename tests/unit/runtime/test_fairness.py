"""Per-tenant fairness: the token bucket (pure, time as an argument) and the pause/resume of reads."""

import asyncio
import time
from dataclasses import dataclass, field
from typing import cast

import pytest

from mqttcloud import contracts
from mqttcloud.runtime import fairness
from mqttcloud.runtime.connection import MqttConnection
from mqttcloud.runtime.fairness import TokenBucket, count_publishes
from mqttcloud.runtime.tenants import TenantRuntime


def test_full_bucket_gives_a_burst_of_one_second_then_debt() -> None:
    bucket = TokenBucket(100.0, now=0.0)
    assert bucket.take(100, 0.0) == 0.0
    assert bucket.take(1, 0.0) == pytest.approx(0.01)  # one message of debt at 100/s


def test_refill_is_linear_and_capped_at_the_burst() -> None:
    bucket = TokenBucket(10.0, now=0.0)
    bucket.take(10, 0.0)
    assert bucket.take(5, 0.5) == 0.0  # 5 tokens came back in half a second
    assert bucket.take(1, 0.5) == pytest.approx(0.1)
    bucket.refill(1000.0)
    assert bucket.tokens == 10.0  # never more than one second's worth


def test_debt_tells_how_long_to_wait_and_shrinks_with_time() -> None:
    bucket = TokenBucket(1000.0, now=0.0)
    assert bucket.take(3000, 0.0) == pytest.approx(2.0)  # 1000 burst, 2000 of debt
    assert bucket.wait(1.5) == pytest.approx(0.5)
    assert bucket.wait(2.0) == 0.0


def test_explicit_burst_and_rate_change() -> None:
    bucket = TokenBucket(100.0, now=0.0, burst=5)
    assert bucket.take(6, 0.0) == pytest.approx(0.01)
    bucket = TokenBucket(100.0, now=0.0)
    bucket.set_rate(10.0)
    assert bucket.tokens == 10.0  # saved tokens above the new burst are dropped
    assert bucket.take(11, 0.0) == pytest.approx(0.1)


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(0.0, now=0.0)


def test_only_publish_packets_count() -> None:
    frames = [(0x30, b""), (0x32, b""), (0x3D, b""), (0x82, b""), (0xC0, b""), (0x40, b"")]
    assert count_publishes(frames) == 3


# --------------------------------------------------------------------------------------------------
# charge(): pause a connection while its tenant is in debt, resume when paid back
# --------------------------------------------------------------------------------------------------


@dataclass
class FakeTransport:
    reading: bool = True
    closing: bool = False
    pauses: int = 0
    resumed: asyncio.Event = field(default_factory=asyncio.Event)

    def pause_reading(self) -> None:
        self.reading = False
        self.pauses += 1

    def resume_reading(self) -> None:
        self.reading = True
        self.resumed.set()

    def is_closing(self) -> bool:
        return self.closing


@dataclass(eq=False)
class FakeTenant:
    spec: contracts.TenantSpec


@dataclass
class FakeConnection:
    tenant: FakeTenant
    transport: FakeTransport = field(default_factory=FakeTransport)
    closed: bool = False
    _reading_paused: bool = False


def make_conn(tenant: FakeTenant) -> tuple[MqttConnection, FakeTransport]:
    fake = FakeConnection(tenant)
    # cast: charge() reads only tenant, transport, closed and _reading_paused of the connection.
    return cast(MqttConnection, fake), fake.transport


def tenant_with_rate(rate: float) -> FakeTenant:
    limits = contracts.Limits(max_tenant_rate=rate)
    return FakeTenant(contracts.TenantSpec(tenant_id=contracts.TenantId("t"), limits=limits))


PUBLISHES = [(0x30, b"")] * 30


async def test_tenant_without_rate_is_never_paused() -> None:
    conn, transport = make_conn(tenant_with_rate(0.0))
    for _ in range(100):
        fairness.charge(conn, PUBLISHES)
    assert transport.pauses == 0


async def test_tenant_over_its_rate_is_paused_then_resumed() -> None:
    tenant = tenant_with_rate(100.0)  # burst 100: the 4th batch of 30 goes into debt
    conn, transport = make_conn(tenant)
    other, other_transport = make_conn(tenant)
    for _ in range(3):
        fairness.charge(conn, PUBLISHES)
    assert transport.pauses == 0
    fairness.charge(conn, PUBLISHES)  # 120 > 100: ~0.2 s of debt
    assert transport.pauses == 1
    fairness.charge(other, PUBLISHES)  # the tenant's other connection is held too
    assert other_transport.pauses == 1
    async with asyncio.timeout(5.0):  # the debt is paid back in ~0.5 s (150 + 30 messages at 100/s)
        await transport.resumed.wait()
        await other_transport.resumed.wait()
    assert transport.reading
    assert other_transport.reading


async def test_another_tenant_is_not_held_by_a_noisy_one() -> None:
    noisy, noisy_transport = make_conn(tenant_with_rate(10.0))
    quiet, quiet_transport = make_conn(tenant_with_rate(10.0))
    fairness.charge(noisy, PUBLISHES)
    fairness.charge(quiet, [(0x30, b"")] * 5)
    assert not noisy_transport.reading
    assert quiet_transport.reading


async def test_resume_leaves_a_connection_paused_by_its_own_backpressure() -> None:
    tenant = tenant_with_rate(1000.0)
    fake = FakeConnection(tenant)
    conn = cast(MqttConnection, fake)
    fairness.charge(conn, [(0x30, b"")] * 1001)  # 1 ms of debt
    assert not fake.transport.reading
    fake._reading_paused = True  # meanwhile the peer stopped reading what we send
    bucket = fairness.bucket_for(cast(TenantRuntime, tenant), time.monotonic())
    assert bucket is not None
    bucket.tokens = 0.0  # the debt is paid
    fairness._resume(conn)  # what the timer runs
    assert not fake.transport.reading  # the connection resumes it itself, on resume_writing
