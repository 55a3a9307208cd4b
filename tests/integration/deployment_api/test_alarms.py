"""Alarms raised and cleared by the checker against a real deployment: an expiring certificate, a
crash-looping broker, connections and users above 80% of the plan; each one POSTed to the webhook,
published on `$SYS/.../alarms/...` and listed."""

import asyncio
import datetime as dt
import json
import os
import signal
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from tests.certs import make_self_signed
from tests.integration.broker.webhook import WebhookServer
from tests.integration.deployment_api.conftest import AUTHN, V5, Live, MqttClient, wait_for

from mqttcloud.control.alarms.checker import AlarmChecker
from mqttcloud.control.alarms.models import AlarmRow
from mqttcloud.control.alarms.settings import AlarmSettings
from mqttcloud.control.certificates import service as certificates
from mqttcloud.control.certificates.schemas import TlsUpload
from mqttcloud.control.deployment_api.keys import service as keys
from mqttcloud.control.deployments import service as deployments
from mqttcloud.control.deployments.models import Deployment
from mqttcloud.control.deployments.schemas import DeploymentCreate

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    server = WebhookServer()
    yield server
    server.close()


@pytest_asyncio.fixture(loop_scope="module")
async def checker(live: Live, webhook: WebhookServer) -> AsyncIterator[AlarmChecker]:
    settings = AlarmSettings(webhook=webhook.url, interval=3600, restart_window=8.0)
    quotas = live.app.state.deployment_api_quotas
    async with AlarmChecker(live.runtime, live.runtime.database, settings, lambda: quotas) as running:
        yield running


def _upload(live: Live, days: float, *, replace: bool) -> None:
    now = dt.datetime.now(dt.UTC)
    issued = make_self_signed(not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=days))
    body = TlsUpload.model_validate({"tlsType": "one-way", "cert": issued.cert_pem, "key": issued.key_pem})
    with live.runtime.database.session() as session:
        deployment = session.get(Deployment, live.deployment_id)
        assert deployment is not None
        certificates.upload(
            session, deployment=deployment, request=body, replace=replace, box=live.runtime.secrets
        )


def _posted(webhook: WebhookServer) -> dict[str, Any]:
    body: dict[str, Any] = webhook.get().json()
    return body


async def _alarms(live: Live, activated: bool) -> list[dict[str, Any]]:
    response = await live.client.get(f"{V5}/alarms", params={"activated": activated}, auth=live.auth)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def test_an_expiring_certificate_raises_then_clears_an_alarm(
    live: Live, checker: AlarmChecker, webhook: WebhookServer
) -> None:
    await live.user("alarm-watcher")
    watcher = MqttClient(live.mqtt_port, "alarm-watcher", "alarm-watcher", "pw")
    assert await asyncio.to_thread(watcher.connect) == 0
    try:
        assert await asyncio.to_thread(watcher.subscribe, "$SYS/brokers/+/alarms/#") == [0]
        _upload(live, 10, replace=False)
        await live.runtime.reconcile()
        raised, _cleared = await checker.check()
        assert [(r.deployment_id, r.name) for r in raised] == [(live.deployment_id, "certificate_expiring")]
        posted = await asyncio.to_thread(_posted, webhook)
        assert posted["event"] == "alarm.activate"
        assert posted["name"] == "certificate_expiring"
        assert posted["deployment_id"] == live.deployment_id
        message = await asyncio.to_thread(watcher.next_message)
        assert message.topic == f"$SYS/brokers/emqx@{live.deployment_id}/alarms/activate"
        assert json.loads(message.payload)["name"] == "certificate_expiring"
        (listed,) = await _alarms(live, True)
        assert listed["name"] == "certificate_expiring"
        assert listed["activated"] is True

        again, _ = await checker.check()
        assert again == []  # still expiring: raised once

        _upload(live, 365, replace=True)
        await live.runtime.reconcile()
        _raised, cleared = await checker.check()
        assert [r.name for r in cleared] == ["certificate_expiring"]
        assert (await asyncio.to_thread(_posted, webhook))["event"] == "alarm.deactivate"
        message = await asyncio.to_thread(watcher.next_message)
        assert message.topic.endswith("/alarms/deactivate")
        assert await _alarms(live, True) == []
        assert [a["name"] for a in await _alarms(live, False)] == ["certificate_expiring"]
    finally:
        watcher.close()


