"""The shadow service against real brokers: paho devices on `shadow/{id}`, the API, and a platform restart.

Each phase runs the platform (`create_app` + the real supervisor) on the same data directory: the second
start brings the deployment's broker back and the documents stay.
"""

import asyncio
import json
import queue
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from tests.integration.deployment_api.conftest import (
    TIMEOUT,
    MqttClient,
    _port_range,
    start_deployment,
    wait_for,
)

from mqttcloud.control.app import create_app
from mqttcloud.control.config import Settings
from mqttcloud.control.deployment_api.keys import service as keys
from mqttcloud.control.deployments.lifecycle import BrokerRuntime
from mqttcloud.control.deployments.spec_builder import SharedSecrets

SHADOW = "lamp-0001"
REQUEST = f"shadow/{SHADOW}"
REPLY = f"shadow/{SHADOW}/reply"


@asynccontextmanager
async def platform(settings: Settings) -> AsyncIterator[tuple[AsyncClient, FastAPI]]:
    app = create_app(settings, shared=SharedSecrets("serverless-token-unused"))
    transport = ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=transport, base_url="http://deployment.test") as client,
    ):
        yield client, app


def runtime_of(app: FastAPI) -> BrokerRuntime:
    runtime: BrokerRuntime = app.state.runtime
    return runtime


async def reply(device: MqttClient) -> dict[str, object]:
    """The next message on the reply topic (waiting in a thread: the relay runs on this event loop)."""
    message = await asyncio.to_thread(device.next_message)
    assert message.topic == REPLY
    body = json.loads(message.payload)
    assert isinstance(body, dict)
    return body


async def ask(device: MqttClient, method: str, payload: object) -> dict[str, object]:
    device.publish(REQUEST, json.dumps({"method": method, "payload": payload}).encode(), qos=1)
    return await reply(device)


def device(port: int, auth: tuple[str, str], clientid: str) -> MqttClient:
    client = MqttClient(port, clientid, *auth)
    assert client.connect() == 0
    assert client.subscribe(REPLY, qos=1) == [1]
    return client


async def new_user(client: AsyncClient, auth: tuple[str, str]) -> tuple[str, str]:
    response = await client.post("/api/auth_username", json={"username": "dev", "password": "pw"}, auth=auth)
    assert response.status_code == 200, response.text
    return "dev", "pw"


@pytest.mark.asyncio(loop_scope="function")
async def test_devices_and_api_share_documents_and_a_restart_keeps_them(tmp_path: Path) -> None:
    low, high = _port_range()
    settings = Settings(data_dir=tmp_path, broker_port_low=low, broker_port_high=high, key_cache_seconds=0.5)

    async with platform(settings) as (api, app):
        deployment_id, port = await start_deployment(app, settings)
        with runtime_of(app).database.session() as session:
            created = keys.create_key(session, deployment_id=deployment_id)
        auth = (created.key.app_id, created.secret)
        login = await new_user(api, auth)
        made = await api.post("/api/shadows", json={"shadowID": SHADOW, "shadowName": "lamp"}, auth=auth)
        assert made.status_code == 200, made.text
        lamp = device(port, login, "lamp")
        try:
            got = await wait_for_reply(lamp, "GET", {})
            assert got["data"] == {}
            assert got["version"] == 0
            put = await ask(lamp, "PUT", {"Key01": {"a": 100}})
            assert put["data"] == {"Key01": {"a": 100}}
            assert put["version"] == 1
            patched = await ask(lamp, "PATCH", {"Key01": {"b": 200}})
            assert patched["data"] == {"Key01": {"a": 100, "b": 200}}
            assert patched["version"] == 2
            refused = await ask(lamp, "PATCH", {"Key02": {"c": 1}})  # the multi-level rule over MQTT
            assert set(refused) == {"code", "message"}
            assert "Key02" in str(refused["message"])
            assert (await ask(lamp, "GET", {}))["version"] == 2
            bad = await ask(lamp, "DELETE", {})
            assert "method" in str(bad["message"])

            # the device's writes are the API's document, and an API PATCH reaches the device
            over_http = (await api.get(f"/api/shadows/{SHADOW}/json", auth=auth)).json()
            assert over_http == patched
            api_patch = await api.patch(f"/api/shadows/{SHADOW}/json", json={"power": 1}, auth=auth)
            assert api_patch.status_code == 200, api_patch.text
            assert api_patch.json()["version"] == 3
            assert await reply(lamp) == api_patch.json()
        finally:
            lamp.close()

    async with platform(settings) as (api, app):
        supervisor = runtime_of(app).supervisor
        assert supervisor is not None
        await wait_for(lambda: supervisor.client(deployment_id), 30.0, "the broker to run again")
        lamp = device(port, login, "lamp-again")
        try:
            again = await wait_for_reply(lamp, "GET", {})
            assert again["data"] == {"Key01": {"a": 100, "b": 200}, "power": 1}
            assert again["version"] == 3
            assert (await ask(lamp, "PATCH", {"power": 0}))["version"] == 4
            assert (await api.get(f"/api/shadows/{SHADOW}/json", auth=auth)).json()["version"] == 4
        finally:
            lamp.close()


async def wait_for_reply(client: MqttClient, method: str, payload: object) -> dict[str, object]:
    """The first request after a broker starts: the relay may still be attaching, so ask until answered."""
    for _ in range(int(TIMEOUT)):
        client.publish(REQUEST, json.dumps({"method": method, "payload": payload}).encode(), qos=1)
        try:
            message = await asyncio.to_thread(client.next_message, 1.0)
        except queue.Empty:
            continue
        assert await asyncio.to_thread(client.no_message, 0.3)  # one request, one answer
        body = json.loads(message.payload)
        assert isinstance(body, dict)
        return body
    raise AssertionError("no reply on the shadow reply topic")
