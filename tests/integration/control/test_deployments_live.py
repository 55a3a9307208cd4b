"""Deployments are real: start/stop move listeners, TLS uploads are served and swapped live, and a
restarted platform brings its deployments back. A real `mqttcloud serve` with real broker processes and a
real MQTT client (paho-mqtt)."""

import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from tests.certs import Issued, make_intermediate, make_leaf, make_root_ca, pem_bundle, private_key
from tests.integration import paho_close
from tests.integration.control.harness import ServeProcess, poll


class Subscriber:
    """A paho client that records what it receives and whether it is connected."""

    def __init__(self, client_id: str, *, tls: ssl.SSLContext | None = None) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if tls is not None:
            self.client.tls_set_context(tls)
        self.messages: list[bytes] = []
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda _c, _u, message: self.messages.append(bytes(message.payload))

    def _on_connect(self, _c: Any, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if not reason.is_failure:
            self.connected.set()

    def _on_disconnect(self, *_args: Any) -> None:
        self.disconnected.set()

    def connect(self, address: str) -> "Subscriber":
        host, port = address.rsplit(":", 1)
        self.client.connect(host, int(port), keepalive=30)
        self.client.loop_start()
        assert self.connected.wait(10), "no CONNACK"
        return self

    def round_trip(self, topic: str, payload: bytes) -> None:
        self.client.subscribe(topic, qos=1)

        def delivered() -> bool:
            if payload not in self.messages:
                self.client.publish(topic, payload, qos=1)  # again: the first may beat the SUBACK
            return payload in self.messages

        poll(delivered, within=10, interval=0.3, what=f"{payload!r} delivered")

    def close(self) -> None:
        paho_close.close(self.client)


def deployment(client: httpx.Client, key: tuple[str, str], deployment_id: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/deployments/{deployment_id}", auth=key).json()
    return body


def wait_status(
    client: httpx.Client, key: tuple[str, str], deployment_id: str, status: str
) -> dict[str, Any]:
    return poll(
        lambda: (d := deployment(client, key, deployment_id))["status"] == status and d,
        within=30,
        what=f"{deployment_id} {status}",
    )


def create_running(serve: ServeProcess) -> tuple[httpx.Client, tuple[str, str], dict[str, Any]]:
    key = serve.create_key()
    client = serve.client()
    created = client.post("/deployments", json={"projectID": "default", "allowAnonymous": True}, auth=key)
    assert created.status_code == 201, created.text
    return client, key, wait_status(client, key, created.json()["deploymentID"], "running")


def refuses(address: str) -> bool:
    """True once nothing listens there; a reset (a listener closing with us in its backlog) polls again."""
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:
        return False
    return False


def chain(cn: str, index: int) -> tuple[Issued, str, str]:
    """A new root, and the `leaf + intermediate` PEM (SAN localhost, 127.0.0.1) and leaf key under it."""
    root = make_root_ca(f"{cn} root", key=private_key("ec256", 200 + index))
    intermediate = make_intermediate(root, f"{cn} intermediate", key=private_key("ec256", 210 + index))
    leaf = make_leaf(intermediate, cn, key=private_key("ec256", 220 + index))
    return root, pem_bundle(leaf, intermediate), leaf.key_pem


def trusting(root: Issued) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=root.cert_pem)


def served_certificate(address: str, context: ssl.SSLContext) -> str:
    host, port = address.rsplit(":", 1)
    with (
        socket.create_connection((host, int(port)), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        cert = tls.getpeercert()
        assert cert is not None
        subject = dict(item[0] for item in cert["subject"])  # type: ignore[misc]  # ssl's nested tuple shape
        return str(subject["commonName"])


def test_start_and_stop_open_and_close_real_listeners(start_serve: Callable[..., ServeProcess]) -> None:
    serve = start_serve()
    client, key, running = create_running(serve)
    deployment_id, address = running["deploymentID"], running["endpoints"]["mqtt"]
    subscriber = Subscriber("live-1").connect(address)
    subscriber.round_trip("t/live", b"hello")
    subscriber.close()

    stop = client.post(f"/deployments/{deployment_id}/stop", auth=key)
    assert stop.json()["operation"] == "stopping"
    wait_status(client, key, deployment_id, "stopped")
    assert refuses(address)
    assert refuses(running["endpoints"]["ws"])
    with pytest.raises(ConnectionRefusedError):
        Subscriber("live-2").connect(address)

    assert client.post(f"/deployments/{deployment_id}/start", auth=key).status_code == 201
    again = wait_status(client, key, deployment_id, "running")
    assert again["endpoints"] == running["endpoints"]  # ports are stable
    Subscriber("live-3").connect(address).close()
    client.close()


def test_tls_upload_is_served_and_swapped_without_dropping_clients(
    start_serve: Callable[..., ServeProcess],
) -> None:
    serve = start_serve()
    client, key, running = create_running(serve)
    deployment_id = running["deploymentID"]
    url = f"/deployments/{deployment_id}/tls"
    first_root, first_chain, first_key = chain("first.localhost", 1)
    response = client.post(url, json={"tlsType": "one-way", "cert": first_chain, "key": first_key}, auth=key)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "pending"
    poll(
        lambda: client.get(url, auth=key).json()["status"] == "running", within=30, what="certificate running"
    )
    mqtts = deployment(client, key, deployment_id)["endpoints"]["mqtts"]
    assert mqtts is not None
    assert served_certificate(mqtts, trusting(first_root)) == "first.localhost"
    wss = deployment(client, key, deployment_id)["endpoints"]["wss"]
    assert served_certificate(wss, trusting(first_root)) == "first.localhost"

    stays = Subscriber("tls-stays", tls=trusting(first_root)).connect(mqtts)
    stays.round_trip("t/tls", b"before")

    second_root, second_chain, second_key = chain("second.localhost", 2)
    swap = client.put(url, json={"tlsType": "one-way", "cert": second_chain, "key": second_key}, auth=key)
    assert swap.status_code == 200, swap.text
    poll(
        lambda: client.get(url, auth=key).json()["status"] == "running",
        within=30,
        what="new certificate running",
    )
    assert served_certificate(mqtts, trusting(second_root)) == "second.localhost"
    assert served_certificate(wss, trusting(second_root)) == "second.localhost"
    assert not stays.disconnected.is_set()
    stays.round_trip("t/tls", b"after")  # the connection from before the swap still works

    assert client.delete(url, auth=key).status_code == 204
    poll(lambda: refuses(mqtts) and refuses(wss), within=30, what="TLS and WSS listeners closed")
    assert stays.disconnected.wait(10)
    stays.close()
    client.close()


def test_restarted_platform_brings_running_deployments_back(
    start_serve: Callable[..., ServeProcess], backend: str
) -> None:
    serve = start_serve(backend)
    client, key, running = create_running(serve)
    client.close()
    other_client, _other_key, other = create_running(serve)
    other_client.close()
    stopped_id = other["deploymentID"]
    with serve.client() as second:
        second.post(f"/deployments/{stopped_id}/stop", auth=key)
        wait_status(second, key, stopped_id, "stopped")
    assert serve.stop() == 0
    assert refuses(running["endpoints"]["mqtt"])  # the brokers stop with the platform

    serve.start()
    with serve.client() as client:
        again = wait_status(client, key, running["deploymentID"], "running")
        assert again["endpoints"] == running["endpoints"]
        Subscriber("after-restart").connect(again["endpoints"]["mqtt"]).close()
        assert deployment(client, key, stopped_id)["status"] == "stopped"


def test_serverless_deployment_is_served_by_sni_on_the_shared_broker(
    start_serve: Callable[..., ServeProcess],
) -> None:
    serve = start_serve()
    key = serve.create_key()
    with serve.client() as client:
        created = client.post(
            "/deployments", json={"projectID": "default", "deploymentType": "serverless"}, auth=key
        )
        deployment_id = created.json()["deploymentID"]
        running = wait_status(client, key, deployment_id, "running")
    host, port = running["endpoints"]["mqtts"].rsplit(":", 1)
    assert host == f"{deployment_id}.serverless.localhost"
    assert running["endpoints"]["mqtt"] is None
    context = ssl.create_default_context(cafile=str(serve.ca_path))  # the platform CA signs the wildcard
    with (
        socket.create_connection(("127.0.0.1", int(port)), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        assert tls.version() in {"TLSv1.2", "TLSv1.3"}
