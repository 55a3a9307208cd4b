"""Chaos: `serve` and a broker are killed with SIGKILL in a loop while Platform API and Deployment API
writes and MQTT QoS 1 traffic run; after the restarts nothing that was acknowledged is lost.

Counted: every write answered 2xx is readable afterwards, every message PUBACKed to the publisher
reaches the subscriber of a persistent session (clean start off, session expiry one hour), and `serve`
comes back on its port each time. A real `mqttcloud serve` on SQLite, its real broker, paho.
"""

import json
import os
import signal
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from tests.integration import paho_close
from tests.integration.control.harness import ServeProcess, poll, running_deployment

ROUNDS = ("broker", "serve", "both", "broker", "serve", "both")  # what each round kills with SIGKILL
TOPIC = "chaos/qos1"
USERS = "/api/v5/authentication/password_based:built_in_database/users"
MQTT_USER = ("chaos-mqtt", "chaos-password")  # a built-in user of the deployment


def broker_pid(serve: ServeProcess, deployment_id: str) -> int | None:
    """The live broker process of the deployment, from its ready file, or None."""
    try:
        ready = json.loads((serve.data_dir / "brokers" / deployment_id / "ready.json").read_text())
    except (OSError, ValueError):
        return None
    pid = ready.get("pid")
    return pid if isinstance(pid, int) and Path(f"/proc/{pid}").exists() else None


def kill_broker(serve: ServeProcess, deployment_id: str) -> int:
    pid = poll(lambda: broker_pid(serve, deployment_id), within=30, what="a running broker to kill")
    os.kill(pid, signal.SIGKILL)
    return pid


@dataclass
class Writes:
    """API writes from a thread; only those answered 2xx were acknowledged, and only they must last."""

    serve: ServeProcess
    admin: tuple[str, str]
    app_key: tuple[str, str]
    users: list[str] = field(default_factory=list)  # Deployment API: built-in users created
    deployments: list[str] = field(default_factory=list)  # Platform API: Serverless deployments created
    attempts: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def client(self) -> httpx.Client:
        """A new client per use: after a restart, the base URL is the same (same port)."""
        context = ssl.create_default_context(cafile=str(self.serve.ca_path))
        return httpx.Client(base_url=self.serve.base_url, verify=context, timeout=5.0)

    def run(self) -> None:
        while not self.stop.is_set():
            self.attempts += 1
            n = self.attempts
            try:
                with self.client() as client:
                    user = {"user_id": f"chaos-{n}", "password": "chaos-password"}
                    if client.post(USERS, json=user, auth=self.app_key).status_code == 201:
                        self.users.append(user["user_id"])
                    if n % 10 == 0:
                        body = {"projectID": "default", "deploymentType": "serverless"}
                        created = client.post("/public_api/v1/deployments", json=body, auth=self.admin)
                        if created.status_code == 201:
                            self.deployments.append(created.json()["deploymentID"])
            except httpx.HTTPError:
                time.sleep(0.2)  # serve is down: nothing was acknowledged


class Publisher:
    """QoS 1 messages, one every 10 ms; a message counts once its PUBACK arrived (paho resends the
    unacknowledged ones after reconnecting)."""

    def __init__(self, address: str) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="chaos-pub", protocol=mqtt.MQTTv5)
        self.client.username_pw_set(*MQTT_USER)
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        self.client.max_inflight_messages_set(100)
        self.sent: dict[int, bytes] = {}  # mid → payload
        self.acked_mids: set[int] = set()
        self.client.on_publish = self._on_publish
        self.stop = threading.Event()
        host, port = address.rsplit(":", 1)
        self.client.connect(host, int(port))
        self.client.loop_start()

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: Any, _props: Any) -> None:
        if not reason.is_failure:
            self.acked_mids.add(mid)

    def run(self) -> None:
        n = 0
        while not self.stop.is_set() and n < 60_000:  # mids stay unique (paho wraps at 65,535)
            n += 1
            info = self.client.publish(TOPIC, f"m-{n}".encode(), qos=1)
            self.sent[info.mid] = f"m-{n}".encode()
            time.sleep(0.01)

    def acked(self) -> set[bytes]:
        return {self.sent[mid] for mid in self.acked_mids if mid in self.sent}

    def close(self) -> None:
        paho_close.close(self.client)


