"""Real clients on the shared Serverless listener: paho-mqtt over TLS and over WSS with SNI, the CA they
trust downloaded from the platform, and the v5 Deployment API seeing only its own tenant's clients."""

import queue
import ssl
import threading
from collections.abc import Iterator
from typing import Any, Literal

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from tests.integration import paho_close
from tests.integration.broker import mqtt_wire as w
from tests.integration.serverless.conftest import PASSWORD, TIMEOUT, RunningPlatform
from tests.integration.serverless.wire import connect, open_tls


class SniContext(ssl.SSLContext):
    """A client context that presents `sni` whatever host paho dialled (127.0.0.1: names need not resolve).

    paho wraps its socket with `server_hostname=<the host it connected to>`; this context swaps in the
    deployment's host name, which is also the name the certificate is checked against.
    """

    sni = ""

    def wrap_socket(self, sock: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs["server_hostname"] = self.sni
        return super().wrap_socket(sock, *args, **kwargs)


def sni_context(ca_pem: str, sni: str) -> SniContext:
    ctx = SniContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=ca_pem)
    ctx.sni = sni
    return ctx


class Paho:
    """A paho 2.x client (MQTT 5) with its network loop in a thread and its messages in a queue."""

    def __init__(self, client_id: str, transport: Literal["tcp", "websockets"], ctx: ssl.SSLContext) -> None:
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.reason: Any = None
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, transport=transport
        )
        if transport == "websockets":
            c.ws_set_options(path="/mqtt")
        c.tls_set_context(ctx)
        c.username_pw_set("alice", PASSWORD)
        c.on_connect = self._on_connect
        c.on_subscribe = lambda *_args: self.subscribed.set()
        c.on_message = lambda _c, _u, msg: self.messages.put(msg)
        self.client = c

    def _on_connect(self, _c: Any, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        self.reason = reason
        self.connected.set()

    def start(self, port: int) -> None:
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        assert self.connected.wait(TIMEOUT), "no CONNACK"
        assert not self.reason.is_failure, self.reason

    def stop(self) -> None:
        paho_close.close(self.client)


@pytest.fixture(scope="module")
def two_tenants(platform: RunningPlatform) -> tuple[str, str]:
    return platform.create_serverless(), platform.create_serverless()


@pytest.fixture
def pahos() -> Iterator[list[Paho]]:
    started: list[Paho] = []
    yield started
    for client in started:
        client.stop()


@pytest.mark.parametrize(("transport", "listener"), [("tcp", "mqtts"), ("websockets", "wss")])
def test_paho_with_sni_over_tls_and_wss_sees_only_its_tenant(
    platform: RunningPlatform,
    two_tenants: tuple[str, str],
    pahos: list[Paho],
    transport: Literal["tcp", "websockets"],
    listener: str,
) -> None:
    port = platform.mqtts_port if listener == "mqtts" else platform.wss_port
    a, b = two_tenants
    ca = platform.download_ca()
    clients = {}
    for deployment_id in (a, b):
        client = Paho("paho-dev", transport, sni_context(ca, platform.host(deployment_id)))
        client.start(port)
        pahos.append(client)
        client.client.subscribe("paho/+/temp", qos=1)
        assert client.subscribed.wait(TIMEOUT)
        clients[deployment_id] = client
    for deployment_id, client in clients.items():
        client.client.publish("paho/x/temp", f"from {deployment_id}".encode(), qos=1)
    for deployment_id, client in clients.items():
        message = client.messages.get(timeout=TIMEOUT)
        assert message.payload == f"from {deployment_id}".encode()
    for client in clients.values():
        with pytest.raises(queue.Empty):
            client.messages.get(timeout=0.3)


def test_ca_is_downloadable_from_the_api_and_the_console_link(platform: RunningPlatform) -> None:
    for path in ("/public_api/v1/serverless/emqxsl-ca.crt", "/emqxsl-ca.crt"):
        response = platform.run(platform.client.get(path))  # public, like EMQX's emqxsl-ca.crt
        assert response.status_code == 200, response.text
        assert response.text == platform.ca_pem
        assert response.headers["content-type"].startswith("application/x-pem-file")
        assert 'filename="emqxsl-ca.crt"' in response.headers["content-disposition"]


def test_downloaded_ca_verifies_the_shared_listener(
    platform: RunningPlatform, two_tenants: tuple[str, str]
) -> None:
    ctx = ssl.create_default_context(cadata=platform.download_ca())
    client = open_tls(platform.mqtts_port, ctx, platform.host(two_tenants[0]))
    with client:
        assert connect(client, "ca-check", username="alice", password=PASSWORD) == 0


def test_v5_deployment_api_lists_only_its_own_clients(
    platform: RunningPlatform, two_tenants: tuple[str, str]
) -> None:
    a, b = two_tenants
    opened: list[w.Client] = []
    try:
        for deployment_id, client_id in ((a, "api-a"), (b, "api-b"), (b, "api-a")):
            client = open_tls(platform.mqtts_port, platform.tls_context(), platform.host(deployment_id))
            opened.append(client)
            assert connect(client, client_id, username="alice", password=PASSWORD) == 0
        listed_a = platform.deployment_api(a, "GET", "/clients")
        listed_b = platform.deployment_api(b, "GET", "/clients")
        assert listed_a.status_code == 200, listed_a.text
        ids_a = sorted(c["clientid"] for c in listed_a.json()["data"] if c["clientid"].startswith("api-"))
        ids_b = sorted(c["clientid"] for c in listed_b.json()["data"] if c["clientid"].startswith("api-"))
        assert ids_a == ["api-a"]
        assert ids_b == ["api-a", "api-b"]
        sni_a = [c.get("peersni") for c in listed_a.json()["data"] if c["clientid"] == "api-a"]
        assert sni_a == [platform.host(a)]
    finally:
        for client in opened:
            client.close()


def test_paho_over_wss_with_unknown_sni_is_refused_with_server_unavailable(
    platform: RunningPlatform, pahos: list[Paho]
) -> None:
    client = Paho("nobody", "websockets", sni_context(platform.ca_pem, platform.host("zz000000")))
    client.client.connect("127.0.0.1", platform.wss_port, keepalive=30)
    client.client.loop_start()
    pahos.append(client)
    assert client.connected.wait(TIMEOUT), "no CONNACK"
    assert client.reason.is_failure
    assert client.reason.value == 0x88  # Server unavailable: no deployment has this host name
