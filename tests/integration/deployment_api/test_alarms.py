"""Alarms raised and cleared by the checker against a real deployment: an expiring certificate, a
crash-looping broker; each one POSTed to the webhook, published on `$SYS/.../alarms/...` and listed."""

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
from tests.integration.deployment_api.conftest import V5, Live, MqttClient, wait_for

from mqttcloud.control.alarms.checker import AlarmChecker
from mqttcloud.control.alarms.settings import AlarmSettings
from mqttcloud.control.certificates import service as certificates
from mqttcloud.control.certificates.schemas import TlsUpload
from mqttcloud.control.deployments.models import Deployment

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
