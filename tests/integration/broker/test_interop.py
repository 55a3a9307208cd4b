"""Interop with real clients: paho-mqtt 2.x (3.1.1 and 5) and Debian's mosquitto_pub/mosquitto_sub,
over TCP, WebSocket, TLS and WSS. Each client asks the broker fixture for its port (a cluster hands
out its nodes in turn: tests/integration/cluster/test_suites_on_nodes.py)."""

import queue
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from tests.certs import default_pki
from tests.integration import paho_close
from tests.integration.broker.harness import TENANT, TOKEN, BrokerProcess, listener, make_spec

from mqttcloud import contracts

TIMEOUT = 10.0
MOSQUITTO_PUB = shutil.which("mosquitto_pub")
MOSQUITTO_SUB = shutil.which("mosquitto_sub")


def interop_spec(directory: Path) -> contracts.BrokerSpec:
    """A broker with every listener kind (tcp, ws, tls, wss) and the test PKI's server certificate."""
    pki = default_pki()
    return make_spec(
        directory,
        listeners=[
            listener("tcp:default", "tcp"),
            listener("ws:default", "ws"),
            listener("ssl:default", "tls"),
            listener("wss:default", "wss"),
        ],
        tls=contracts.TlsSpec(cert_pem=pki.server_chain_pem, key_pem=pki.server.key_pem),
    )


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    directory = tmp_path_factory.mktemp("interop")
    spec = interop_spec(directory)
    proc = BrokerProcess(spec, directory)
    proc.start()
    yield proc
    proc.stop()
    print(proc.stderr()[-20000:])


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    path.write_text(default_pki().root.cert_pem)
    return path


TRANSPORTS: dict[str, tuple[str, Literal["tcp", "websockets"], bool]] = {
    "tcp": ("tcp:default", "tcp", False),
    "ws": ("ws:default", "websockets", False),
    "tls": ("ssl:default", "tcp", True),
    "wss": ("wss:default", "websockets", True),
}


class Paho:
    """A paho client with its network loop in a thread and its messages in a queue."""

    def __init__(self, broker: BrokerProcess, client_id: str, version: int, transport: str) -> None:
        name, paho_transport, secure = TRANSPORTS[transport]
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.result: dict[str, Any] = {}
        protocol = mqtt.MQTTv5 if version == 5 else mqtt.MQTTv311
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol, transport=paho_transport
        )
        if paho_transport == "websockets":
            c.ws_set_options(path="/mqtt")
        if secure:
            ctx = ssl.create_default_context(cadata=default_pki().root.cert_pem)
            c.tls_set_context(ctx)
        c.on_connect = self._on_connect
        c.on_message = lambda _c, _u, msg: self.messages.put(msg)
        c.on_subscribe = lambda *_a: self.subscribed.set()
        self.client = c
        c.connect("localhost" if secure else "127.0.0.1", broker.port(name), keepalive=30)
        c.loop_start()
        assert self.connected.wait(TIMEOUT), "no CONNACK"
        assert not self.result["reason"].is_failure, self.result

    def _on_connect(self, _c: mqtt.Client, _u: object, _flags: object, reason: Any, _props: object) -> None:
        self.result["reason"] = reason
        self.connected.set()

    def subscribe(self, topic: str, qos: int) -> None:
        self.subscribed.clear()
        self.client.subscribe(topic, qos)
        assert self.subscribed.wait(TIMEOUT), "no SUBACK"

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(TIMEOUT)
        assert info.is_published()

    def get(self) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=TIMEOUT)

    def close(self) -> None:
        paho_close.close(self.client)


