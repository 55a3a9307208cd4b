"""Per-tenant fairness: the token bucket (pure, time as an argument) and the pause/resume of reads."""

import time
from dataclasses import dataclass
from typing import cast

import pytest

from mqttcloud import contracts
from mqttcloud.runtime import fairness
from mqttcloud.runtime.connection import MqttConnection
from mqttcloud.runtime.fairness import TokenBucket, admit_frames, count_publishes
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
# admit_frames(): how many leading packets may be handled now, and when to try again
# --------------------------------------------------------------------------------------------------

PUB, PING = (0x30, b""), (0xC0, b"")


def test_everything_within_the_tokens_is_admitted() -> None:
    bucket = TokenBucket(100.0, now=0.0)
    assert admit_frames(bucket, [PUB] * 60 + [PING], 0.0) == (61, 0.0)
    assert bucket.tokens == 40.0


def test_admission_stops_at_the_first_publish_without_a_token() -> None:
    bucket = TokenBucket(100.0, now=0.0)
    frames = [PUB] * 99 + [PING, PUB, PING, PUB, PUB]  # 102 publishes, 100 tokens
    allowed, wait = admit_frames(bucket, frames, 0.0)
    assert allowed == 102  # 99 + PING + the 100th PUBLISH + the PING riding after it
    assert frames[allowed] == PUB
    assert bucket.tokens == 0.0
    assert wait == pytest.approx(0.02)  # two more publishes wait: 2 tokens at 100/s


def test_an_empty_bucket_admits_nothing_and_waits_for_a_slice() -> None:
    bucket = TokenBucket(1000.0, now=0.0)
    bucket.tokens = 0.0
    allowed, wait = admit_frames(bucket, [PUB] * 500, 0.0)
    assert allowed == 0
    assert wait == pytest.approx(0.05)  # RELEASE_SLICE of a second's tokens, not one message at a time


def test_the_bucket_refills_between_admissions() -> None:
    bucket = TokenBucket(10.0, now=0.0)
    assert admit_frames(bucket, [PUB] * 30, 0.0)[0] == 10
    assert admit_frames(bucket, [PUB] * 20, 0.5)[0] == 5
    assert admit_frames(bucket, [PUB] * 20, 10.0)[0] == 10  # never more than the burst


@dataclass(eq=False)
class FakeTenant:
    spec: contracts.TenantSpec
    rate_bucket: TokenBucket | None = None


@dataclass
class FakeConnection:
    tenant: FakeTenant | None
    rate_bucket: TokenBucket | None = None


def conn_of(rate: float, client_rate: float = 0.0) -> MqttConnection:
    spec = contracts.TenantSpec(
        tenant_id=contracts.TenantId("t"),
        limits=contracts.Limits(max_tenant_rate=rate, max_publish_rate=client_rate),
    )
    # cast: admit() reads only the connection's tenant, the tenant's spec and the connection's bucket.
    return cast(MqttConnection, FakeConnection(FakeTenant(spec)))


def test_a_tenant_without_rate_admits_everything() -> None:
    assert fairness.admit(conn_of(0.0), [PUB] * 100_000) == (100_000, 0.0)


def test_connections_of_one_tenant_share_its_bucket_and_other_tenants_have_their_own() -> None:
    conn = conn_of(100.0)
    tenant = cast(FakeConnection, conn).tenant
    other_conn = cast(MqttConnection, FakeConnection(tenant))
    assert fairness.admit(conn, [PUB] * 80)[0] == 80
    assert fairness.admit(other_conn, [PUB] * 80)[0] == 20  # same tenant: 100 in total
    assert fairness.admit(conn_of(100.0), [PUB] * 80)[0] == 80  # another tenant is not affected
    assert fairness.bucket_for(cast(TenantRuntime, tenant), time.monotonic()) is not None


def test_client_rate_holds_back_one_client_without_refusing_it() -> None:
    """Serverless 10 msg/s per client: a burst of one second's worth, then one more every 0.1 s."""
    conn = conn_of(0.0, client_rate=10.0)
    allowed, wait = fairness.admit(conn, [PUB] * 50)
    assert allowed == 10
    assert wait == pytest.approx(0.1, abs=0.01)
    assert fairness.admit(conn_of(0.0, client_rate=10.0), [PUB] * 10)[0] == 10  # its own bucket


def test_both_buckets_admit_the_smaller_count_and_the_client_keeps_unused_tokens() -> None:
    client = TokenBucket(10.0, now=0.0)
    tenant = TokenBucket(4.0, now=0.0)
    allowed, wait = fairness.admit_both(client, tenant, [PUB] * 8, 0.0)
    assert allowed == 4  # the tenant's burst
    assert wait == pytest.approx(0.25)  # the tenant's next token
    assert client.tokens == 6.0  # only the 4 admitted were charged to the client
    assert fairness.admit_both(None, None, [PUB] * 8, 0.0) == (8, 0.0)
