"""The control plane's `BrokerClient` against the real broker process: every typed op round-trips."""

import asyncio
import base64

import pytest
from tests.integration.broker import mqtt_wire as w
from tests.integration.broker.harness import TENANT, TOKEN, BrokerProcess

from mqttcloud import contracts
from mqttcloud.control.broker_client import BrokerClient, BrokerError


async def test_broker_client_ops_against_real_broker(broker: BrokerProcess) -> None:
    assert broker.ready is not None
    client = BrokerClient("127.0.0.1", broker.ready.admin.port, TOKEN)
    try:
        with w.connected(broker.port(), "bc-1", version=5) as c:
            # Concurrent requests multiplexed on one admin connection come back matched by id.
            ping, clients, stats = await asyncio.gather(
                client.ping(),
                client.list_clients(TENANT),
                client.call("stats", contracts.TenantArgs(tenant=TENANT), contracts.TenantStats),
            )
            assert ping.broker_id == "test-broker"
            assert "bc-1" in [info.clientid for info in clients.data]
            assert stats.values["connections.count"] >= 1
            published = await client.call(
                "publish",
                contracts.PublishArgs(
                    tenant=TENANT, topic="bc/t", payload_b64=base64.b64encode(b"x").decode()
                ),
                contracts.PublishResult,
            )
            assert published.matched == 0
            result = await client.apply_spec(broker.spec, 7)
            assert result.generation == 7
            assert [address.name for address in result.listeners] == ["tcp:default", "ws:default"]
            c.send(w.PINGREQ)
            c.expect(w.PINGRESP)  # apply_spec with the same spec leaves clients alone
        with pytest.raises(BrokerError) as info:
            await client.call(
                "get_client", contracts.ClientArgs(tenant=TENANT, clientid="nobody"), contracts.ClientInfo
            )
        assert info.value.code == "CLIENTID_NOT_FOUND"
    finally:
        await client.close()