async def test_a_crash_looping_broker_raises_then_clears_an_alarm(
    live: Live, checker: AlarmChecker, webhook: WebhookServer
) -> None:
    supervisor: Any = live.runtime.supervisor
    for _ in range(3):
        ready = await wait_for(
            lambda: supervisor.client(live.deployment_id) and supervisor.ready(live.deployment_id)
        )
        os.kill(ready.pid, signal.SIGKILL)
        await wait_for(
            lambda old=ready.pid: (
                (r := supervisor.ready(live.deployment_id)) is not None
                and r.pid != old
                and supervisor.client(live.deployment_id) is not None
            ),
            30.0,
            "the broker to be restarted",
        )
    raised, _ = await checker.check()
    assert (live.deployment_id, "deployment_restarting") in [(r.deployment_id, r.name) for r in raised]
    posted = await asyncio.to_thread(_posted, webhook)
    assert posted["name"] == "deployment_restarting"
    assert posted["details"]["restarts"] >= 3

    await asyncio.sleep(checker.settings.restart_window)  # no restart within the window: the loop is over
    _, cleared = await checker.check()
    assert "deployment_restarting" in [r.name for r in cleared]
    assert (await asyncio.to_thread(_posted, webhook))["event"] == "alarm.deactivate"


async def test_platform_alarm_listing_needs_a_key(live: Live) -> None:
    response = await live.client.get("/public_api/v1/alarms")
    assert response.status_code == 401


async def _small_deployment(live: Live) -> tuple[str, int, tuple[str, str]]:
    """A running Dedicated deployment of 5 connections (so 10 users): (id, MQTT port, API key)."""
    runtime = live.runtime
    with runtime.database.session() as session:
        request = DeploymentCreate.model_validate({"projectID": "default", "connections": 5})
        created = deployments.create_deployment(session, settings=runtime.settings, request=request)
        key = keys.create_key(session, deployment_id=created.id)
        deployment_id, port, auth = created.id, created.port_mqtt, (key.key.app_id, key.secret)
    await runtime.reconcile()
    supervisor: Any = runtime.supervisor
    await wait_for(lambda: supervisor.client(deployment_id), 30.0, "the small deployment to run")
    assert port is not None
    return deployment_id, port, auth


def _of(rows: list[Any], deployment_id: str) -> list[str]:
    return sorted(r.name for r in rows if r.deployment_id == deployment_id)


async def test_connections_and_users_above_80_percent_of_the_plan_raise_then_clear(
    live: Live, checker: AlarmChecker, webhook: WebhookServer
) -> None:
    deployment_id, port, auth = await _small_deployment(live)
    for n in range(8):  # 8 of 10 users: 80%, not above
        response = await live.client.post(
            f"{AUTHN}/users", json={"user_id": f"quota-{n}", "password": "pw"}, auth=auth
        )
        assert response.status_code == 201, response.text
    clients = [MqttClient(port, f"quota-client-{n}", "quota-0", "pw") for n in range(5)]
    try:
        for client in clients[:4]:  # 4 of 5 connections: 80%, not above
            assert await asyncio.to_thread(client.connect) == 0
        raised, _ = await checker.check()
        assert _of(raised, deployment_id) == []

        assert await asyncio.to_thread(clients[4].connect) == 0  # 5 of 5
        response = await live.client.post(
            f"{AUTHN}/users", json={"user_id": "quota-8", "password": "pw"}, auth=auth
        )
        assert response.status_code == 201, response.text  # 9 of 10
        raised, _ = await checker.check()
        assert _of(raised, deployment_id) == ["quota_connections", "quota_users"]
        by_name = {r.name: r for r in raised if r.deployment_id == deployment_id}
        assert by_name["quota_connections"].details == {"used": 5, "limit": 5}
        assert by_name["quota_users"].details == {"used": 9, "limit": 10}
        posted = [await asyncio.to_thread(_posted, webhook) for _ in range(2)]
        mine = [p for p in posted if p["deployment_id"] == deployment_id]
        assert sorted((p["event"], p["name"]) for p in mine) == [
            ("alarm.activate", "quota_connections"),
            ("alarm.activate", "quota_users"),
        ]
        listed = await live.client.get(f"{V5}/alarms", params={"activated": True}, auth=auth)
        assert sorted(a["name"] for a in listed.json()["data"]) == ["quota_connections", "quota_users"]

        response = await live.client.delete(f"{AUTHN}/users/quota-8", auth=auth)
        assert response.status_code == 204, response.text
        await asyncio.to_thread(clients[4].close)
        cleared: list[AlarmRow] = []

        async def both_cleared() -> bool:
            _raised, now_cleared = await checker.check()
            cleared.extend(now_cleared)
            return _of(cleared, deployment_id) == ["quota_connections", "quota_users"]

        await wait_for(both_cleared, 10.0, "both quota alarms to clear")  # the broker counts the close
        listed = await live.client.get(f"{V5}/alarms", params={"activated": True}, auth=auth)
        assert listed.json()["data"] == []
    finally:
        for client in clients:
            await asyncio.to_thread(client.close)
