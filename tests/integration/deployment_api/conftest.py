"""A real platform for Deployment API tests: `create_app` + the real supervisor + `mqttcloud broker`.

`live` (one per test module): the app runs in process (httpx ASGITransport), its supervisor spawns a real
broker for one Dedicated deployment; tests talk MQTT to it with paho-mqtt on 127.0.0.1 and its API key.
"""

import asyncio
import os
import queue
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import pytest_asyncio
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from tests.integration import paho_close

from mqttcloud.control.app import create_app
from mqttcloud.control.config import Settings
from mqttcloud.control.deployment_api.keys import service as keys
from mqttcloud.control.deployments import service as deployments
from mqttcloud.control.deployments.lifecycle import BrokerRuntime
from mqttcloud.control.deployments.schemas import DeploymentCreate
from mqttcloud.control.deployments.spec_builder import SharedSecrets

TIMEOUT = 10.0
V5 = "/api/v5"
V4 = "/api"
AUTHN = f"{V5}/authentication/password_based%3Abuilt_in_database"
RULES = f"{V5}/authorization/sources/built_in_database/rules"


@dataclass
class Live:
    client: AsyncClient
    app: FastAPI
    deployment_id: str
    auth: tuple[str, str]
    mqtt_port: int

    @property
    def runtime(self) -> BrokerRuntime:
        runtime: BrokerRuntime = self.app.state.runtime
        return runtime

    async def user(self, username: str, password: str = "pw") -> None:
        """Create a built-in user through the API (idempotent for the tests)."""
        response = await self.client.post(
            f"{AUTHN}/users", json={"user_id": username, "password": password}, auth=self.auth
        )
        assert response.status_code in {201, 409}, response.text

    def mqtt(self, clientid: str, username: str, password: str = "pw", **kwargs: Any) -> "MqttClient":
        return MqttClient(self.mqtt_port, clientid, username, password, **kwargs)


def _port_range() -> tuple[int, int]:
    low = 30000 + (os.getpid() % 500) * 20
    return low, low + 19


async def wait_for(predicate: Any, within: float = TIMEOUT, what: str = "condition") -> Any:
    """Poll an (async or sync) predicate until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def start_deployment(app: FastAPI, settings: Settings) -> tuple[str, int]:
    runtime: BrokerRuntime = app.state.runtime
    with runtime.database.session() as session:
        created = deployments.create_deployment(
            session, settings=settings, request=DeploymentCreate.model_validate({"projectID": "default"})
        )
        deployment_id, port = created.id, created.port_mqtt
    await runtime.reconcile()
    supervisor: Any = runtime.supervisor
    await wait_for(lambda: supervisor.client(deployment_id), 30.0, "the broker to run")
    assert port is not None
    return deployment_id, port


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def live(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Live]:
    data_dir: Path = tmp_path_factory.mktemp("platform")
    low, high = _port_range()
    settings = Settings(data_dir=data_dir, broker_port_low=low, broker_port_high=high, key_cache_seconds=0.5)
    app = create_app(settings, shared=SharedSecrets("serverless-token-unused"))
    async with app.router.lifespan_context(app):
        deployment_id, port = await start_deployment(app, settings)
        runtime: BrokerRuntime = app.state.runtime
        with runtime.database.session() as session:
            created = keys.create_key(session, deployment_id=deployment_id)
            auth = (created.key.app_id, created.secret)
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://deployment.test") as client:
            try:
                yield Live(client, app, deployment_id, auth, port)
            finally:
                log = settings.brokers_dir / deployment_id / "broker.log"
                if log.exists():
                    print(log.read_text(errors="replace")[-5000:])


@dataclass
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    user_properties: list[tuple[str, str]] = field(default_factory=list)


class MqttClient:
    """A paho client (network loop in its own thread) whose events land in queues."""

    def __init__(
        self,
        port: int,
        clientid: str,
        username: str,
        password: str,
        *,
        version: int = 5,
        clean_start: bool = True,
        keepalive: int = 60,
    ) -> None:
        protocol = mqtt.MQTTv5 if version == 5 else mqtt.MQTTv311
        self.port = port
        self.version = version
        self.clean_start = clean_start
        self.keepalive = keepalive
        self.paho = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=clientid,
            protocol=protocol,
            clean_session=None if version == 5 else clean_start,
        )
        self.paho.username_pw_set(username, password)
        self.messages: queue.Queue[Received] = queue.Queue()
        self.subacks: queue.Queue[list[int]] = queue.Queue()
        self.connack: queue.Queue[int] = queue.Queue()
        self.disconnected = threading.Event()
        self.paho.on_connect = self._on_connect
        self.paho.on_message = self._on_message
        self.paho.on_subscribe = self._on_subscribe
        self.paho.on_disconnect = self._on_disconnect

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        self.connack.put(reason.value)

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        props = getattr(message, "properties", None)
        user_props = list(getattr(props, "UserProperty", []) or [])
        self.messages.put(
            Received(message.topic, bytes(message.payload), message.qos, bool(message.retain), user_props)
        )

    def _on_subscribe(self, _c: Any, _u: Any, _mid: int, codes: list[ReasonCode], _p: Any) -> None:
        self.subacks.put([c.value for c in codes])

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, _r: Any, _p: Any) -> None:
        self.disconnected.set()

    def connect(self) -> int:
        """Connect and return the CONNACK reason code (0 = accepted); stops the loop when refused."""
        if self.version == 5:
            self.paho.connect("127.0.0.1", self.port, keepalive=self.keepalive, clean_start=self.clean_start)
        else:
            self.paho.connect("127.0.0.1", self.port, keepalive=self.keepalive)
        self.paho.loop_start()
        code = self.connack.get(timeout=TIMEOUT)
        if code != 0:
            self.paho.loop_stop()
        return code

    def subscribe(self, topic: str, qos: int = 0) -> list[int]:
        self.paho.subscribe(topic, qos)
        return self.subacks.get(timeout=TIMEOUT)

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        info = self.paho.publish(topic, payload, qos, retain)
        if qos:
            info.wait_for_publish(TIMEOUT)

    def next_message(self, timeout: float = TIMEOUT) -> Received:
        return self.messages.get(timeout=timeout)

    def no_message(self, within: float = 0.5) -> bool:
        """True when nothing arrives within `within` s (used only to prove a denial)."""
        try:
            self.messages.get(timeout=within)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        paho_close.close(self.paho)


def user_properties(props: Properties | None) -> list[tuple[str, str]]:
    return list(getattr(props, "UserProperty", []) or [])


@pytest.fixture
def opened() -> Iterator[list[MqttClient]]:
    """The test's paho clients (append what it connects): closed at its end, passed or failed."""
    clients: list[MqttClient] = []
    yield clients
    for client in clients:
        client.close()
