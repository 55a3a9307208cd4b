"""Serverless plan quotas (spec §1.10), enforced per tenant in the shared broker with MQTT 5 reason codes."""

import contextlib
import ssl
import time
from collections.abc import Iterator

import pytest
from tests.integration.broker import mqtt_wire as w
from tests.integration.serverless.conftest import PASSWORD, RunningPlatform
from tests.integration.serverless.wire import (
    connect,
    disconnect_reason,
    next_publish,
    open_tls,
    ping,
    subscribe,
)


@pytest.fixture(scope="module")
def tenant(platform: RunningPlatform) -> str:
    return platform.create_serverless()


@pytest.fixture
def clients() -> Iterator[list[w.Client]]:
    opened: list[w.Client] = []
    yield opened
    for client in opened:
        client.close()


def login(platform: RunningPlatform, clients: list[w.Client], deployment_id: str, client_id: str) -> w.Client:
    client = open_tls(platform.mqtts_port, platform.tls_context(), platform.host(deployment_id))
    clients.append(client)
    assert connect(client, client_id, username="alice", password=PASSWORD) == 0x00
    return client


def test_eleventh_subscription_gets_0x97_in_suback(
    platform: RunningPlatform, tenant: str, clients: list[w.Client]
) -> None:
    client = login(platform, clients, tenant, "many-subs")
    codes = subscribe(client, 1, [f"q/{i}" for i in range(11)])
    assert codes == [0x00] * 10 + [0x97]
    assert subscribe(client, 2, ["q/more"]) == [0x97]
    assert subscribe(client, 3, ["q/3"]) == [0x00]  # re-subscribing an existing filter is no new entry
    ping(client)


def test_message_over_1_mb_gets_disconnect_0x95(
    platform: RunningPlatform, tenant: str, clients: list[w.Client]
) -> None:
    client = login(platform, clients, tenant, "big-sender")
    # The broker may close before the whole packet is written; its DISCONNECT is still read.
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        client.send(w.publish("q/big", b"x" * (1024 * 1024), version=5))  # 1 MiB payload + headers
    assert disconnect_reason(client) == 0x95  # Packet too large


def test_publishing_faster_than_10_per_second_is_throttled_not_disconnected(
    platform: RunningPlatform, tenant: str, clients: list[w.Client]
) -> None:
    """50 messages at once at 10 msg/s per client: all arrive, over ~4 s (a burst of 10, then 10/s),
    and the sender stays connected, as EMQX throttles (no DISCONNECT 0x96)."""
    receiver = login(platform, clients, tenant, "fast-receiver")
    assert subscribe(receiver, 1, ["q/fast"]) == [0x00]
    client = login(platform, clients, tenant, "fast-sender")
    started = time.monotonic()
    client.send(b"".join(w.publish("q/fast", b"%d" % i, version=5) for i in range(50)))
    receiver.timeout = 10.0
    got = [next_publish(receiver)[1] for _ in range(50)]
    elapsed = time.monotonic() - started
    assert got == [b"%d" % i for i in range(50)]
    assert 3.0 <= elapsed <= 7.0, elapsed
    ping(client)  # still connected


def test_publishing_within_the_rate_is_accepted(
    platform: RunningPlatform, tenant: str, clients: list[w.Client]
) -> None:
    client = login(platform, clients, tenant, "calm-sender")
    client.send(b"".join(w.publish("q/calm", b"%d" % i, version=5) for i in range(5)))
    ping(client)


def test_connection_over_the_deployment_quota_gets_connack_0x97(
    platform: RunningPlatform, clients: list[w.Client]
) -> None:
    small = platform.create_serverless(connections=2)
    login(platform, clients, small, "one")
    login(platform, clients, small, "two")
    third = open_tls(platform.mqtts_port, platform.tls_context(), platform.host(small))
    clients.append(third)
    assert connect(third, "three", username="alice", password=PASSWORD) == 0x97  # Quota exceeded
    # The quota is the deployment's own: another tenant still accepts connections.
    login(platform, clients, platform.create_serverless(connections=2), "one")


def test_client_id_over_1024_characters_gets_connack_0x85(
    platform: RunningPlatform, tenant: str, clients: list[w.Client]
) -> None:
    client = open_tls(platform.mqtts_port, platform.tls_context(), platform.host(tenant))
    clients.append(client)
    assert connect(client, "c" * 1025, username="alice", password=PASSWORD) == 0x85
    login(platform, clients, tenant, "c" * 1024)  # exactly the limit is fine


def test_topic_filter_with_more_than_10_levels_is_refused(
    platform: RunningPlatform, tenant: str, clients: list[w.Client]
) -> None:
    client = login(platform, clients, tenant, "deep-subs")
    deep, ok = "/".join(["l"] * 11), "/".join(["l"] * 10)
    codes = subscribe(client, 1, [ok, deep])
    assert codes[0] == 0x00
    assert codes[1] == 0x8F  # Topic Filter invalid (spec §1.10: at most 10 levels)
