"""Stored monitoring history with a real broker: the platform samples on its own (no page, no API call
needed), rates come from the broker's counters, and a stop/start leaves a gap and no negative rate.

The app runs with a 1 s sampling interval; `/api/v5/monitor` and `/monitor_current` read what it stored.
"""

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from httpx import ASGITransport, AsyncClient
from tests.integration.deployment_api.conftest import (
    AUTHN,
    V5,
    MqttClient,
    _port_range,
    start_deployment,
    wait_for,
)

from mqttcloud.control.app import create_app
from mqttcloud.control.config import Settings
from mqttcloud.control.deployment_api.keys import service as keys
from mqttcloud.control.deployments import service as deployments
from mqttcloud.control.deployments.lifecycle import BrokerRuntime
from mqttcloud.control.deployments.spec_builder import SharedSecrets

pytestmark = pytest.mark.asyncio(loop_scope="module")

Platform = tuple[AsyncClient, BrokerRuntime, str, tuple[str, str], int]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Platform]:
    data_dir: Path = tmp_path_factory.mktemp("monitor")
    low, high = _port_range()
    settings = Settings(data_dir=data_dir, broker_port_low=low, broker_port_high=high, monitor_interval=1)
    app = create_app(settings, shared=SharedSecrets("serverless-token-unused"))
    async with app.router.lifespan_context(app):
        deployment_id, port = await start_deployment(app, settings)
        runtime: BrokerRuntime = app.state.runtime
        with runtime.database.session() as session:
            created = keys.create_key(session, deployment_id=deployment_id)
            auth = (created.key.app_id, created.secret)
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://deployment.test") as client:
            yield client, runtime, deployment_id, auth, port


async def monitor(client: AsyncClient, auth: tuple[str, str], latest: int = 120) -> list[dict[str, Any]]:
    response = await client.get(f"{V5}/monitor", params={"latest": latest}, auth=auth)
    assert response.status_code == 200, response.text
    points: list[dict[str, Any]] = response.json()
    return points


async def connected_points(client: AsyncClient, auth: tuple[str, str]) -> list[dict[str, Any]] | None:
    points = [p for p in await monitor(client, auth) if p["live_connections"] >= 1]
    return points or None


async def test_history_is_recorded_without_anyone_asking_and_rates_follow_traffic(
    platform: Platform,
) -> None:
    client, _runtime, _deployment_id, auth, port = platform
    response = await client.post(f"{AUTHN}/users", json={"user_id": "meter", "password": "pw"}, auth=auth)
    assert response.status_code == 201, response.text
    mqtt = MqttClient(port, "meter-1", "meter", "pw")
    assert await asyncio.to_thread(mqtt.connect) == 0
    try:
        await asyncio.to_thread(mqtt.subscribe, "meter/#", 1)
        connected = await wait_for(
            lambda: connected_points(client, auth), 15.0, "a stored point with the connection"
        )
        since = connected[-1]["time_stamp"]
        for n in range(50):
            await asyncio.to_thread(mqtt.publish, "meter/x", b"%d" % n, 1)

        async def counted() -> list[dict[str, Any]] | None:
            points = [p for p in await monitor(client, auth) if p["time_stamp"] > since]
            return points if sum(p["received"] or 0 for p in points) >= 50 else None

        points = await wait_for(counted, 15.0, "stored points counting the 50 messages")
    finally:
        mqtt.paho.disconnect()
        mqtt.paho.loop_stop()
    assert sum(p["received"] or 0 for p in points) == 50
    assert sum(p["sent"] or 0 for p in points) == 50
    assert all(p["subscriptions"] >= 0 and p["sessions"] >= p["live_connections"] for p in points)
    stamps = [p["time_stamp"] for p in points]
    assert stamps == sorted(stamps)
    assert all(b - a >= 1000 for a, b in itertools.pairwise(stamps))
    current = (await client.get(f"{V5}/monitor_current", auth=auth)).json()
    assert set(current) >= {"connections", "live_connections", "received_msg_rate", "retained_msg_count"}


async def test_a_stopped_deployment_leaves_a_gap_and_a_restart_no_negative_rate(platform: Platform) -> None:
    client, runtime, deployment_id, auth, _port = platform
    await wait_for(lambda: monitor(client, auth, 10), 10.0, "points before the stop")
    with runtime.database.session() as session:
        deployments.stop_deployment(session, deployment_id=deployment_id)
    await runtime.reconcile()
    stopped_at = time.time()
    await asyncio.sleep(4.0)
    with runtime.database.session() as session:
        deployments.start_deployment(session, deployment_id=deployment_id)
    await runtime.reconcile()
    supervisor: Any = runtime.supervisor
    await wait_for(lambda: supervisor.client(deployment_id), 30.0, "the broker to run again")

    async def after_restart() -> list[dict[str, Any]] | None:
        points = await monitor(client, auth)
        later = [p for p in points if p["time_stamp"] > (stopped_at + 4) * 1000]
        return points if len(later) >= 3 else None

    points = await wait_for(after_restart, 20.0, "points after the restart")
    stamps = [p["time_stamp"] for p in points]
    assert max(b - a for a, b in itertools.pairwise(stamps)) >= 4000  # the stop is a gap
    for p in points:
        for name in ("received", "sent", "dropped", "received_bytes", "sent_bytes"):
            assert p[name] is None or p[name] >= 0, p
    response = await client.get(f"{V5}/monitor", params={"latest": "0"}, auth=auth)
    assert response.status_code == 400, response.text
