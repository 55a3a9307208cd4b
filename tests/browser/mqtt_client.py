"""A small paho-mqtt client for the browser tests: connects with a user, records messages and state."""

import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


class MqttClient:
    def __init__(self, client_id: str, username: str | None = None, password: str | None = None) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.subscribed = threading.Event()
        self.refused: int | None = None
        self.messages: list[tuple[str, bytes, int, bool]] = []
        self._lock = threading.Lock()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    def _on_connect(self, _c: Any, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self.refused = int(reason.value)
            self.disconnected.set()
        else:
            self.connected.set()

    def _on_disconnect(self, *_args: Any) -> None:
        self.disconnected.set()

    def _on_subscribe(self, *_args: Any) -> None:
        self.subscribed.set()

    def _on_message(self, _c: Any, _u: Any, message: Any) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload), message.qos, bool(message.retain)))

    def connect(self, address: str, *, timeout: float = 10.0) -> "MqttClient":
        """Connect and wait for CONNACK. Raises: AssertionError when refused or silent (client closed)."""
        host, port = address.rsplit(":", 1)
        self.client.reconnect_delay_set(60, 120)  # a kicked client must stay gone for the test to see it
        self.client.connect(host, int(port), keepalive=30)
        self.client.loop_start()
        deadline = time.monotonic() + timeout
        while not self.connected.is_set():
            if self.refused is not None or time.monotonic() >= deadline:
                self.close()
                raise AssertionError(f"MQTT connect to {address} failed (reason {self.refused})")
            self.connected.wait(0.05)
        return self

    def subscribe(self, topic: str, qos: int = 1, *, timeout: float = 10.0) -> None:
        self.client.subscribe(topic, qos)
        assert self.subscribed.wait(timeout), "SUBACK not received"

    def wait_message(self, topic: str, *, timeout: float = 10.0) -> tuple[str, bytes, int, bool]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for message in self.messages:
                    if message[0] == topic:
                        return message
            time.sleep(0.05)
        raise AssertionError(f"no message on {topic} within {timeout} s")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def connect_when_authorised(
    client_id: str, username: str, password: str, address: str, *, within: float = 15.0
) -> MqttClient:
    """Connect with a user just added in the console. The broker applies the new user list a moment after
    the page answered, so a refused CONNECT is retried with a fresh client until `within` seconds pass."""
    deadline = time.monotonic() + within
    while True:
        try:
            return MqttClient(client_id, username, password).connect(address)
        except AssertionError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)