@pytest.mark.parametrize("transport", ["tcp", "ws", "tls", "wss"])
@pytest.mark.parametrize("version", [4, 5])
def test_paho_pub_sub_all_qos(tls_broker: BrokerProcess, transport: str, version: int) -> None:
    tag = f"{transport}{version}"
    sub = Paho(tls_broker, f"sub-{tag}", version, transport)
    pub = Paho(tls_broker, f"pub-{tag}", version, transport)
    try:
        sub.subscribe(f"interop/{tag}/#", 2)
        for qos in (0, 1, 2):
            pub.publish(f"interop/{tag}/q{qos}", f"m{qos}".encode() * 100, qos)
            msg = sub.get()
            assert msg.topic == f"interop/{tag}/q{qos}"
            assert msg.payload == f"m{qos}".encode() * 100
            assert msg.qos == qos
    finally:
        sub.close()
        pub.close()


@pytest.mark.parametrize("version", [4, 5])
def test_paho_retained_message_reaches_late_subscriber(tls_broker: BrokerProcess, version: int) -> None:
    pub = Paho(tls_broker, f"rpub{version}", version, "tcp")
    pub.publish(f"retained/{version}", b"kept", 1, retain=True)
    pub.close()
    sub = Paho(tls_broker, f"rsub{version}", version, "ws")
    try:
        sub.subscribe(f"retained/{version}", 1)
        msg = sub.get()
        assert msg.payload == b"kept"
        assert msg.retain
    finally:
        sub.close()


def test_paho_large_payload_over_websocket(tls_broker: BrokerProcess) -> None:
    """A 200 KB payload spans many TCP segments and WebSocket reads."""
    sub = Paho(tls_broker, "big-sub", 5, "ws")
    pub = Paho(tls_broker, "big-pub", 5, "wss")
    try:
        sub.subscribe("big/#", 1)
        payload = bytes(range(256)) * 800
        pub.publish("big/1", payload, 1)
        assert sub.get().payload == payload
    finally:
        sub.close()
        pub.close()


def wait_for_subscription(broker: BrokerProcess, client_id: str) -> None:
    """Poll the admin channel until the client has a subscription (deadline TIMEOUT)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        answer = broker.admin_raw(
            {
                "id": 1,
                "token": TOKEN,
                "op": "client_subscriptions",
                "args": {"tenant": TENANT, "clientid": client_id},
            }
        )
        result = answer.get("result")
        if answer["ok"] and isinstance(result, dict) and result["count"]:
            return
        time.sleep(0.02)
    raise AssertionError(f"{client_id} did not subscribe within {TIMEOUT}s")


def _mosquitto_args(broker: BrokerProcess, secure: bool, ca_file: Path) -> list[str]:
    if secure:
        return ["-h", "localhost", "-p", str(broker.port("ssl:default")), "--cafile", str(ca_file)]
    return ["-h", "127.0.0.1", "-p", str(broker.port("tcp:default"))]


@pytest.mark.parametrize("secure", [False, True])
@pytest.mark.parametrize("version", ["mqttv31", "mqttv311", "mqttv5"])
def test_mosquitto_clients_pub_sub(
    tls_broker: BrokerProcess, ca_file: Path, secure: bool, version: str
) -> None:
    assert MOSQUITTO_SUB is not None, "mosquitto-clients missing: run scripts/setup.sh"
    assert MOSQUITTO_PUB is not None
    base = _mosquitto_args(tls_broker, secure, ca_file)  # the subscriber's; each publisher asks again
    topic = f"mosq/{version}/{int(secure)}"
    client_id = f"mosq-sub-{version}-{int(secure)}"
    sub = subprocess.Popen(
        [MOSQUITTO_SUB, *base, "-V", version, "-i", client_id, "-t", topic, "-q", "1", "-C", "3", "-v"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_subscription(tls_broker, client_id)
        for qos in ("0", "1", "2"):
            pub_base = _mosquitto_args(tls_broker, secure, ca_file)
            subprocess.run(
                [MOSQUITTO_PUB, *pub_base, "-V", version, "-t", topic, "-m", f"hello-q{qos}", "-q", qos],
                check=True,
                timeout=TIMEOUT,
            )
        out, err = sub.communicate(timeout=TIMEOUT)
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()
    received = [line for line in out.splitlines() if line.startswith(topic)]
    assert [line.split(" ", 1)[1].strip() for line in received] == ["hello-q0", "hello-q1", "hello-q2"], err
