"""Test doubles that are real: an HTTP server on 127.0.0.1 recording requests, and a threaded paho client."""

import http.server
import json
import queue
import socket
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from tests.integration import paho_close

TIMEOUT = 10.0


def free_port() -> int:
    """A port nothing listens on right now (the kernel's pick, released at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Request:
    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookServer:
    """`http.server` in a thread; every request lands in `requests`; `status` is what it answers."""

    def __init__(self, port: int = 0) -> None:
        self.requests: queue.Queue[Request] = queue.Queue()
        self.status = 200
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real webhook target

            def _handle(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                owner.requests.put(Request(self.command, self.path, headers, body))
                self.send_response(owner.status)
                self.send_header("content-length", "0")
                self.end_headers()

            do_POST = do_PUT = do_GET = do_DELETE = _handle  # noqa: N815  (http.server's names)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port: int = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, timeout: float = TIMEOUT) -> Request:
        return self.requests.get(timeout=timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(TIMEOUT)


class Paho:
    """A paho 2.x client (MQTT 5) with its network loop in a thread and its messages in a queue."""

    def __init__(self, port: int, client_id: str, *, username: str | None = None, version: int = 5) -> None:
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        protocol = mqtt.MQTTv5 if version == 5 else mqtt.MQTTv311
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
        if username is not None:
            c.username_pw_set(username)
        c.on_connect = lambda *_a: self.connected.set()
        c.on_message = lambda _c, _u, msg: self.messages.put(msg)
        c.on_subscribe = lambda *_a: self.subscribed.set()
        self.client = c
        c.connect("127.0.0.1", port, keepalive=30)
        c.loop_start()
        assert self.connected.wait(TIMEOUT), "no CONNACK"

    def subscribe(self, topic: str, qos: int = 0) -> None:
        self.subscribed.clear()
        self.client.subscribe(topic, qos)
        assert self.subscribed.wait(TIMEOUT), "no SUBACK"

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        info = self.client.publish(topic, payload, qos=qos)
        info.wait_for_publish(TIMEOUT)

    def get(self, timeout: float = TIMEOUT) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=timeout)

    def close(self) -> None:
        paho_close.close(self.client)
