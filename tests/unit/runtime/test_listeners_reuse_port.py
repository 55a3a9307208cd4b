"""SO_REUSEPORT: the nodes of a cluster on one machine bind the same ports; a single node does not."""

import asyncio
import contextlib
import logging

import pytest

from mqttcloud import contracts
from mqttcloud.runtime.hub import Hub
from mqttcloud.runtime.listeners import Listeners, shares_ports
from mqttcloud.runtime.tenants import TenantRegistry


def tcp(port: int, name: str = "tcp:default") -> contracts.ListenerSpec:
    return contracts.ListenerSpec(
        name=name, kind=contracts.ListenerKind.TCP, port=port, tenant=contracts.TenantId("t")
    )


def spec(cluster: contracts.ClusterSpec | None) -> contracts.BrokerSpec:
    return contracts.BrokerSpec(
        broker_id="b",
        data_dir="/nonexistent",
        ready_file="/nonexistent/ready.json",
        admin=contracts.AdminSpec(token="t"),
        cluster=cluster,
    )


def test_only_a_cluster_node_that_asks_for_it_shares_ports() -> None:
    assert not shares_ports(spec(None))
    assert shares_ports(spec(contracts.ClusterSpec(nats_url="nats://127.0.0.1:4222", name="d")))
    alone = contracts.ClusterSpec(nats_url="nats://127.0.0.1:4222", name="d", reuse_port=False)
    assert not shares_ports(spec(alone))


async def test_two_nodes_with_reuse_port_bind_one_port_and_both_accept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each accepted connection (closed at once: no tenant here) is logged with its listener's name."""
    caplog.set_level(logging.INFO, logger="mqttcloud.runtime.connection")
    first = Listeners(Hub(), TenantRegistry(), reuse_port=True)
    second = Listeners(Hub(), TenantRegistry(), reuse_port=True)
    try:
        [bound] = await first.apply([tcp(0, "tcp:first")], None)
        [shared] = await second.apply([tcp(bound.port, "tcp:second")], None)
        assert shared.port == bound.port
        for _ in range(32):  # the kernel hashes each connection to one of the two sockets
            reader, writer = await asyncio.open_connection("127.0.0.1", bound.port)
            with contextlib.suppress(ConnectionError):
                assert await reader.read() == b""  # closed by the listener that accepted it
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        accepted = [
            sum(f"listener {name}: no tenant" in r.getMessage() for r in caplog.records)
            for name in ("tcp:first", "tcp:second")
        ]
        assert sum(accepted) == 32
        assert min(accepted) > 0, accepted  # all 32 on one socket: odds of 2**-31
    finally:
        await first.close_all()
        await second.close_all()


async def test_a_single_node_cannot_bind_a_port_another_listens_on() -> None:
    first = Listeners(Hub(), TenantRegistry(), reuse_port=True)
    second = Listeners(Hub(), TenantRegistry())
    try:
        [bound] = await first.apply([tcp(0)], None)
        with pytest.raises(OSError, match="in use"):
            await second.apply([tcp(bound.port)], None)
    finally:
        await first.close_all()
        await second.close_all()
