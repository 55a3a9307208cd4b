"""The charts page over stored history: the sampler (driven tick by tick against a stand-in admin client)
stores points, and the page's JSON returns them for the chosen range, gaps left as gaps."""

import time
from dataclasses import dataclass
from typing import cast

import pytest
from tests.unit.control.console.conftest import Console
from tests.unit.control.console.test_deployment_pages import create_deployment

from mqttcloud.contracts import TenantId, TenantMetrics, TenantStats
from mqttcloud.control.broker_client import BrokerClient, BrokerUnavailable
from mqttcloud.control.deployments.lifecycle import BrokerRuntime
from mqttcloud.control.monitoring.sampler import Sampler


@dataclass
class MeteredBroker:
    """Answers `stats` and `metrics` as a `BrokerClient` would; `down` makes it unreachable."""

    connections: int = 2
    received: int = 0
    down: bool = False

    async def stats(self, tenant: TenantId) -> TenantStats:
        if self.down:
            raise BrokerUnavailable("stand-in broker is down")
        return TenantStats(values={"live_connections.count": self.connections, "sessions.count": 5})

    async def metrics(self, tenant: TenantId) -> TenantMetrics:
        return TenantMetrics(values={"messages.received": self.received})


@pytest.fixture
def broker(root_console: Console) -> MeteredBroker:
    fake = MeteredBroker()
    # MeteredBroker answers the two calls the sampler makes, as a BrokerClient would (duck-typed).
    root_console.supervisor.broker = cast(BrokerClient, fake)
    return fake


def sampler(console: Console) -> Sampler:
    runtime: BrokerRuntime = console.app.state.runtime
    return Sampler(runtime, console.database, interval=10)


async def test_history_sampled_without_the_page_is_what_the_page_shows(
    root_console: Console, broker: MeteredBroker
) -> None:
    deployment_id = await create_deployment(root_console)
    ticks = sampler(root_console)
    start = (time.time() // 60) * 60 - 600
    for n in range(6):
        broker.received = 100 * n
        broker.connections = n
        await ticks.tick(start + 10 * n)
    broker.down = True
    await ticks.tick(start + 60)  # no answer: no point
    broker.down = False
    broker.received = 60  # the broker restarted: its counters started again from zero
    await ticks.tick(start + 70)
    broker.received = 160
    await ticks.tick(start + 80)

    body = (await root_console.get(f"/console/deployments/{deployment_id}/metrics.json?range=1h")).json()
    assert body["step"] == 10
    points = body["points"]
    assert [p["at"] - start for p in points] == [0, 10, 20, 30, 40, 50, 70, 80]
    assert [p["connections"] for p in points[:6]] == [0, 1, 2, 3, 4, 5]
    assert [p["received"] for p in points] == [None, 10.0, 10.0, 10.0, 10.0, 10.0, 3.0, 10.0]
    assert all(p["sessions"] == 5 for p in points)

    day = (await root_console.get(f"/console/deployments/{deployment_id}/metrics.json?range=24h")).json()
    assert day["step"] == 60
    assert [p["at"] - start for p in day["points"]] == [0, 60]


async def test_charts_page_offers_the_ranges_and_refuses_others(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    base = f"/console/deployments/{deployment_id}/metrics"
    page = await root_console.get(f"{base}?range=6h")
    assert page.status_code == 200
    for name in ("1h", "6h", "24h", "7d"):
        assert f'data-range="{name}"' in page.text
    assert 'href="?range=6h" data-range="6h" aria-current="true"' in page.text
    assert 'metrics.json?range=6h"' in page.text
    assert (await root_console.get(f"{base}?range=2h")).status_code == 400
    assert (await root_console.get(f"{base}.json?range=2h")).status_code == 400