class Subscriber:
    """A persistent session: clean start off, kept for an hour, resumed after every broker restart."""

    def __init__(self, address: str) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="chaos-sub", protocol=mqtt.MQTTv5)
        self.client.username_pw_set(*MQTT_USER)
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        self.received: set[bytes] = set()
        self.subscribed = threading.Event()
        self.client.on_message = lambda _c, _u, message: self.received.add(bytes(message.payload))
        self.client.on_subscribe = lambda *_args: self.subscribed.set()
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho has no annotation here
        properties.SessionExpiryInterval = 3600
        host, port = address.rsplit(":", 1)
        self.client.connect(host, int(port), clean_start=False, properties=properties)
        self.client.loop_start()
        self.client.subscribe(TOPIC, qos=1)
        assert self.subscribed.wait(10), "no SUBACK"

    def close(self) -> None:
        paho_close.close(self.client)


def status(client: httpx.Client, path: str, auth: tuple[str, str]) -> int:
    """GET's status, waiting out the Deployment API's rate limit (100 calls/s per deployment)."""
    while (response := client.get(path, auth=auth)).status_code == 429:
        time.sleep(float(response.headers.get("retry-after", "1")))
    return response.status_code


def test_kill_9_of_serve_and_broker_loses_no_acknowledged_write_or_message(
    start_serve: Callable[..., ServeProcess],
) -> None:
    serve = start_serve()
    serve.port = serve.bound_port
    admin = serve.create_key()
    with serve.client() as client:
        deployment_id = running_deployment(client, admin)
        address = client.get(f"/deployments/{deployment_id}", auth=admin).json()["endpoints"]["mqtt"]
    app_key = serve.create_deployment_key(deployment_id)
    writes = Writes(serve, admin, app_key)
    with writes.client() as client:
        user = {"user_id": MQTT_USER[0], "password": MQTT_USER[1]}
        assert client.post(USERS, json=user, auth=app_key).status_code == 201
    subscriber = Subscriber(address)
    publisher = Publisher(address)
    threads = [threading.Thread(target=writes.run), threading.Thread(target=publisher.run)]
    for thread in threads:
        thread.start()
    try:
        for round_ in ROUNDS:
            time.sleep(1.0)  # traffic and writes flow between kills
            killed = kill_broker(serve, deployment_id) if round_ in {"broker", "both"} else None
            if round_ in {"serve", "both"}:
                serve.kill()
                serve.start()  # `Address already in use` if anything kept the port
                assert serve.bound_port == serve.port
            if killed is not None:
                gone = {None, killed}
                poll(
                    lambda: broker_pid(serve, deployment_id) not in gone,  # noqa: B023  (polled at once)
                    within=30,
                    what=f"broker restarted after {round_}",
                )
    finally:
        writes.stop.set()
        publisher.stop.set()
        for thread in threads:
            thread.join(30)

    acked = publisher.acked()
    try:
        poll(lambda: acked <= subscriber.received, within=30, interval=0.5, what="every PUBACKed message")
    finally:
        lost = sorted(acked - subscriber.received, key=lambda p: int(p[2:]))
        print(f"PUBACKed but never delivered: {len(lost)} {lost[:20]}")
    subscriber.close()
    publisher.close()
    with writes.client() as client:
        lost_users = [u for u in writes.users if status(client, f"{USERS}/{u}", app_key) != 200]
        deployments = "/public_api/v1/deployments"
        lost_deployments = [
            d for d in writes.deployments if status(client, f"{deployments}/{d}", admin) != 200
        ]
    print(
        f"{len(ROUNDS)} rounds: {len(writes.users)}/{writes.attempts} user writes and "
        f"{len(writes.deployments)} deployment writes acknowledged, {len(acked)} messages PUBACKed, "
        f"{len(subscriber.received)} received"
    )
    assert lost_users == []
    assert lost_deployments == []
    assert len(writes.users) > len(ROUNDS)
    assert writes.deployments
    assert len(acked) > 100
